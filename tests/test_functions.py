"""Model-local functions: calls expanded through the body, checked against onnxruntime
(which runs model-local functions) and hand counts of the body's weights."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, inliner, numpy_helper
from truth import ort_shapes, our_shapes, random_feeds

from onnxinspect import InspectError, inspect_model
from onnxinspect.report import iter_nodes

F = TensorProto.FLOAT
LOCAL = "local.fn"


def with_refs(node, **refs):
    """``node`` with attributes referring to the caller's: ``name=(caller_name, type)``."""
    for name, (ref, kind) in refs.items():
        node.attribute.append(helper.make_attribute_ref(name, kind))
        node.attribute[-1].ref_attr_name = ref
    return node


def linear_relu():
    """Y = Relu(X·W + B) · scale, ``scale`` a Constant made inside the function."""
    return helper.make_function(
        LOCAL, "LinearRelu", ["X", "W", "B"], ["Y"],
        [helper.make_node("MatMul", ["X", "W"], ["t"]),
         helper.make_node("Add", ["t", "B"], ["u"]),
         with_refs(helper.make_node("LeakyRelu", ["u"], ["v"]), alpha=("alpha", onnx.AttributeProto.FLOAT)),
         helper.make_node("Constant", [], ["scale"], value=numpy_helper.from_array(np.full((1, 4), 2, np.float32))),
         helper.make_node("Mul", ["v", "scale"], ["Y"])],
        [helper.make_opsetid("", 17)], attributes=["alpha"])


def model_with(functions, nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(*i) for i in inputs],
                              [helper.make_tensor_value_info(*o) for o in outputs], initializers)
    model = helper.make_model(graph, functions=functions,
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(LOCAL, 1)])
    model.ir_version = 8
    return model


def two_calls():
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
               for n, s in (("W1", (8, 4)), ("B1", (4,)), ("W2", (4, 4)), ("B2", (4,)))]
    nodes = [helper.make_node("LinearRelu", ["x", "W1", "B1"], ["h"], domain=LOCAL, name="first", alpha=0.1),
             helper.make_node("LinearRelu", ["h", "W2", "B2"], ["y"], domain=LOCAL, name="second", alpha=0.3)]
    return model_with([linear_relu()], nodes, [("x", F, ["N", 8])], [("y", F, None)], weights)


def test_function_call_shapes_match_ort():
    model = two_calls()
    report = inspect_model(model, dims={"N": 3})
    actual = ort_shapes(model, random_feeds(model, {"x": (3, 8)}))
    assert our_shapes(report) == actual == {"h": (3, 4), "y": (3, 4)}
    assert our_shapes(inspect_model(model))["y"] == ("N", 4)


def test_function_body_nodes_nested_and_params_counted_where_consumed():
    report = inspect_model(two_calls(), dims={"N": 3})
    first = report.node("first")
    body = first.subgraphs["function"]
    assert [n.op_type for n in body] == ["MatMul", "Add", "LeakyRelu", "Constant", "Mul"]
    assert first.params == 0                       # the call itself counts nothing
    assert [n.params for n in body[:2]] == [8 * 4, 4]     # W1 at the MatMul, B1 at the Add
    # Cost of a call = its body: MatMul 2·3·8·4, then Add, LeakyRelu, Mul one per element.
    assert first.flops == 2 * 3 * 8 * 4 + 3 * (3 * 4)
    assert report.totals.flops == first.flops + report.node("second").flops


def test_expansion_counts_like_the_inlined_model():
    """onnx's own inliner is the truth: expanding a call = pasting its body in place.
    One difference by design: a Constant inside the function is stored once in the file,
    so it is one unique weight however many calls use it (the inliner copies it per call)."""
    model = two_calls()
    inlined = inliner.inline_local_functions(model)
    ours, truth = inspect_model(model, dims={"N": 3}), inspect_model(inlined, dims={"N": 3})
    assert [t.shape for t in ours.outputs] == [t.shape for t in truth.outputs]
    for field in ("params", "flops", "macs"):
        assert getattr(ours.totals, field) == getattr(truth.totals, field), field
    initializers = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    assert initializers == 32 + 4 + 16 + 4
    per_call_constants = (truth.totals.unique_params - initializers) // 2
    assert ours.totals.unique_params == initializers + per_call_constants
    nested = sorted(n.op_type for n in iter_nodes(ours.nodes) if n.op_type != "LinearRelu")
    assert nested == sorted(n.op_type for n in truth.nodes)


def test_attribute_references_take_the_callers_value_or_the_default():
    keep_default = helper.make_attribute("keep", 1)
    fn = helper.make_function(
        LOCAL, "TransposeSum", ["X"], ["Y"],
        [helper.make_node("Constant", [], ["axes"], value_ints=[0]),
         with_refs(helper.make_node("Transpose", ["X"], ["t"]), perm=("perm", onnx.AttributeProto.INTS)),
         with_refs(helper.make_node("ReduceSum", ["t", "axes"], ["Y"]), keepdims=("keep", onnx.AttributeProto.INT))],
        [helper.make_opsetid("", 17)], attributes=["perm"])
    fn.attribute_proto.append(keep_default)
    nodes = [helper.make_node("TransposeSum", ["x"], ["a"], domain=LOCAL, perm=[2, 0, 1]),
             helper.make_node("TransposeSum", ["x"], ["b"], domain=LOCAL, perm=[1, 2, 0], keep=0)]
    model = model_with([fn], nodes, [("x", F, [2, 3, 5])], [("a", F, None), ("b", F, None)], [])
    model.ir_version = 9
    actual = ort_shapes(model, random_feeds(model, {"x": (2, 3, 5)}))
    assert our_shapes(inspect_model(model)) == actual == {"a": (1, 2, 3), "b": (5, 2)}


def test_recursive_function_stops_at_the_depth_guard():
    forever = helper.make_function(LOCAL, "Forever", ["X"], ["Y"],
                                   [helper.make_node("Forever", ["X"], ["Y"], domain=LOCAL)],
                                   [helper.make_opsetid("", 17), helper.make_opsetid(LOCAL, 1)])
    model = model_with([forever], [helper.make_node("Forever", ["x"], ["y"], domain=LOCAL)],
                       [("x", F, [1])], [("y", F, None)], [])
    with pytest.raises(InspectError, match="nested more than"):
        inspect_model(model)


def test_registered_rule_wins_over_a_function_of_the_same_name():
    relu = helper.make_function("", "Relu", ["X"], ["Y"], [helper.make_node("Neg", ["X"], ["Y"])],
                                [helper.make_opsetid("", 17)])
    model = model_with([relu], [helper.make_node("Relu", ["x"], ["y"], name="r")],
                       [("x", F, [2])], [("y", F, None)], [])
    assert inspect_model(model).node("r").subgraphs == {}
    assert not any(n.op_type == "Neg" for n in iter_nodes(inspect_model(model).nodes))
