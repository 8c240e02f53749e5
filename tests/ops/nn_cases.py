"""One checking routine for the neural-network rule tests: build a small model, inspect
it, and compare every node output with onnxruntime's actual shape and with
onnx.shape_inference (shape and dtype).  Symbolic dims are bound for ORT, and our
symbolic answer, substituted with the same values, must equal ORT's."""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxinspect import inspect_model
from onnxinspect.dims import subs_dim
from onnxinspect.dtypes import dtype_name
from truth import make_model, onnx_shapes, ort_shapes, random_feeds


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


def check(model, bindings: Optional[Mapping[str, int]] = None, explain: bool = False,
          onnx_truth: bool = True):
    """Assert our shapes equal ORT's (and onnx's where it knows them); returns the report."""
    bindings = dict(bindings or {})
    report = inspect_model(model, explain=explain)
    assert not report.warnings, report.warnings
    init_names = {t.name for t in model.graph.initializer}
    concrete = {}
    for vi in model.graph.input:
        if vi.name in init_names:
            continue
        dims = vi.type.tensor_type.shape.dim
        concrete[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else bindings[d.dim_param]
                                  for d in dims)
    ort = ort_shapes(model, random_feeds(model, concrete))
    inferred = onnx_shapes(model) if onnx_truth else {}
    types = _onnx_types(model) if onnx_truth else {}
    ours = {t.name: t for node in report.nodes for t in node.outputs if t.name}
    for name, actual in ort.items():
        info = ours[name]
        assert info.shape is not None, f"{name}: we inferred no shape, ORT gives {actual}"
        got = tuple(subs_dim(d, bindings) for d in info.shape)
        assert got == actual, f"{name}: ours {info.shape} -> {got}, ORT {actual}"
        expected = inferred.get(name)
        if expected is not None:
            assert len(expected) == len(info.shape), f"{name}: onnx {expected}, ours {info.shape}"
            for ours_dim, onnx_dim in zip(info.shape, expected):
                if onnx_dim is not None and not str(onnx_dim).startswith("unk__"):
                    assert (ours_dim if isinstance(ours_dim, int) else str(ours_dim)) == onnx_dim, \
                        f"{name}: ours {info.shape}, onnx {expected}"
        if types.get(name):
            assert info.dtype == dtype_name(types[name]), f"{name}: ours {info.dtype}, onnx {types[name]}"
    return report


def _onnx_types(model):
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    return {vi.name: vi.type.tensor_type.elem_type
            for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}


def node_of(report, op_type: str):
    return next(n for n in report.nodes if n.op_type == op_type)


F = TensorProto.FLOAT
