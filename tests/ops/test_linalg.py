"""Gemm, MatMul (batched, broadcasting, 1-D), MatMulInteger, QLinearMatMul and Einsum
shapes against onnxruntime and onnx.shape_inference; Gemm parameters ``(K + 1)·N``."""

import numpy as np
import pytest
from nn_cases import F, build, check, init, node_of
from onnx import TensorProto, helper, numpy_helper

GEMM_CASES = {
    # id: (A shape, B shape, C shape or None, attributes)
    "dense_bias": ((4, 16), (16, 10), (10,), {}),
    "transB_torch_linear": ((4, 16), (10, 16), (10,), dict(transB=1)),
    "transA": ((16, 4), (16, 10), (1, 10), dict(transA=1)),
    "transA_transB": ((16, 4), (10, 16), (4, 10), dict(transA=1, transB=1, alpha=0.5, beta=2.0)),
    "scalar_c": ((4, 16), (16, 10), (), dict(beta=0.5)),
    "column_c": ((4, 16), (16, 10), (4, 1), {}),
    "no_c": ((4, 16), (16, 10), None, dict(alpha=2.0)),
}


def _gemm(a, b, c, attrs, a_shape=None):
    inputs = ["a", "b"] + (["c"] if c is not None else [])
    inits = [init("b", b)] + ([init("c", c)] if c is not None else [])
    return build([helper.make_node("Gemm", inputs, ["y"], **attrs)], [("a", F, a_shape or a)], inits)


@pytest.mark.parametrize("a,b,c,attrs", GEMM_CASES.values(), ids=GEMM_CASES.keys())
def test_gemm_shapes_params_and_flops(a, b, c, attrs):
    node = node_of(check(_gemm(a, b, c, attrs)), "Gemm")
    m, k = (a[1], a[0]) if attrs.get("transA") else a
    n = b[0] if attrs.get("transB") else b[1]
    c_size = int(np.prod(c)) if c is not None else 0
    assert node.params == k * n + c_size
    assert node.macs == m * n * k
    per_output = int(attrs.get("alpha", 1.0) != 1.0) + (
        (1 + int(attrs.get("beta", 1.0) != 1.0)) if c is not None else 0)
    assert node.flops == 2 * m * n * k + per_output * m * n


def test_gemm_symbolic_batch():
    check(_gemm((4, 16), (10, 16), (10,), dict(transB=1), a_shape=("N", 16)), {"N": 3})


def test_gemm_explain_dense_layer():
    report = check(_gemm((1, 1600), (1600, 10), (10,), {}), explain=True)
    texts = dict(node_of(report, "Gemm").explanations)
    assert texts["params"] == "(n + 1)·m = (1600 + 1)·10 = 16,010"
    assert "K = 1600" in texts["shape"] and "(1, 1600)" in texts["shape"]


MATMUL_CASES = {
    "2d": ((3, 4), (4, 5)),
    "batched": ((2, 3, 4), (2, 4, 5)),
    "broadcast_b_2d": ((2, 3, 4), (4, 5)),
    "broadcast_a_2d": ((3, 4), (6, 4, 5)),
    "broadcast_leading_ones": ((2, 1, 3, 4), (1, 5, 4, 6)),
    "a_1d": ((4,), (2, 4, 5)),
    "b_1d": ((2, 3, 4), (4,)),
    "both_1d": ((4,), (4,)),
    "a_1d_b_2d": ((4,), (4, 5)),
}


@pytest.mark.parametrize("a,b", MATMUL_CASES.values(), ids=MATMUL_CASES.keys())
def test_matmul_shapes_match_ort_and_onnx(a, b):
    model = build([helper.make_node("MatMul", ["a", "b"], ["y"])], [("a", F, a), ("b", F, b)])
    node = node_of(check(model), "MatMul")
    out = np.matmul(np.zeros(a), np.zeros(b)).shape
    k = a[-1]
    m = a[-2] if len(a) > 1 else 1
    n = b[-1] if len(b) > 1 else 1
    batch = int(np.prod(out)) // (m * n)
    assert node.macs == batch * m * n * k and node.flops == 2 * node.macs


