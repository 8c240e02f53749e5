"""Pool shapes (MaxPool with Indices, AveragePool, LpPool, Global pools, RoiAlign,
MaxRoiPool) against onnxruntime and onnx.shape_inference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nn_cases import F, build, check, node_of
from onnx import TensorProto, helper, numpy_helper

POOL_CASES = {
    # id: (op, input shape, attributes, opset)
    "max_2x2": ("MaxPool", (1, 3, 8, 9), dict(kernel_shape=[2, 2], strides=[2, 2]), 17),
    "max_3x3_s2_pad1": ("MaxPool", (1, 3, 9, 10), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), 17),
    "max_ceil": ("MaxPool", (1, 2, 9, 10), dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1), 17),
    "max_ceil_drops_window_in_pad": ("MaxPool", (1, 2, 5, 5),
                                     dict(kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1), 22),
    "max_dilation": ("MaxPool", (1, 2, 11, 12), dict(kernel_shape=[3, 2], dilations=[2, 3], strides=[1, 2]), 17),
    "max_same_upper": ("MaxPool", (1, 2, 7, 8), dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"), 17),
    "max_same_lower": ("MaxPool", (1, 2, 7, 8), dict(kernel_shape=[2, 2], strides=[2, 3], auto_pad="SAME_LOWER"), 17),
    "max_valid": ("MaxPool", (1, 2, 7, 8), dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="VALID"), 17),
    "max_1d": ("MaxPool", (2, 3, 15), dict(kernel_shape=[3], strides=[2], pads=[1, 0]), 17),
    "max_3d": ("MaxPool", (1, 2, 6, 7, 8), dict(kernel_shape=[2, 2, 3], strides=[2, 2, 2]), 17),
    "avg_2x2": ("AveragePool", (1, 3, 8, 9), dict(kernel_shape=[2, 2], strides=[2, 2]), 17),
    "avg_pad_count": ("AveragePool", (1, 3, 7, 7),
                      dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1), 17),
    "avg_ceil": ("AveragePool", (1, 3, 7, 8), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1), 17),
    "avg_dilation": ("AveragePool", (1, 3, 11, 11), dict(kernel_shape=[2, 2], dilations=[2, 2]), 19),
    "avg_same": ("AveragePool", (1, 3, 7, 8), dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"), 17),
    "avg_1d": ("AveragePool", (2, 3, 15), dict(kernel_shape=[4], strides=[3]), 17),
    "avg_3d": ("AveragePool", (1, 2, 6, 7, 8),
               dict(kernel_shape=[3, 3, 3], pads=[1, 1, 1, 1, 1, 1], strides=[2, 2, 2]), 17),
    "lp_2x2": ("LpPool", (1, 3, 8, 9), dict(kernel_shape=[2, 2], strides=[2, 2], p=2), 17),
    "lp_ceil": ("LpPool", (1, 3, 9, 9), dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1), 18),
    "lp_dilation": ("LpPool", (1, 3, 9, 9), dict(kernel_shape=[2, 2], dilations=[2, 2], p=3), 18),
}


def _model(op, x, attrs, opset, shape=None, indices=False):
    outputs = ["y", "i"] if indices else ["y"]
    return build([helper.make_node(op, ["x"], outputs, **attrs)], [("x", F, shape or x)], opset=opset)


@pytest.mark.parametrize("op,x,attrs,opset", POOL_CASES.values(), ids=POOL_CASES.keys())
def test_pool_shapes_match_ort_and_onnx(op, x, attrs, opset):
    check(_model(op, x, attrs, opset))


@pytest.mark.parametrize("case", ["max_2x2", "max_3x3_s2_pad1", "max_dilation", "max_1d"])
def test_max_pool_indices_output_is_int64_and_matches(case):
    op, x, attrs, opset = POOL_CASES[case]
    report = check(_model(op, x, attrs, opset, indices=True))
    y, i = node_of(report, "MaxPool").outputs
    assert i.dtype == "int64" and i.shape == y.shape


@pytest.mark.parametrize("case", ["max_2x2", "max_3x3_s2_pad1", "max_ceil", "max_dilation", "avg_same",
                                  "avg_ceil", "lp_2x2", "max_1d", "avg_3d"])
def test_pool_symbolic_dims_substitute_to_ort(case):
    op, x, attrs, opset = POOL_CASES[case]
    symbolic = ["N", x[1]] + ["D", "H", "W"][3 - (len(x) - 2):]
    bindings = {name: size for name, size in zip(symbolic, x, strict=True) if isinstance(name, str)}
    check(_model(op, x, attrs, opset, shape=symbolic), bindings)


def test_ceil_mode_drops_the_window_in_the_right_pad_before_opset_22_too():
    # onnx.shape_inference only applies the rule from opset 22; onnxruntime always does.
    op, x, attrs, _ = POOL_CASES["max_ceil_drops_window_in_pad"]
    report = check(_model(op, x, attrs, 17), onnx_truth=False)
    assert node_of(report, "MaxPool").outputs[0].shape == (1, 2, 3, 3)


@pytest.mark.parametrize("size", [4, 5, 6, 7])
@pytest.mark.parametrize("pads", [[1, 1], [0, 1], [1, 0]])
def test_ceil_mode_window_drop_is_decided_for_a_symbolic_size(size, pads):
    attrs = dict(kernel_shape=[2], strides=[2], pads=pads, ceil_mode=1)
    check(_model("MaxPool", (1, 2, size), attrs, 22, shape=["N", 2, "L"]), {"N": 1, "L": size})


def test_max_pool_2x2_explain_says_it_halves():
    op, x, attrs, opset = POOL_CASES["max_2x2"]
    report = check(_model(op, (1, 32, 96, 96), attrs, opset), explain=True)
    texts = [t for k, t in node_of(report, "MaxPool").explanations if k == "shape"]
    assert texts[0] == "H: ⌊(96 + 0 + 0 − 1·(2−1) − 1)/2⌋ + 1 = 48 — halves 96 → 48"


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"])
@pytest.mark.parametrize("x", [(2, 3, 5), (1, 4, 5, 6), (1, 2, 3, 4, 5)])
def test_global_pools(op, x):
    check(build([helper.make_node(op, ["x"], ["y"])], [("x", F, x)]))
    symbolic = ["N", x[1]] + [f"S{i}" for i in range(len(x) - 2)]
    check(build([helper.make_node(op, ["x"], ["y"])], [("x", F, symbolic)]),
          {"N": x[0], **{f"S{i}": d for i, d in enumerate(x[2:])}})


def _rois(name, rows, columns):
    boxes = np.tile(np.array([0, 0, 0, 3, 3][:columns] if columns == 4 else [0, 0, 0, 3, 3], np.float32), (rows, 1))
    return numpy_helper.from_array(boxes, name)


def test_roi_align():
    batch = numpy_helper.from_array(np.zeros(3, np.int64), "batch")
    node = helper.make_node("RoiAlign", ["x", "rois", "batch"], ["y"], output_height=4, output_width=5,
                            sampling_ratio=2)
    report = check(build([node], [("x", F, (1, 6, 8, 8))], [_rois("rois", 3, 4), batch], opset=16))
    assert node_of(report, "RoiAlign").params == 0
    assert node_of(report, "RoiAlign").flops == 4 * 2 * 2 * 3 * 6 * 4 * 5


def test_max_roi_pool():
    node = helper.make_node("MaxRoiPool", ["x", "rois"], ["y"], pooled_shape=[2, 3])
    report = check(build([node], [("x", F, (1, 6, 8, 8))], [_rois("rois", 4, 5)]))
    pool = node_of(report, "MaxRoiPool")
    assert pool.params == 0 and pool.flops is None


def test_pool_int_input_dtype_preserved():
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2])
    report = check(build([node], [("x", TensorProto.UINT8, (1, 1, 4, 4))], opset=12))
    assert node_of(report, "MaxPool").outputs[0].dtype == "uint8"


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.data(),
       st.sampled_from(["MaxPool", "AveragePool"]), st.booleans())
def test_random_pool_1d_matches_ort(k, s, d, data, op, ceil_mode):
    pads = [data.draw(st.integers(0, k - 1)) for _ in range(2)]
    size = data.draw(st.integers(d * (k - 1) + 1, 12))
    attrs = dict(kernel_shape=[k], strides=[s], pads=pads, ceil_mode=int(ceil_mode), dilations=[d])
    check(_model(op, (1, 2, size), attrs, 22, shape=["N", 2, "L"]), {"N": 1, "L": size})


def test_dilated_same_pool_follows_the_spec_and_warns_that_onnxruntime_differs():
    from truth import onnx_shapes

    from onnxinspect import inspect_model

    model = _model("MaxPool", (1, 2, 7), dict(kernel_shape=[3], dilations=[2], auto_pad="SAME_UPPER"), 22)
    report = inspect_model(model)
    assert node_of(report, "MaxPool").outputs[0].shape == onnx_shapes(model)["y"] == (1, 2, 7)
    assert any("onnxruntime" in w for w in report.warnings)
