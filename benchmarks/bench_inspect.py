"""Whole-process timings of ``onnxinspect --format json`` against the baselines.

Every tool runs as a fresh process (interpreter start and imports included, as a user
sees it), several times; the best wall time and the peak RSS are kept, and every row
is printed as a ratio to ``onnx.load`` + ``onnx.shape_inference.infer_shapes`` measured
in the same run.  onnx-tool and Polygraphy are timed when installed.

    python benchmarks/bench_inspect.py                 # U-Net, ResNet-50, 20k and 100k nodes
    python benchmarks/bench_inspect.py --models unet synthetic20k --repeat 5
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time

import models

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
ONNXINSPECT = shutil.which("onnxinspect") or os.path.join(os.path.dirname(PY), "onnxinspect")

TOOLS = {
    "onnx.load": [PY, "-c", "import onnx, sys; onnx.load(sys.argv[1])"],
    "load+infer_shapes": [PY, "-c", "import onnx, sys; onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1]))"],
    "onnxinspect": [ONNXINSPECT, "--format", "json"],
    "onnx-tool": [PY, os.path.join(HERE, "run_onnx_tool.py")],
    "polygraphy": [shutil.which("polygraphy") or os.path.join(os.path.dirname(PY), "polygraphy"),
                   "inspect", "model"],
}
OPTIONAL = {"onnx-tool": "onnx_tool", "polygraphy": "polygraphy"}

MODELS = {
    "unet": models.unet,
    "resnet50": models.resnet50,
    "synthetic20k": lambda: models.synthetic(20_000),
    "synthetic100k": lambda: models.synthetic(100_000),
}


def run_once(cmd, path):
    """Wall seconds and peak RSS (MiB) of one process; output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd + [path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, proc.returncode


def measure(cmd, path, repeat):
    runs = [run_once(cmd, path) for _ in range(repeat)]
    ok = all(rc == 0 for _, _, rc in runs)
    return min(t for t, _, _ in runs), max(m for _, m, _ in runs), ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    tools = [t for t in TOOLS if t not in OPTIONAL or importlib.util.find_spec(OPTIONAL[t])]
    print(f"{'model':<14} {'MB':>7} {'tool':<18} {'best s':>8} {'peak MiB':>9} {'x load+infer':>13} {'x load':>7}")
    for name in args.models:
        try:
            path = MODELS[name]()
        except ImportError as exc:
            print(f"{name:<14} skipped: {exc}")
            continue
        if not os.path.exists(path):
            print(f"{name:<14} skipped: {path} missing")
            continue
        size = os.path.getsize(path) / 1e6
        results = {tool: measure(TOOLS[tool], path, args.repeat) for tool in tools}
        base = results["load+infer_shapes"][0]
        floor = results["onnx.load"][0]
        for tool, (seconds, rss, ok) in results.items():
            flag = "" if ok else "  (failed)"
            print(f"{name:<14} {size:>7.1f} {tool:<18} {seconds:>8.3f} {rss:>9.1f} "
                  f"{seconds / base:>13.2f} {seconds / floor:>7.2f}{flag}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
