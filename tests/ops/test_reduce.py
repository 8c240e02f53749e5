"""Reductions against onnxruntime / onnx.shape_inference for every axes form (attribute
before opset 13/18, input after), keepdims and noop_with_empty_axes; FLOPs against the
documented convention of one per input element."""

import numpy as np
import pytest
from onnx import helper
from tensor_cases import F, build, check, const

REDUCE = ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
          "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")
SHAPE = [2, 3, 4, 5]

VARIANTS = {
    # id: (axes, keepdims, noop_with_empty_axes)
    "axes_keep": ([1, -1], 1, 0),
    "axes_drop": ([0, 2], 0, 0),
    "all_keep": (None, 1, 0),
    "all_drop": (None, 0, 0),
    "noop_empty_axes": (None, 1, 1),
}


def _reduce_model(op, axes, keepdims, noop, axes_as_input):
    attrs = dict(keepdims=keepdims)
    inputs, inits = ["x"], []
    if axes is not None and axes_as_input:
        inputs.append("a")
        inits.append(const("a", axes))
    elif axes is not None:
        attrs["axes"] = axes
    if axes_as_input:
        attrs["noop_with_empty_axes"] = noop
    opset = (13 if op == "ReduceSum" else 18) if axes_as_input else (11 if op == "ReduceSum" else 17)
    return build([helper.make_node(op, inputs, ["y"], **attrs)], [("x", F, SHAPE)], inits, opset)


# noop_with_empty_axes exists only with the axes input.
REDUCE_CASES = [pytest.param(op, variant, as_input, id=f"{op}-{name}-{'input' if as_input else 'attr'}")
                for op in REDUCE for name, variant in VARIANTS.items() for as_input in (False, True)
                if as_input or not variant[2]]


@pytest.mark.parametrize("op,variant,axes_as_input", REDUCE_CASES)
def test_reduce_shapes_match_ort_and_onnx(op, variant, axes_as_input):
    axes, keepdims, noop = variant
    report = check(_reduce_model(op, axes, keepdims, noop, axes_as_input))
    node = report.nodes[0]
    assert node.params == 0
    assert node.flops == (0 if noop else int(np.prod(SHAPE)))


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("attrs", [dict(axis=1), dict(axis=-1, keepdims=0), dict(axis=0, select_last_index=1)],
                         ids=["axis1", "last_drop", "select_last"])
def test_arg_reduce(op, attrs):
    report = check(build([helper.make_node(op, ["x"], ["y"], **attrs)], [("x", F, SHAPE)]))
    node = report.nodes[0]
    assert node.outputs[0].dtype == "int64"
    assert node.flops == int(np.prod(SHAPE))


@pytest.mark.parametrize("opset,axis", [(9, 1), (11, -1), (17, 2)])
def test_top_k_k_attribute_and_input(opset, axis):
    if opset < 10:
        node = helper.make_node("TopK", ["x"], ["v", "i"], k=2, axis=axis)
        inits = []
    else:
        node = helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=axis)
        inits = [const("k", [3])]
    report = check(build([node], [("x", F, SHAPE)], inits, opset, outputs=["v", "i"]))
    assert report.nodes[0].params == 0
    assert report.nodes[0].outputs[1].dtype == "int64"


def test_symbolic_batch_stays_symbolic_through_reductions():
    model = build([helper.make_node("ReduceMean", ["x", "a"], ["y"], keepdims=1),
                   helper.make_node("ReduceSum", ["y", "b"], ["z"], keepdims=0)],
                  [("x", F, ["N", 3, 4, 5])], [const("a", [2, 3]), const("b", [1])], 18)
    for n in (1, 4):
        check(model, {"N": n})


def test_cumsum_costs_one_flop_per_element():
    report = check(build([helper.make_node("CumSum", ["x", "a"], ["y"], reverse=1)],
                         [("x", F, SHAPE)], [const("a", -1)]))
    assert report.nodes[0].flops == int(np.prod(SHAPE)) and report.nodes[0].params == 0
