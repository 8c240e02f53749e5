"""``--check`` runs onnx.shape_inference on a weight-stripped copy: how much that saves.

The model is the onnx wheel's light ResNet-50 with its ConstantOfShape weights turned
into embedded initializers (~98 MiB, the real ResNet-50's size), written to a temporary
directory.  Printed: best-of-N seconds of infer_shapes(data_prop=True) on the full
model vs. on the stripped copy (stripping included), and of the whole ``--check``
comparison from the file vs. ``onnx.load`` + ``infer_shapes``.

    python benchmarks/check_strip.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

from onnxinspect import inspect_model
from onnxinspect.analyse.check import compare_with_onnx
from onnxinspect.load.payload import strip_model

LIGHT_RESNET = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light",
                            "light_resnet50.onnx")


def resnet50_with_weights() -> onnx.ModelProto:
    """light_resnet50 with every ConstantOfShape weight stored as an initializer."""
    model = onnx.load(LIGHT_RESNET)
    shapes = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    kept = []
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in shapes:
            dims = [int(d) for d in shapes[node.input[0]]]
            model.graph.initializer.append(
                numpy_helper.from_array(np.full(dims, 0.01, np.float32), node.output[0]))
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    used = {name for node in kept for name in node.input}
    keep_init = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep_init)
    return model


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    infer = lambda m: onnx.shape_inference.infer_shapes(m, data_prop=True)  # noqa: E731
    model = resnet50_with_weights()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "resnet50.onnx")
        onnx.save(model, path)
        size = os.path.getsize(path) / 2**20
        full = best(lambda: infer(model), args.repeat)
        stripped = best(lambda: infer(strip_model(model)), args.repeat)
        report = inspect_model(path)
        naive = best(lambda: infer(onnx.load(path)), args.repeat)
        ours = best(lambda: compare_with_onnx(report, path), args.repeat)
    print(f"ResNet-50, {size:,.1f} MiB embedded weights, {len(model.graph.node)} nodes")
    print(f"  infer_shapes(full model)              {full * 1000:8.1f} ms")
    print(f"  strip + infer_shapes(stripped copy)   {stripped * 1000:8.1f} ms   x{full / stripped:.1f} faster")
    print(f"  onnx.load + infer_shapes (from file)  {naive * 1000:8.1f} ms")
    print(f"  compare_with_onnx(report, file)       {ours * 1000:8.1f} ms   x{naive / ours:.1f} faster")


if __name__ == "__main__":
    main()
