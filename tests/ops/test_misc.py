"""LpNormalization, Det and the Optional / Sequence accessors against onnxruntime,
onnx.shape_inference and the onnx package's node cases; FLOPs by the ops/misc formulas."""

import warnings

import numpy as np
import pytest
from nn_cases import F, build, check, node_of
from onnx import TensorProto, helper
from truth import make_model, ort_shapes, random_feeds

from onnxinspect import inspect_model
from onnxinspect.dims import subs_dim

MISC_OPS = {"LpNormalization", "Det", "OptionalHasElement", "OptionalGetElement"}


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_lp_normalization(axis, p):
    node = helper.make_node("LpNormalization", ["x"], ["y"], axis=axis, p=p)
    bindings = {"N": 2}
    report = check(build([node], [("x", F, ("N", 3, 4))]), bindings)
    assert subs_dim(node_of(report, "LpNormalization").flops, bindings) == 3 * 2 * 3 * 4


@pytest.mark.parametrize("x", [(3, 3), (2, 4, 4), (2, 3, 5, 5)])
def test_det(x):
    report = check(build([helper.make_node("Det", ["x"], ["y"])], [("x", F, x)]))
    node = node_of(report, "Det")
    batch = int(np.prod(x[:-2]))
    assert node.macs == batch * (x[-1] ** 3 // 3) and node.flops == 2 * node.macs


def test_det_symbolic_batch():
    model = build([helper.make_node("Det", ["x"], ["y"])], [("x", F, ("N", 4, 4))])
    for n in (1, 3):
        report = check(model, {"N": n})
        assert subs_dim(node_of(report, "Det").flops, {"N": n}) == 2 * n * (64 // 3)


def test_det_of_a_non_square_matrix_is_a_warning():
    report = inspect_model(build([helper.make_node("Det", ["x"], ["y"])], [("x", F, (3, 4))]))
    assert any("square" in w for w in report.warnings)
    assert node_of(report, "Det").outputs[0].shape is None


def test_sequence_length_of_split_to_sequence():
    nodes = [helper.make_node("SplitToSequence", ["x"], ["seq"], axis=0),
             helper.make_node("SequenceLength", ["seq"], ["n"])]
    model = make_model(nodes, [("x", F, (4, 3))], [("n", TensorProto.INT64, None)])
    report = inspect_model(model)
    ours = node_of(report, "SequenceLength").outputs[0]
    assert (ours.shape, ours.dtype) == (ort_shapes(model, random_feeds(model, {"x": (4, 3)}))["n"], "int64")


def test_optional_of_a_tensor_round_trip():
    # Optional(x) wraps x: its element and has-element are known.
    nodes = [helper.make_node("Optional", ["x"], ["o"]),
             helper.make_node("OptionalHasElement", ["o"], ["has"]),
             helper.make_node("OptionalGetElement", ["x"], ["y"])]
    model = make_model(nodes, [("x", F, ("N", 5))], [("has", TensorProto.BOOL, None), ("y", F, None)], opset=18)
    report = inspect_model(model)
    actual = ort_shapes(model, random_feeds(model, {"x": (2, 5)}))
    has, y = node_of(report, "OptionalHasElement").outputs[0], node_of(report, "OptionalGetElement").outputs[0]
    assert (has.shape, has.dtype) == (actual["has"], "bool")
    assert tuple(subs_dim(d, {"N": 2}) for d in y.shape) == actual["y"]


def _node_cases():
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collected = node.collect_testcases(None)
    return [pytest.param(c.model, c.data_sets[0][1], id=c.name) for c in collected
            if c.model is not None and {n.op_type for n in c.model.graph.node} <= MISC_OPS]


NODE_CASES = _node_cases()


def test_node_cases_collected():
    assert len(NODE_CASES) >= 19  # 2 det, 6 Lp normalization, 11 optional


@pytest.mark.parametrize("model,outputs", NODE_CASES)
def test_onnx_node_cases(model, outputs):
    """Tensor results exact, an optional's element too (the optional carries its type)."""
    report = inspect_model(model)
    for graph_output, ours, truth in zip(model.graph.output, report.outputs, outputs, strict=True):
        if graph_output.type.HasField("tensor_type") and isinstance(truth, (np.ndarray, np.generic)):
            assert ours.shape == np.shape(truth), graph_output.name
