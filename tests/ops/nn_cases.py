"""Model builders for the neural-network rule tests; the checking routine is
``truth.check`` (onnxruntime's actual shapes, onnx.shape_inference's shapes and dtypes,
our symbolic answer substituted with the same values)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper
from truth import check, make_model, node_of  # noqa: F401  (re-exported for the tests)


def init(name: str, shape, dtype=np.float32, seed: int = 1, low: int = -3, high: int = 3):
    """A random initializer (integers for integer dtypes)."""
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.floating):
        value = rng.standard_normal(shape).astype(dtype)
    else:
        value = rng.integers(low, high, shape).astype(dtype)
    return numpy_helper.from_array(value, name)


def build(nodes, inputs, initializers=(), opset=17, domains=None):
    """A model whose graph output is the last node's first output, its type left to inference."""
    model = make_model(nodes, inputs, [], initializers, opset=opset, domains=domains)
    model.graph.output.append(onnx.ValueInfoProto(name=nodes[-1].output[0]))
    return model


F = TensorProto.FLOAT
