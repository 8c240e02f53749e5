"""Whole-process timings of ``onnxinspect MODEL --format json`` against the baselines.

Every tool runs as a fresh process (interpreter start and imports included, as a user
sees it), several times; the best time and the peak RSS are kept, and every row is
printed as a ratio to ``onnx.load`` + ``onnx.shape_inference.infer_shapes`` measured in
the same run.  onnx-tool and Polygraphy are timed when installed; a tool still running
after ``--timeout`` seconds is stopped and shown as "> N s".  A Markdown table of the
ratios (for the README) is printed at the end.

Models: the U-Net fixture, Keras ResNet-50 (tf2onnx), synthetic Conv/Relu/Add chains of
20k and 100k nodes, and the weight-bytes pair ``weights8`` / ``weights64``: the same
2,000-node graph with 8- or 64-channel convolutions (1.5 MB vs 98 MB of embedded
weights), whose time and RSS should not grow for onnxinspect (payloads are skipped).

    python benchmarks/bench_inspect.py                 # every model
    python benchmarks/bench_inspect.py --models unet synthetic20k --repeat 5
    python benchmarks/bench_inspect.py --models weights8 weights64 --clock cpu

``--clock cpu`` ranks by user+system CPU seconds instead of wall time: steadier on a
shared machine (numpy's thread pool start-up adds a little CPU to every tool).  Models
are built in a child process, so that this process stays small: on Linux a child's peak
RSS starts at its parent's.  onnxinspect's bytecode is compiled first, as ``pip install``
does: with PYTHONDONTWRITEBYTECODE=1 an editable checkout would otherwise compile every
module on every run (35 ms), which the baselines, installed packages, never pay.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
ONNXINSPECT = shutil.which("onnxinspect") or os.path.join(os.path.dirname(PY), "onnxinspect")
POLYGRAPHY = shutil.which("polygraphy") or os.path.join(os.path.dirname(PY), "polygraphy")
BASE = "load+infer_shapes"

# tool -> command; "{}" is the model path
TOOLS = {
    "onnx.load": [PY, "-c", "import onnx, sys; onnx.load(sys.argv[1])", "{}"],
    BASE: [PY, "-c", "import onnx, sys; onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1]))", "{}"],
    "onnxinspect": [ONNXINSPECT, "{}", "--format", "json"],
    "onnx-tool": [PY, os.path.join(HERE, "run_onnx_tool.py"), "{}"],
    "polygraphy": [POLYGRAPHY, "inspect", "model", "{}"],
}
OPTIONAL = {"onnx-tool": "onnx_tool", "polygraphy": "polygraphy"}

# model -> expression (evaluated in a child process with ``models`` imported) giving its path
MODELS = {
    "unet": "models.unet()",
    "resnet50": "models.resnet50()",
    "synthetic20k": "models.synthetic(20_000)",
    "synthetic100k": "models.synthetic(100_000)",
    "weights8": "models.synthetic(2_000, channels=8)",
    "weights64": "models.synthetic(2_000, channels=64)",
}


def compile_package() -> None:
    spec = importlib.util.find_spec("onnxinspect")
    if spec is not None and spec.submodule_search_locations:
        subprocess.run([PY, "-m", "compileall", "-q", *spec.submodule_search_locations],
                       stdout=subprocess.DEVNULL, check=False)


def build(name: str) -> str:
    """The model's path, generating it (cached) in a child process."""
    proc = subprocess.run([PY, "-c", f"import models; print({MODELS[name]})"], cwd=HERE,
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["failed"])[-1])
    return proc.stdout.strip().splitlines()[-1]


def run_once(cmd, path, timeout):
    """(wall s, cpu s, peak RSS MiB, ok) of one process, or None past ``timeout``."""
    start = time.perf_counter()
    proc = subprocess.Popen([path if part == "{}" else part for part in cmd],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timed_out = not timer.is_alive()
        timer.cancel()
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if timed_out:
        return None
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode == 0


def measure(cmd, path, repeat, timeout):
    """Best wall and CPU time, highest peak RSS; None when a run timed out."""
    runs = []
    for _ in range(repeat):
        run = run_once(cmd, path, timeout)
        if run is None:
            return None
        runs.append(run)
    return {"wall": min(r[0] for r in runs), "cpu": min(r[1] for r in runs),
            "rss": max(r[2] for r in runs), "ok": all(r[3] for r in runs)}


def markdown(table, tools, clock, timeout) -> str:
    """One row per model: every tool's time as a ratio to load+infer_shapes."""
    lines = [f"| model | MB | {BASE} ({clock} s) | " + " | ".join(f"{t} (x)" for t in tools if t != BASE) + " |",
             "|---" * (len(tools) + 2) + "|"]
    for name, (size, results) in table.items():
        base = results[BASE][clock]
        cells = []
        for tool in tools:
            if tool == BASE:
                continue
            r = results[tool]
            if r is None:
                cells.append(f"> {timeout:g} s")
            else:
                cells.append(f"{r[clock] / base:.2f} ({r[clock]:.2f} s, {r['rss']:.0f} MiB)"
                             + ("" if r["ok"] else " failed"))
        lines.append(f"| {name} | {size:.1f} | {base:.3f} ({results[BASE]['rss']:.0f} MiB) | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120, help="seconds per run before a tool is stopped")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="what the ratios compare")
    args = parser.parse_args(argv)

    compile_package()
    tools = [t for t in TOOLS if (t in args.tools or t in ("onnx.load", BASE))
             and (t not in OPTIONAL or importlib.util.find_spec(OPTIONAL[t]))]
    print(f"{'model':<14} {'MB':>7} {'tool':<18} {'wall s':>8} {'cpu s':>7} {'peak MiB':>9} "
          f"{'x load+infer':>13} {'x load':>7}   (ratios: {args.clock})")
    table = {}
    for name in args.models:
        try:
            path = build(name)
        except RuntimeError as exc:
            print(f"{name:<14} skipped: {exc}")
            continue
        size = os.path.getsize(path) / 1e6
        results = {}
        for tool in tools:
            results[tool] = r = measure(TOOLS[tool], path, args.repeat, args.timeout)
            if r is None:
                print(f"{name:<14} {size:>7.1f} {tool:<18} {'> ' + format(args.timeout, 'g') + ' s':>8}")
                continue
            base, floor = results.get(BASE), results.get("onnx.load")
            ratios = "" if base is None or floor is None else (f"{r[args.clock] / base[args.clock]:>13.2f} "
                                              f"{r[args.clock] / floor[args.clock]:>7.2f}")
            print(f"{name:<14} {size:>7.1f} {tool:<18} {r['wall']:>8.3f} {r['cpu']:>7.3f} {r['rss']:>9.1f} "
                  f"{ratios}{'' if r['ok'] else '  (failed)'}")
            sys.stdout.flush()
        table[name] = (size, results)
    print()
    print(markdown(table, tools, args.clock, args.timeout))


if __name__ == "__main__":
    main()