def test_matmul_symbolic_batch_and_sequence():
    model = build([helper.make_node("MatMul", ["a", "w"], ["y"])], [("a", F, ("B", "T", 8))], [init("w", (8, 3))])
    report = check(model, {"B": 2, "T": 5})
    assert str(node_of(report, "MatMul").macs) == "24*B*T"
    assert node_of(report, "MatMul").params == 24


def test_matmul_integer():
    zero = numpy_helper.from_array(np.array(1, np.uint8), "azp")
    node = helper.make_node("MatMulInteger", ["a", "b", "azp"], ["y"])
    model = build([node], [("a", TensorProto.UINT8, ("N", 4))], [init("b", (4, 6), np.uint8, low=0), zero])
    report = check(model, {"N": 3})
    mm = node_of(report, "MatMulInteger")
    assert mm.outputs[0].dtype == "int32" and mm.params == 24  # the zero point is metadata


def test_qlinear_matmul():
    def scalar(name, value, dtype):
        return numpy_helper.from_array(np.array(value, dtype), name)

    inits = [scalar("as", 0.1, np.float32), scalar("az", 128, np.uint8), init("b", (4, 6), np.uint8, low=0, high=255),
             scalar("bs", 0.2, np.float32), scalar("bz", 100, np.uint8), scalar("ys", 0.3, np.float32),
             scalar("yz", 120, np.uint8)]
    node = helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])
    report = check(build([node], [("a", TensorProto.UINT8, (2, 3, 4))], inits))
    mm = node_of(report, "QLinearMatMul")
    assert mm.params == 24 and mm.outputs[0].dtype == "uint8" and mm.macs == 2 * 3 * 6 * 4


EINSUM_CASES = {
    "matmul": ("ij,jk->ik", [(3, 4), (4, 5)]),
    "batched": ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    "attention": ("bhqd,bhkd->bhqk", [(2, 3, 4, 8), (2, 3, 5, 8)]),
    "ellipsis": ("...ij,...jk->...ik", [(2, 3, 4, 5), (2, 3, 5, 6)]),
    "ellipsis_broadcast": ("...ij,jk->...ik", [(2, 3, 4, 5), (5, 6)]),
    "ellipsis_middle": ("i...j,j->i...", [(2, 3, 4, 5), (5,)]),
    "implicit": ("ij,jk", [(3, 4), (4, 5)]),
    "implicit_sorted": ("ba", [(3, 4)]),
    "transpose": ("ij->ji", [(3, 4)]),
    "trace_diag": ("ii->i", [(4, 4)]),
    "sum_all": ("ij->", [(3, 4)]),
    "outer": ("i,j->ij", [(3,), (4,)]),
    "dot": ("i,i", [(5,), (5,)]),
    "spaces": (" ij , jk -> ik ", [(3, 4), (4, 5)]),
    "three_operands": ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
}


@pytest.mark.parametrize("equation,shapes", EINSUM_CASES.values(), ids=EINSUM_CASES.keys())
def test_einsum_shapes_match_ort_numpy_and_onnx(equation, shapes):
    names = [f"x{i}" for i in range(len(shapes))]
    model = build([helper.make_node("Einsum", names, ["y"], equation=equation)],
                  [(n, F, s) for n, s in zip(names, shapes, strict=True)], opset=12)
    node = node_of(check(model), "Einsum")
    assert node.outputs[0].shape == np.einsum(equation.replace(" ", ""), *[np.zeros(s) for s in shapes]).shape


def test_einsum_macs_of_a_matmul_equal_matmul_macs():
    model = build([helper.make_node("Einsum", ["a", "b"], ["y"], equation="bij,bjk->bik")],
                  [("a", F, ("B", 3, 4)), ("b", F, ("B", 4, 5))], opset=12)
    node = node_of(check(model, {"B": 2}), "Einsum")
    assert str(node.macs) == f"{3 * 4 * 5}*B"


def test_einsum_bad_equation_is_a_warning():
    from onnxinspect import inspect_model

    model = build([helper.make_node("Einsum", ["a"], ["y"], equation="ijk->i")], [("a", F, (3, 4))], opset=12)
    report = inspect_model(model)
    assert node_of(report, "Einsum").outputs[0].shape is None and report.warnings
