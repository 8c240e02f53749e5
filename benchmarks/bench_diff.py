"""How much ``onnxinspect diff A B`` costs over inspecting A and B: the budget is 2x.

Two ~20,000-node synthetic models (benchmarks/models.py): the Conv/Relu/Add chain, and
the same chain re-exported with every node renamed and one conv widened, so that the
matching runs all its passes (name, structure, position) instead of the first alone.
Each step is timed in this process, best of ``--repeat``, then the same as fresh
``onnxinspect`` processes (what a CI job pays):

- inspect: ``inspect_model`` on both models (what `onnxinspect A; onnxinspect B` does);
- diff:    the same two inspections (with layers for --by layer), ``to_dict()`` of both reports,
           ``diff_reports`` and rendering the table (what `onnxinspect diff A B` does).

    python benchmarks/bench_diff.py                 # 20,000 nodes, --by node and --by layer
    python benchmarks/bench_diff.py --nodes 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import models  # noqa: E402


def renumbered(nodes: int) -> str:
    """The synthetic chain with every node renamed (counting down) and one node more:
    a 1x1 Conv after block 10's conv."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    path = models._cached(f"synthetic_{nodes}_renumbered.onnx")
    if os.path.exists(path):
        return path
    model = onnx.load(models.synthetic(nodes))
    graph = model.graph
    count = len(graph.node)
    for k, node in enumerate(graph.node):
        node.name = f"n{count - k}"
    # One more node in the middle: a 1x1 conv after block 10's conv.
    conv = next(n for n in graph.node if n.output[0] == "c10")
    conv.output[0] = "c10_pre"
    graph.initializer.append(numpy_helper.from_array(np.eye(8, dtype=np.float32).reshape(8, 8, 1, 1), "proj"))
    position = list(graph.node).index(conv) + 1
    graph.node.insert(position, helper.make_node("Conv", ["c10_pre", "proj"], ["c10"], name="proj"))
    onnx.save(model, path)
    return path


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from onnxinspect import inspect_model
    from onnxinspect.api import gc_paused
    from onnxinspect.diff import diff_reports
    from onnxinspect.render.diff import render_diff

    a, b = models.synthetic(args.nodes), renumbered(args.nodes)
    inspect_model(a)   # warm the imports and the page cache

    def inspect_both() -> None:
        inspect_model(a)
        inspect_model(b)

    inspect_time = best(inspect_both, args.repeat)
    print(f"models: {os.path.basename(a)} vs {os.path.basename(b)}")
    print(f"inspect both:          {inspect_time:7.3f} s")
    worst = 0.0
    for by in ("node", "layer"):
        result: dict = {}

        def diff(by: str = by, result: dict = result) -> None:
            with gc_paused():   # as the CLI does
                ra = inspect_model(a, layers=by == "layer").to_dict()
                rb = inspect_model(b, layers=by == "layer").to_dict()
                result["diff"] = d = diff_reports(ra, rb, by=by)
                render_diff(d, "table")

        diff_time = best(diff, args.repeat)
        d = result["diff"]
        ratio = diff_time / inspect_time
        worst = max(worst, ratio)
        summary = ", ".join(f"{d.count(s)} {s}" for s in ("unchanged", "renamed", "changed", "added", "removed"))
        print(f"diff --by {by:<5}:        {diff_time:7.3f} s  ratio {ratio:.2f}x  ({summary})")
    print(f"worst in-process ratio: {worst:.2f}x (budget 2.00x)")

    # As a user runs it: fresh processes, interpreter start and output included.
    exe = shutil.which("onnxinspect") or os.path.join(os.path.dirname(sys.executable), "onnxinspect")

    def cli(*argv: str) -> float:
        def call() -> None:
            subprocess.run([exe, *argv], check=False, stdout=subprocess.DEVNULL)
        return best(call, args.repeat)

    both = cli(a, "--format", "json") + cli(b, "--format", "json")
    print(f"CLI: onnxinspect A --format json + onnxinspect B --format json: {both:7.3f} s")
    for by in ("node", "layer"):
        t = cli("diff", a, b, "--by", by)
        print(f"CLI: onnxinspect diff A B --by {by:<5}: {t:7.3f} s  ratio {t / both:.2f}x")


if __name__ == "__main__":
    main()
