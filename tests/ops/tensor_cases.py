"""Checking routine for the tensor / shape / reduction rule tests: build a small model,
inspect it, run it on onnxruntime with every tensor exposed, and compare each output's
shape with ORT's actual one (symbolic dims substituted) and with onnx.shape_inference.

Dims that depend on the data (NonZero's count, Unique's size) may stay unknown in our
report; they are listed per case in ``data_dependent``."""

from __future__ import annotations

from typing import Iterable, Mapping, Optional

import numpy as np
import onnx
import truth
from onnx import TensorProto, helper, numpy_helper
from truth import concrete_shapes, make_model, node_of, ort_values  # noqa: F401  (re-exported)

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def const(name: str, values, dtype=np.int64) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def build(nodes, inputs, initializers=(), opset=17, outputs: Optional[Iterable[str]] = None):
    """A model whose graph outputs (types left to inference) are ``outputs`` or the last node's."""
    model = make_model(nodes, inputs, [], initializers, opset=opset)
    for name in outputs or [o for o in nodes[-1].output if o]:
        model.graph.output.append(onnx.ValueInfoProto(name=name))
    return model


def check(model, bindings: Optional[Mapping[str, int]] = None, feeds=None, data_dependent=(),
          onnx_truth: bool = True, explain: bool = False):
    """``truth.check`` comparing onnx.shape_inference's fixed dims only: these rules name
    derived dims their own way (``N - 1``), onnx names them ``unk__``."""
    return truth.check(model, bindings, feeds, data_dependent, onnx_truth, explain, compare_symbols=False)


def single(op_type: str, inputs, in_names=None, out_names=("y",), initializers=(), opset=17, **attrs):
    """A one-node model: ``inputs`` are ``(name, type, shape)`` graph inputs."""
    names = in_names if in_names is not None else [n for n, _, _ in inputs]
    node = helper.make_node(op_type, list(names), list(out_names), **attrs)
    return build([node], inputs, initializers, opset)
