"""Element-wise rules: broadcasting, unary/activation ops, Softmax family, Cast, Dropout,
Where, Clip — shapes and dtypes against onnxruntime and onnx.shape_inference, FLOPs
against the module's convention (one per output element, n-1 for n-ary reductions
of inputs, three for Softmax, none for data movement)."""

import numpy as np
import pytest
from onnx import TensorProto, helper
from tensor_cases import I64, B, F, build, check, const, single

BROADCAST = {
    "same": ([2, 3], [2, 3]),
    "scalar": ([2, 3, 4], []),
    "trailing": ([2, 3, 4], [4]),
    "both_ways": ([2, 1, 4], [3, 1]),
    "rank_up": ([5], [2, 3, 1]),
}
BINARY = ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Equal", "Less", "Greater",
          "LessOrEqual", "GreaterOrEqual")


@pytest.mark.parametrize("a,b", BROADCAST.values(), ids=BROADCAST.keys())
@pytest.mark.parametrize("op", BINARY)
def test_binary_broadcasting(op, a, b):
    report = check(build([helper.make_node(op, ["a", "b"], ["y"])], [("a", F, a), ("b", F, b)]))
    out = report.nodes[0].outputs[0].shape
    assert out == np.broadcast_shapes(tuple(a), tuple(b))
    assert report.nodes[0].flops == int(np.prod(out))


@pytest.mark.parametrize("op,dtype", [("And", B), ("Or", B), ("Xor", B),
                                      ("BitwiseAnd", I64), ("BitwiseOr", I64), ("BitwiseXor", I64)])
def test_logical_and_integer_binary_ops(op, dtype):
    check(build([helper.make_node(op, ["a", "b"], ["y"])], [("a", dtype, [2, 1, 3]), ("b", dtype, [4, 1])],
                opset=18))


def test_fmod_on_floats():
    check(build([helper.make_node("Mod", ["a", "b"], ["y"], fmod=1)], [("a", F, [2, 1, 3]), ("b", F, [4, 1])]))


def test_bit_shift_on_unsigned():
    u8 = TensorProto.UINT8
    check(build([helper.make_node("BitShift", ["a", "b"], ["y"], direction="LEFT")],
                [("a", u8, [2, 3]), ("b", u8, [3])]))


@pytest.mark.parametrize("op", ["Sum", "Max", "Min", "Mean"])
def test_variadic_ops_cost_n_minus_one_per_element(op):
    report = check(build([helper.make_node(op, ["a", "b", "c"], ["y"])],
                         [("a", F, [2, 3, 4]), ("b", F, [4]), ("c", F, [3, 1])]))
    assert report.nodes[0].flops == 2 * 24


UNARY = ("Relu", "Sigmoid", "Tanh", "Exp", "Log", "Abs", "Neg", "Sqrt", "Reciprocal", "Floor",
         "Ceil", "Round", "Sign", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh",
         "Cosh", "Asinh", "Acosh", "Atanh", "Softplus", "Softsign", "Elu", "Selu", "Celu",
         "LeakyRelu", "HardSigmoid", "HardSwish", "ThresholdedRelu", "Mish", "Shrink", "IsNaN",
         "IsInf")


@pytest.mark.parametrize("op", UNARY)
def test_unary_ops_keep_the_shape(op):
    report = check(build([helper.make_node(op, ["x"], ["y"])], [("x", F, ["N", 3, 5])], opset=18), {"N": 2})
    assert report.nodes[0].outputs[0].shape[1:] == (3, 5)
    assert report.nodes[0].outputs[0].dtype == ("bool" if op.startswith("Is") else "float32")


def test_gelu_opset20_and_not_bitwise_not():
    check(build([helper.make_node("Gelu", ["x"], ["y"], approximate="tanh")], [("x", F, [2, 3])], opset=20))
    check(build([helper.make_node("Not", ["x"], ["y"])], [("x", B, [2, 3])]))
    check(build([helper.make_node("BitwiseNot", ["x"], ["y"])], [("x", I64, [2, 3])], opset=18))


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("opset,axis", [(11, 1), (13, -1), (13, 0)])
def test_softmax_family(op, opset, axis):
    report = check(build([helper.make_node(op, ["x"], ["y"], axis=axis)], [("x", F, [2, 3, 4])], opset=opset))
    assert report.nodes[0].flops == 3 * 24


@pytest.mark.parametrize("to", [TensorProto.INT64, TensorProto.FLOAT16, TensorProto.BOOL, TensorProto.DOUBLE])
def test_cast_changes_only_the_dtype(to):
    report = check(build([helper.make_node("Cast", ["x"], ["y"], to=to)], [("x", F, [2, 3])]))
    assert report.nodes[0].flops == 0


def test_cast_like_takes_the_second_inputs_dtype():
    report = check(build([helper.make_node("CastLike", ["x", "t"], ["y"])],
                         [("x", F, [2, 3]), ("t", TensorProto.INT32, [1])], opset=15))
    assert report.nodes[0].outputs[0].dtype == "int32"


@pytest.mark.parametrize("opset,extra", [(7, []), (12, ["r"]), (13, ["r", "t"])])
def test_dropout_mask_output(opset, extra):
    inits = {"r": const("r", 0.5, np.float32), "t": const("t", False, bool)}
    node = helper.make_node("Dropout", ["x"] + extra, ["y", "mask"])
    report = check(build([node], [("x", F, [2, 3, 4])], [inits[n] for n in extra], opset, outputs=["y", "mask"]))
    assert report.nodes[0].outputs[1].dtype == "bool" and report.nodes[0].params == 0


def test_identity_and_where():
    model = build([helper.make_node("Identity", ["x"], ["i"]),
                   helper.make_node("Where", ["c", "i", "z"], ["y"])],
                  [("x", F, [3, 1]), ("c", B, [1, 4]), ("z", F, [2, 1, 1])])
    report = check(model)
    assert report.nodes[1].outputs[0].shape == (2, 3, 4)


@pytest.mark.parametrize("opset", [6, 11, 13])
def test_clip_bounds_are_not_parameters(opset):
    if opset < 11:
        node, inits = helper.make_node("Clip", ["x"], ["y"], min=0.0, max=6.0), []
    else:
        node = helper.make_node("Clip", ["x", "lo", "hi"], ["y"])
        inits = [const("lo", 0.0, np.float32), const("hi", 6.0, np.float32)]
    report = check(build([node], [("x", F, [2, 3])], inits, opset))
    assert report.nodes[0].params == 0


# Opset 6's per-channel (C,) slope is covered by the onnx wheel's PReLU models.
@pytest.mark.parametrize("opset,slope", [(7, [3, 1, 1]), (9, [5]), (16, [1])])
def test_prelu_slope_is_a_parameter(opset, slope):
    model = single("PRelu", [("x", F, [2, 3, 4, 5])], ["x", "s"], ["y"],
                   [const("s", np.full(slope, 0.25), np.float32)], opset)
    report = check(model)
    assert report.nodes[0].outputs[0].shape == (2, 3, 4, 5)
    assert report.nodes[0].params == int(np.prod(slope))
