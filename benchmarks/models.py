"""Models the benchmarks run on, generated into a cache folder on first use.

- ``synthetic(n)``: a chain of Conv -> Relu -> Add (residual) blocks with small
  weights, about ``n`` nodes, dynamic batch: a graph that is large but cheap to load.
  ``synthetic(n, channels=64)`` is the same graph with 64x more weight bytes (the
  weight-bytes scaling benchmark).
- ``resnet50()``: Keras' ResNet-50 (random weights, seed 0) exported with tf2onnx,
  ~100 MB of embedded weights; needs the ``export`` extra.
- ``unet()``: the committed fixture ``fixtures/unet.onnx``.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("ONNXINSPECT_BENCH_CACHE", os.path.join(ROOT, "benchmarks", ".cache"))


def _cached(name: str) -> str:
    os.makedirs(CACHE, exist_ok=True)
    return os.path.join(CACHE, name)


def synthetic(nodes: int, channels: int = 8) -> str:
    """About ``nodes`` nodes: blocks of Conv(3x3, ``channels`` ch) -> Relu -> Add(skip)."""
    path = _cached(f"synthetic_{nodes}.onnx" if channels == 8 else f"synthetic_{nodes}_c{channels}.onnx")
    if os.path.exists(path):
        return path
    rng = np.random.default_rng(0)
    graph_nodes, inits = [], []
    current = "x"
    for block in range(max(nodes // 3, 1)):
        w = f"w{block}"
        inits.append(numpy_helper.from_array(
            rng.standard_normal((channels, channels, 3, 3)).astype(np.float32), w))
        graph_nodes += [
            helper.make_node("Conv", [current, w], [f"c{block}"], pads=[1, 1, 1, 1], name=f"conv{block}"),
            helper.make_node("Relu", [f"c{block}"], [f"r{block}"], name=f"relu{block}"),
            helper.make_node("Add", [f"r{block}", current], [f"a{block}"], name=f"add{block}"),
        ]
        current = f"a{block}"
    graph = helper.make_graph(
        graph_nodes, "synthetic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", channels, 32, 32])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


def resnet50() -> str:
    path = _cached("resnet50.onnx")
    if os.path.exists(path):
        return path
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import tf2onnx

    tf.keras.utils.set_random_seed(0)
    model = tf.keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
    spec = [tf.TensorSpec((None, 224, 224, 3), tf.float32, name="input")]
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=path)
    return path


def unet() -> str:
    return os.path.join(ROOT, "fixtures", "unet.onnx")
