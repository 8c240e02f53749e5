"""Normalisation shapes (BatchNorm incl. training outputs, Instance/Layer/Group norm,
LRN, MeanVarianceNormalization) against onnxruntime and onnx.shape_inference."""

import numpy as np
import pytest
from nn_cases import F, build, check, init, node_of
from onnx import TensorProto, helper, numpy_helper

from onnxinspect.dims import subs_dim


def _bn(x, opset=15, outputs=("y",), **attrs):
    c = x[1] if isinstance(x[1], int) else 3
    variance = numpy_helper.from_array(np.linspace(0.5, 2.0, c).astype(np.float32), "v")
    inits = [init("s", (c,)), init("b", (c,)), init("m", (c,)), variance]
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], list(outputs), **attrs)
    return build([node], [("x", F, x)], inits, opset=opset)


@pytest.mark.parametrize("x", [(2, 3), (2, 3, 5), (1, 3, 4, 5), (1, 3, 2, 3, 4)])
def test_batch_norm_inference(x):
    report = check(_bn(x))
    node = node_of(report, "BatchNormalization")
    assert node.params == 4 * x[1]
    elements = 1
    for d in x:
        elements *= d
    assert node.flops == 2 * elements


def test_batch_norm_symbolic():
    check(_bn(("N", 3, "H", "W")), {"N": 2, "H": 5, "W": 4})


@pytest.mark.parametrize("opset", [7, 9])
def test_batch_norm_training_outputs_before_opset14(opset):
    # Opsets 7-13: mean, var, saved_mean, saved_var outputs mark a training node.
    report = check(_bn((2, 3, 4, 5), opset=opset, outputs=("y", "mean", "var", "sm", "sv")))
    node = node_of(report, "BatchNormalization")
    assert [o.shape for o in node.outputs[1:]] == [(3,)] * 4 and node.flops == 5 * 2 * 3 * 4 * 5


def test_batch_norm_training_mode_outputs_running_statistics():
    # onnxruntime's CPU build runs training_mode BatchNorm; its extra outputs are (C,).
    report = check(_bn((2, 3, 4, 5), outputs=("y", "rm", "rv"), training_mode=1, momentum=0.9))
    node = node_of(report, "BatchNormalization")
    assert [o.shape for o in node.outputs] == [(2, 3, 4, 5), (3,), (3,)]
    assert node.flops == 5 * 2 * 3 * 4 * 5


def test_instance_norm():
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"])
    report = check(build([node], [("x", F, ("N", 4, "H", 5))], [init("s", (4,)), init("b", (4,))]),
                   {"N": 2, "H": 3})
    assert node_of(report, "InstanceNormalization").params == 8


@pytest.mark.parametrize("axis", [-1, 1, 2, -2])
def test_layer_norm_mean_and_inv_std_dev(axis):
    x = (2, 3, 4, 5)
    norm_shape = x[axis:]
    node = helper.make_node("LayerNormalization", ["x", "s", "b"], ["y", "mean", "isd"], axis=axis)
    model = build([node], [("x", F, x)], [init("s", norm_shape), init("b", norm_shape)])
    report = check(model)
    y, mean, isd = node_of(report, "LayerNormalization").outputs
    rank_axis = axis % len(x)
    assert mean.shape == isd.shape == x[:rank_axis] + (1,) * (len(x) - rank_axis)


def test_layer_norm_symbolic_batch_and_stash_type():
    node = helper.make_node("LayerNormalization", ["x", "s"], ["y", "mean"], axis=-1, stash_type=1)
    model = build([node], [("x", TensorProto.FLOAT, ("B", "T", 8))], [init("s", (8,))])
    report = check(model, {"B": 2, "T": 7})
    assert node_of(report, "LayerNormalization").outputs[1].dtype == "float32"


@pytest.mark.parametrize("opset,per", [(18, 2), (21, 6)])
def test_group_norm(opset, per):
    # Opset 18 has one scale per group, opset 21 one per channel.
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2)
    report = check(build([node], [("x", F, ("N", 6, 4, 4))], [init("s", (per,)), init("b", (per,))], opset=opset),
                   {"N": 3})
    assert node_of(report, "GroupNormalization").params == 2 * per
    assert subs_dim(node_of(report, "GroupNormalization").flops, {"N": 3}) == 5 * 3 * 6 * 4 * 4


def test_lrn():
    node = helper.make_node("LRN", ["x"], ["y"], size=5)
    report = check(build([node], [("x", F, (1, 8, 6, 6))]))
    assert node_of(report, "LRN").flops == (2 * 5 + 3) * 8 * 36


@pytest.mark.parametrize("axes", [None, [0, 2, 3], [1]])
def test_mean_variance_normalization(axes):
    attrs = {} if axes is None else {"axes": axes}
    node = helper.make_node("MeanVarianceNormalization", ["x"], ["y"], **attrs)
    check(build([node], [("x", F, ("N", 3, 4, 5))]), {"N": 2})
