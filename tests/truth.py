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


def ort_shapes(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> Dict[str, tuple]:
    """Run ``model`` on onnxruntime's CPU provider with every node output exposed as a
    graph output; returns the actual shape of every tensor."""
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
    values = session.run(names, dict(feeds))
    return {name: tuple(np.asarray(v).shape) for name, v in zip(names, values)}


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
