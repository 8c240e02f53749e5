"""Quantization ops against onnxruntime and onnx.shape_inference, and the parameter
rule: an integer weight counts once (at the DequantizeLinear or QLinearConv reading it),
scales and zero points never, and the float Conv after a DequantizeLinear counts 0."""

import numpy as np
import pytest
from nn_cases import F, build, check, init, node_of
from onnx import TensorProto, helper, numpy_helper


def arr(name, value, dtype):
    return numpy_helper.from_array(np.asarray(value, dtype), name)


@pytest.mark.parametrize("zero_point", [None, np.uint8, np.int8])
def test_quantize_linear_per_tensor(zero_point):
    inputs = ["x", "s"] + (["z"] if zero_point else [])
    inits = [arr("s", 0.1, np.float32)] + ([arr("z", 3, zero_point)] if zero_point else [])
    report = check(build([helper.make_node("QuantizeLinear", inputs, ["y"])], [("x", F, ("N", 4))], inits),
                   {"N": 3})
    q = node_of(report, "QuantizeLinear")
    assert q.params == 0
    assert q.outputs[0].dtype == ("uint8" if zero_point in (None, np.uint8) else "int8")


def test_quantize_linear_per_axis_and_output_dtype():
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], axis=1, output_dtype=TensorProto.INT8)
    report = check(build([node], [("x", F, (2, 3, 4))], [arr("s", [0.1, 0.2, 0.3], np.float32)], opset=21))
    assert node_of(report, "QuantizeLinear").outputs[0].dtype == "int8"


def test_blocked_quantize_dequantize_opset21():
    scale = arr("s", np.full((2, 3), 0.1), np.float32)  # 6 columns in blocks of 2 along axis 1
    q = helper.make_node("QuantizeLinear", ["x", "s"], ["q"], axis=1, block_size=2, output_dtype=TensorProto.INT8)
    dq = helper.make_node("DequantizeLinear", ["q", "s"], ["y"], axis=1, block_size=2)
    check(build([q, dq], [("x", F, (2, 6))], [scale], opset=21))


def test_scale_that_does_not_fit_the_axis_is_a_warning():
    from onnxinspect import inspect_model

    node = helper.make_node("DequantizeLinear", ["w", "s"], ["y"], axis=0)
    report = inspect_model(build([node], [], [init("w", (4, 3), np.int8), arr("s", [0.1] * 3, np.float32)]))
    assert node_of(report, "DequantizeLinear").outputs[0].shape is None and report.warnings


def _qdq_conv(cout=8, cin=4, k=3):
    inits = [init("wq", (cout, cin, k, k), np.int8), arr("ws", np.full(cout, 0.05), np.float32),
             arr("wz", np.zeros(cout), np.int8), init("b", (cout,))]
    nodes = [helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0),
             helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])]
    return build(nodes, [("x", F, ("N", cin, 6, 6))], inits, opset=13)


def test_dequantized_weight_counts_at_the_dequantize_node():
    report = check(_qdq_conv(), {"N": 2}, explain=True)
    dq, conv = node_of(report, "DequantizeLinear"), node_of(report, "Conv")
    assert dq.params == 8 * 4 * 3 * 3           # the int8 kernel; scale and zero point are metadata
    assert conv.params == 8                     # only the float bias; the kernel is derived
    assert report.totals.params == 8 * 4 * 3 * 3 + 8
    assert report.totals.bytes_by_dtype["int8"] == 8 * 4 * 3 * 3
    assert any("metadata" in text for kind, text in dq.explanations if kind == "params")


def test_float_weight_quantized_in_graph_counts_once_at_quantize_linear():
    inits = [init("wf", (6, 5)), arr("s", 0.05, np.float32), arr("z", 0, np.int8)]
    nodes = [helper.make_node("QuantizeLinear", ["wf", "s", "z"], ["wq"]),
             helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["w"]),
             helper.make_node("MatMul", ["x", "w"], ["y"])]
    report = check(build(nodes, [("x", F, ("N", 6))], inits, opset=13), {"N": 2})
    assert [n.params for n in report.nodes] == [30, 0, 0]
    assert report.totals.params == 30


def test_dynamic_quantize_linear():
    report = check(build([helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])], [("x", F, ("N", 5))]),
                   {"N": 3})
    y, s, z = node_of(report, "DynamicQuantizeLinear").outputs
    assert (y.dtype, s.dtype, z.dtype) == ("uint8", "float32", "uint8") and s.shape == z.shape == ()


@pytest.mark.parametrize("attrs", [dict(pads=[1, 1, 1, 1]), dict(strides=[2, 2]), dict(group=2, dilations=[2, 2])])
def test_qlinear_conv(attrs):
    group = attrs.get("group", 1)
    w = (6, 4 // group, 3, 3)
    inits = [arr("xs", 0.1, np.float32), arr("xz", 128, np.uint8), init("w", w, np.uint8, low=0, high=255),
             arr("wsc", 0.02, np.float32), arr("wz", 120, np.uint8), arr("ys", 0.3, np.float32),
             arr("yz", 100, np.uint8), init("b", (6,), np.int32)]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "wsc", "wz", "ys", "yz", "b"], ["y"], **attrs)
    report = check(build([node], [("x", TensorProto.UINT8, (1, 4, 9, 9))], inits))
    qc = node_of(report, "QLinearConv")
    assert qc.params == (3 * 3 * 4 // group + 1) * 6
    assert qc.outputs[0].dtype == "uint8"
    out = qc.outputs[0].shape
    assert qc.macs == out[0] * out[1] * out[2] * out[3] * w[1] * 9


def test_conv_integer():
    inits = [init("w", (5, 3, 2, 2), np.uint8, low=0, high=255), arr("xz", 1, np.uint8)]
    node = helper.make_node("ConvInteger", ["x", "w", "xz"], ["y"], strides=[2, 2])
    report = check(build([node], [("x", TensorProto.UINT8, ("N", 3, 7, 8))], inits), {"N": 2})
    ci = node_of(report, "ConvInteger")
    assert ci.params == 5 * 3 * 2 * 2 and ci.outputs[0].dtype == "int32"
