"""Checking routine for the tensor / shape / reduction rule tests: build a small model,
inspect it, run it on onnxruntime with every tensor exposed, and compare each output's
shape with ORT's actual one (symbolic dims substituted) and with onnx.shape_inference.

Dims that depend on the data (NonZero's count, Unique's size) may stay unknown in our
report; they are listed per case in ``data_dependent``."""

from __future__ import annotations

from typing import Dict, Iterable, Mapping, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxinspect import inspect_model
from onnxinspect.dims import subs_dim
from onnxinspect.dtypes import dtype_name
from truth import make_model, onnx_shapes, random_feeds

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def const(name: str, values, dtype=np.int64) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def build(nodes, inputs, initializers=(), opset=17, outputs: Optional[Iterable[str]] = None):
    """A model whose graph outputs (types left to inference) are ``outputs`` or the last node's."""
    model = make_model(nodes, inputs, [], initializers, opset=opset)
    for name in outputs or [o for o in nodes[-1].output if o]:
        model.graph.output.append(onnx.ValueInfoProto(name=name))
    return model


def ort_values(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Every node output's actual value on onnxruntime's CPU provider."""
    import onnxruntime as ort

    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    declared = {o.name for o in exposed.graph.output}
    for node in exposed.graph.node:
        for name in node.output:
            if name and name not in declared:
                exposed.graph.output.append(onnx.ValueInfoProto(name=name))
                declared.add(name)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, (np.asarray(v) for v in session.run(names, dict(feeds)))))


def concrete_shapes(model: onnx.ModelProto, bindings: Mapping[str, int]) -> Dict[str, tuple]:
    init = {t.name for t in model.graph.initializer}
    return {vi.name: tuple(d.dim_value if d.HasField("dim_value") else bindings[d.dim_param]
                           for d in vi.type.tensor_type.shape.dim)
            for vi in model.graph.input if vi.name not in init}


def check(model, bindings: Optional[Mapping[str, int]] = None, feeds=None, data_dependent=(),
          onnx_truth: bool = True, explain: bool = False):
    """Assert our shapes equal ORT's (and onnx's where it knows a dim); returns the report."""
    bindings = dict(bindings or {})
    report = inspect_model(model, explain=explain)
    assert not report.warnings, report.warnings
    feeds = feeds if feeds is not None else random_feeds(model, concrete_shapes(model, bindings))
    actual = {k: v.shape for k, v in ort_values(model, feeds).items()}
    inferred = onnx_shapes(model) if onnx_truth else {}
    types = onnx_types(model) if onnx_truth else {}
    ours = {t.name: t for node in report.nodes for t in node.outputs if t.name}
    for name, shape in actual.items():
        info = ours[name]
        assert info.shape is not None, f"{name}: we inferred no shape, ORT gives {shape}"
        got = tuple(subs_dim(d, bindings) for d in info.shape)
        if name in data_dependent:
            assert len(got) == len(shape), f"{name}: ours {info.shape}, ORT {shape}"
            got = tuple(a if g is None else g for g, a in zip(got, shape))
        assert got == shape, f"{name}: ours {info.shape} -> {got}, ORT {shape}"
        expected = inferred.get(name)
        if expected is not None:
            assert len(expected) == len(info.shape), f"{name}: onnx {expected}, ours {info.shape}"
            for mine, theirs in zip(info.shape, expected):
                if isinstance(theirs, int):
                    assert mine == theirs, f"{name}: ours {info.shape}, onnx {expected}"
        if types.get(name):
            assert info.dtype == dtype_name(types[name]), f"{name}: ours {info.dtype}, onnx {types[name]}"
    return report


def onnx_types(model) -> Dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    return {vi.name: vi.type.tensor_type.elem_type
            for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}


def node_of(report, op_type: str):
    return next(n for n in report.nodes if n.op_type == op_type)


def single(op_type: str, inputs, in_names=None, out_names=("y",), initializers=(), opset=17, **attrs):
    """A one-node model: ``inputs`` are ``(name, type, shape)`` graph inputs."""
    names = in_names if in_names is not None else [n for n, _, _ in inputs]
    node = helper.make_node(op_type, list(names), list(out_names), **attrs)
    return build([node], inputs, initializers, opset)
