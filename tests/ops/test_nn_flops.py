"""FLOPs and MACs of the neural-network ops, computed by hand (1 MAC = 2 FLOPs, bias
one FLOP per output element, pools one FLOP per window element per output), and
unknown shapes giving unknown cost, never 0."""

import numpy as np
import pytest
from nn_cases import F, build, check, init, node_of
from onnx import helper, numpy_helper

from onnxinspect import inspect_model
from onnxinspect.dims import subs_dim


def _cost(nodes, x, inits=(), bindings=None, op=None):
    report = check(build(nodes, [("x", F, x)], inits), bindings)
    node = node_of(report, op or nodes[-1].op_type)
    return subs_dim(node.macs, bindings or {}), subs_dim(node.flops, bindings or {})


def test_conv_stride_and_bias():
    # 1x3x32x32 -> 16x16x16 with a 3x3 kernel, stride 2, pad 1
    macs, flops = _cost([helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1])],
                        (1, 3, 32, 32), [init("w", (16, 3, 3, 3)), init("b", (16,))])
    assert macs == 16 * 16 * 16 * 3 * 3 * 3
    assert flops == 2 * macs + 16 * 16 * 16


def test_conv_groups_divide_the_work():
    macs, flops = _cost([helper.make_node("Conv", ["x", "w"], ["y"], group=4, pads=[1, 1, 1, 1])],
                        (2, 8, 10, 10), [init("w", (12, 2, 3, 3))])
    assert macs == 2 * 12 * 10 * 10 * (8 // 4) * 9
    assert flops == 2 * macs  # no bias


def test_conv_dilation_shrinks_output_not_kernel_work():
    macs, _ = _cost([helper.make_node("Conv", ["x", "w"], ["y"], dilations=[3, 3])],
                    (1, 2, 20, 20), [init("w", (4, 2, 3, 3))])
    out = 20 - 3 * (3 - 1)
    assert macs == 4 * out * out * 2 * 9


def test_conv_symbolic_batch_cost_scales_with_n():
    macs, _ = _cost([helper.make_node("Conv", ["x", "w"], ["y"])], ("N", 2, 5, 5), [init("w", (3, 2, 3, 3))],
                    {"N": 7})
    assert macs == 7 * 3 * 3 * 3 * 2 * 9


def test_conv_transpose_is_input_based():
    # U-Net up-sampling: 2x2 stride 2, 512 -> 256 channels on a 12x12 map.
    macs, flops = _cost([helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2])],
                        (1, 32, 12, 12), [init("w", (32, 16, 2, 2)), init("b", (16,))])
    assert macs == 32 * 12 * 12 * 16 * 2 * 2          # input volume x Cout/group x kernel
    assert flops == 2 * macs + 16 * 24 * 24


def test_conv_transpose_groups():
    macs, _ = _cost([helper.make_node("ConvTranspose", ["x", "w"], ["y"], group=2, strides=[2, 2])],
                    (1, 4, 5, 5), [init("w", (4, 3, 3, 3))])
    assert macs == 4 * 5 * 5 * 3 * 3 * 3


def test_gemm_with_bias():
    macs, flops = _cost([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)],
                        (8, 100), [init("w", (10, 100)), init("b", (10,))])
    assert macs == 8 * 10 * 100 and flops == 2 * macs + 8 * 10


def test_batched_matmul():
    macs, flops = _cost([helper.make_node("MatMul", ["x", "w"], ["y"])], ("B", 3, 7, 5), [init("w", (5, 6))],
                        {"B": 2})
    assert macs == 2 * 3 * 7 * 6 * 5 and flops == 2 * macs


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "LpPool"])
def test_pools_cost_kernel_volume_times_outputs(op):
    macs, flops = _cost([helper.make_node(op, ["x"], ["y"], kernel_shape=[3, 2], strides=[2, 2])],
                        (1, 4, 9, 8))
    assert flops == 3 * 2 * (1 * 4 * 4 * 4) and macs == 0


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pools_cost_one_flop_per_input(op):
    _, flops = _cost([helper.make_node(op, ["x"], ["y"])], ("N", 4, 7, 7), bindings={"N": 3})
    assert flops == 3 * 4 * 7 * 7


def test_batch_norm_inference_two_flops_per_element():
    inits = [init(n, (4,)) for n in "sbm"] + [numpy_helper.from_array(np.ones(4, np.float32), "v")]
    _, flops = _cost([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])], (2, 4, 3, 3), inits)
    assert flops == 2 * 2 * 4 * 3 * 3


def test_unknown_input_shape_gives_unknown_cost_not_zero():
    for node in (helper.make_node("Conv", ["x", "w"], ["y"]),
                 helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2]),
                 helper.make_node("GlobalAveragePool", ["x"], ["y"]), helper.make_node("MatMul", ["x", "w"], ["y"])):
        w = (3, 2, 3, 3) if node.op_type == "Conv" else (4, 4)
        model = build([node], [("x", F, None)], [init("w", w)] if "w" in node.input else [])
        report = inspect_model(model)
        assert report.nodes[0].flops is None and report.totals.flops is None


def test_unknown_dim_gives_unknown_cost():
    model = build([helper.make_node("Conv", ["x", "w"], ["y"])], [("x", F, (1, 2, None, 5))], [init("w", (3, 2, 3, 3))])
    assert inspect_model(model).nodes[0].flops is None
