"""Independent truth for the tests: onnxruntime's actual shapes and onnx.shape_inference.

Shared by every rule-family test so each one can say "our shape == what ORT computed".
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional

import numpy as np
import onnx
from onnx import helper, shape_inference


def make_model(nodes, inputs, outputs, initializers=(), opset=17, value_info=(), ir_version=None,
               domains: Optional[Mapping[str, int]] = None) -> onnx.ModelProto:
    """A one-graph model; ``inputs`` / ``outputs`` are ``(name, elem_type, shape)`` triples."""
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        list(initializers), value_info=list(value_info))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in (domains or {}).items()]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = ir_version or min(model.ir_version, 8 if opset < 19 else 9)
    return model


def ort_values(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Run ``model`` on onnxruntime's CPU provider with every node output exposed as a
    graph output; returns the actual value of every tensor."""
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
    return dict(zip(names, (np.asarray(v) for v in session.run(names, dict(feeds))), strict=True))


def ort_shapes(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> Dict[str, tuple]:
    """The actual shape of every tensor when onnxruntime runs ``model``."""
    return {name: tuple(v.shape) for name, v in ort_values(model, feeds).items()}


def onnx_shapes(model: onnx.ModelProto) -> Dict[str, Optional[tuple]]:
    """onnx.shape_inference's shapes (dims as int, dim_param text, or None)."""
    inferred = shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    out = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            out[vi.name] = None
            continue
        out[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                             for d in t.shape.dim)
    return out


def random_feeds(model: onnx.ModelProto, shapes: Mapping[str, tuple], seed: int = 0) -> Dict[str, np.ndarray]:
    """Seeded random inputs of the given shapes and the model's input dtypes."""
    rng = np.random.default_rng(seed)
    init = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in init:
            continue
        dtype = helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        shape = shapes[vi.name]
        if np.issubdtype(dtype, np.floating):
            feeds[vi.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[vi.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            feeds[vi.name] = rng.integers(0, 3, shape).astype(dtype)
    return feeds


def our_shapes(report) -> Dict[str, Optional[tuple]]:
    """Every tensor shape in an onnxinspect report, dims as int / str / None."""
    from onnxinspect.dims import shape_to_json

    out = {}
    for node in report.nodes:
        for t in node.outputs:
            if t.name:
                s = shape_to_json(t.shape)
                out[t.name] = None if s is None else tuple(s)
    return out


def onnx_types(model: onnx.ModelProto) -> Dict[str, int]:
    """onnx.shape_inference's element type of every tensor it types."""
    inferred = shape_inference.infer_shapes(model, strict_mode=False)
    return {vi.name: vi.type.tensor_type.elem_type
            for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}


def concrete_shapes(model: onnx.ModelProto, bindings: Mapping[str, int]) -> Dict[str, tuple]:
    """The model's input shapes with every named dim bound from ``bindings``."""
    init = {t.name for t in model.graph.initializer}
    return {vi.name: tuple(d.dim_value if d.HasField("dim_value") else bindings[d.dim_param]
                           for d in vi.type.tensor_type.shape.dim)
            for vi in model.graph.input if vi.name not in init}


def node_of(report, op_type: str):
    """The report's first node of ``op_type``."""
    return next(n for n in report.nodes if n.op_type == op_type)


def check(model, bindings: Optional[Mapping[str, int]] = None, feeds=None, data_dependent=(),
          onnx_truth: bool = True, explain: bool = False, compare_symbols: bool = True):
    """Inspect ``model`` and assert every node output's shape equals onnxruntime's actual
    one (our symbolic dims substituted with ``bindings``) and agrees with
    onnx.shape_inference where it knows a dim (its named symbols too, unless
    ``compare_symbols`` is off) and a dtype.  A data-dependent symbol takes the size
    onnxruntime found (see :func:`run_time_sizes`).  Dims in ``data_dependent`` tensors
    may stay unknown.  Returns the report."""
    from onnxinspect import inspect_model
    from onnxinspect.dims import subs_dim
    from onnxinspect.dtypes import dtype_name

    bindings = dict(bindings or {})
    report = inspect_model(model, explain=explain)
    assert not report.warnings, report.warnings
    feeds = feeds if feeds is not None else random_feeds(model, concrete_shapes(model, bindings))
    actual = ort_shapes(model, feeds)
    inferred = onnx_shapes(model) if onnx_truth else {}
    types = onnx_types(model) if onnx_truth else {}
    ours = {t.name: t for node in report.nodes for t in node.outputs if t.name}
    bindings.update(run_time_sizes(report, actual, bindings))
    for name, shape in actual.items():
        info = ours[name]
        assert info.shape is not None, f"{name}: we inferred no shape, ORT gives {shape}"
        got = tuple(subs_dim(d, bindings) for d in info.shape)
        if name in data_dependent:
            assert len(got) == len(shape), f"{name}: ours {info.shape}, ORT {shape}"
            got = tuple(a if g is None else g for g, a in zip(got, shape, strict=True))
        assert got == shape, f"{name}: ours {info.shape} -> {got}, ORT {shape}"
        expected = inferred.get(name)
        if expected is not None:
            assert len(expected) == len(info.shape), f"{name}: onnx {expected}, ours {info.shape}"
            for mine, theirs in zip(info.shape, expected, strict=True):
                if isinstance(theirs, int) or (compare_symbols and theirs is not None
                                               and not str(theirs).startswith("unk__")):
                    assert (mine if isinstance(mine, int) else str(mine)) == theirs, \
                        f"{name}: ours {info.shape}, onnx {expected}"
        if types.get(name):
            assert info.dtype == dtype_name(types[name]), f"{name}: ours {info.dtype}, onnx {types[name]}"
    return report


def run_time_sizes(report, actual: Mapping[str, tuple], bindings: Mapping[str, int]) -> Dict[str, int]:
    """The size each data-dependent symbol of ``report`` took when onnxruntime ran
    (``actual``: tensor -> shape), read where a dim is the symbol alone; asserts one size
    per symbol, within the symbol's bound (evaluated at ``bindings`` and the sizes found)."""
    from onnxinspect.dims import Expr, subs_dim, sym

    symbols = {sym(d.symbol): d for d in report.data_dependent}
    found: Dict[str, int] = {}
    for node in report.nodes:
        for t in node.outputs:
            if t.shape is None or t.name not in actual:
                continue
            for mine, size in zip(t.shape, actual[t.name], strict=True):
                entry = symbols.get(mine) if isinstance(mine, Expr) else None
                if entry is not None:
                    assert found.setdefault(entry.symbol, size) == size, f"{entry.symbol}: sizes differ"
    everything = {**bindings, **found}
    for name, size in found.items():
        bound = subs_dim(symbols[sym(name)].bound, everything)
        assert bound is None or (isinstance(bound, int) and size <= bound), f"{name} = {size} > bound {bound}"
    return found


def varint(v: int) -> bytes:
    """Protobuf's base-128 varint, for tests that write wire-format bytes by hand."""
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(out)
