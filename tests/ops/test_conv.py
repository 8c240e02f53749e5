"""Conv / ConvTranspose shapes against onnxruntime and onnx.shape_inference, and the
parameter count against the article's formula ``(k·k·Cin/group + 1)·Cout``."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nn_cases import F, build, check, init, node_of
from onnx import helper

CONV_CASES = {
    # id: (input shape, weight shape, attributes, bias)
    "3x3_pad1": ((1, 3, 9, 9), (8, 3, 3, 3), dict(pads=[1, 1, 1, 1]), True),
    "no_bias": ((2, 3, 9, 9), (8, 3, 3, 3), {}, False),
    "stride2": ((1, 3, 10, 11), (4, 3, 3, 3), dict(strides=[2, 2]), True),
    "stride2_pad1": ((1, 3, 10, 11), (4, 3, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1]), True),
    "asymmetric_pads": ((1, 2, 7, 8), (4, 2, 3, 2), dict(pads=[0, 1, 2, 0]), True),
    "dilation2": ((1, 2, 12, 12), (4, 2, 3, 3), dict(dilations=[2, 2]), True),
    "dilation_stride": ((1, 2, 15, 13), (4, 2, 3, 3), dict(dilations=[2, 3], strides=[2, 1], pads=[1, 2, 1, 2]), True),
    "groups2": ((1, 4, 8, 8), (6, 2, 3, 3), dict(group=2, pads=[1, 1, 1, 1]), True),
    "depthwise": ((1, 6, 8, 8), (6, 1, 3, 3), dict(group=6), True),
    "same_upper": ((1, 3, 11, 10), (4, 3, 3, 3), dict(auto_pad="SAME_UPPER", strides=[2, 2]), True),
    "same_lower": ((1, 3, 11, 10), (4, 3, 4, 4), dict(auto_pad="SAME_LOWER", strides=[2, 3]), True),
    "valid": ((1, 3, 11, 10), (4, 3, 3, 3), dict(auto_pad="VALID", strides=[2, 2]), True),
    "kernel_shape_attr": ((1, 3, 9, 9), (4, 3, 5, 3), dict(kernel_shape=[5, 3]), True),
    "1d": ((2, 3, 17), (5, 3, 4), dict(strides=[3], pads=[1, 2]), True),
    "3d": ((1, 2, 6, 7, 8), (3, 2, 3, 3, 3), dict(pads=[1, 0, 1, 1, 0, 1], strides=[1, 2, 2]), True),
    "1x1": ((1, 16, 5, 5), (32, 16, 1, 1), {}, True),
}


def _conv_model(x, w, attrs, bias, op="Conv", shape=None):
    inputs = ["x", "w"] + (["b"] if bias else [])
    cout = w[0] if op == "Conv" else w[1] * attrs.get("group", 1)
    inits = [init("w", w)] + ([init("b", (cout,))] if bias else [])
    return build([helper.make_node(op, inputs, ["y"], **attrs)], [("x", F, shape or x)], inits)


@pytest.mark.parametrize("x,w,attrs,bias", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv_shapes_match_ort_and_onnx(x, w, attrs, bias):
    report = check(_conv_model(x, w, attrs, bias))
    node = node_of(report, "Conv")
    k = 1
    for d in w[2:]:
        k *= d
    group = attrs.get("group", 1)
    assert node.params == (k * x[1] // group + int(bias)) * w[0]


@pytest.mark.parametrize("case", ["stride2_pad1", "dilation_stride", "same_upper", "same_lower", "valid", "1d", "3d"])
def test_conv_symbolic_dims_substitute_to_ort(case):
    x, w, attrs, bias = CONV_CASES[case]
    names = ["N", "C", "D", "H", "W"]
    symbolic = ["N", x[1]] + names[5 - (len(x) - 2):]
    bindings = {name: size for name, size in zip(symbolic, x, strict=True) if isinstance(name, str)}
    check(_conv_model(x, w, attrs, bias, shape=symbolic), bindings)


def test_stride2_conv_on_symbolic_height_is_a_floor_expression():
    x, w, attrs, bias = CONV_CASES["stride2_pad1"]
    report = check(_conv_model(x, w, attrs, bias, shape=["N", 3, "H", "W"]), {"N": 1, "H": 10, "W": 11})
    assert [str(d) for d in node_of(report, "Conv").outputs[0].shape] == \
        ["N", "4", "floor((H + 1)/2)", "floor((W + 1)/2)"]


TRANSPOSE_CASES = {
    "k2_s2": ((1, 8, 5, 6), (8, 4, 2, 2), dict(strides=[2, 2]), True),
    "k3_s2_pad1": ((1, 8, 5, 6), (8, 4, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1]), True),
    "output_padding": ((1, 8, 5, 6), (8, 4, 3, 3),
                       dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]), True),
    "output_shape": ((1, 8, 5, 6), (8, 4, 3, 3), dict(strides=[2, 2], output_shape=[10, 12]), False),
    "dilation": ((1, 4, 5, 5), (4, 2, 3, 3), dict(dilations=[2, 2]), True),
    "groups": ((1, 4, 5, 5), (4, 3, 3, 3), dict(group=2, strides=[2, 1]), True),
    "same_upper": ((1, 4, 5, 7), (4, 2, 3, 3), dict(auto_pad="SAME_UPPER", strides=[2, 2]), True),
    "same_lower": ((1, 4, 5, 7), (4, 2, 4, 4), dict(auto_pad="SAME_LOWER", strides=[2, 3]), True),
    "valid": ((1, 4, 5, 7), (4, 2, 3, 3), dict(auto_pad="VALID", strides=[2, 2]), True),
    "1d": ((2, 3, 9), (3, 5, 4), dict(strides=[3], pads=[1, 2]), True),
    "3d": ((1, 2, 3, 4, 5), (2, 3, 2, 3, 2), dict(strides=[2, 2, 2], pads=[0, 1, 0, 0, 1, 0]), True),
}


@pytest.mark.parametrize("x,w,attrs,bias", TRANSPOSE_CASES.values(), ids=TRANSPOSE_CASES.keys())
def test_conv_transpose_shapes_match_ort_and_onnx(x, w, attrs, bias):
    report = check(_conv_model(x, w, attrs, bias, op="ConvTranspose"))
    node = node_of(report, "ConvTranspose")
    k = 1
    for d in w[2:]:
        k *= d
    cout = w[1] * attrs.get("group", 1)
    assert node.params == k * w[0] * w[1] + (cout if bias else 0)


@pytest.mark.parametrize("case", ["k3_s2_pad1", "output_padding", "same_upper", "valid", "1d"])
def test_conv_transpose_symbolic_dims_substitute_to_ort(case):
    x, w, attrs, bias = TRANSPOSE_CASES[case]
    symbolic = ["N", x[1]] + ["H", "W"][2 - (len(x) - 2):]
    bindings = {name: size for name, size in zip(symbolic, x, strict=True) if isinstance(name, str)}
    check(_conv_model(x, w, attrs, bias, op="ConvTranspose", shape=symbolic), bindings)


def test_explain_conv_gives_the_article_formulas():
    model = _conv_model((1, 32, 96, 96), (64, 32, 3, 3), dict(pads=[1, 1, 1, 1]), True)
    lines = dict()
    for kind, text in node_of(check(model, explain=True), "Conv").explanations:
        lines.setdefault(kind, []).append(text)
    assert lines["params"] == ["(3·3·32/1 + 1)·64 = 18,496"]
    assert lines["shape"][0] == "H: ⌊(96 + 1 + 1 − 1·(3−1) − 1)/1⌋ + 1 = 96 — keeps 96"
    macs = 96 * 96 * 64 * 32 * 9
    assert f"{macs:,}" in lines["flops"][0] and f"{2 * macs + 96 * 96 * 64:,}" in lines["flops"][0]


def test_explain_conv_transpose_formula():
    model = _conv_model((1, 8, 48, 48), (8, 4, 2, 2), dict(strides=[2, 2]), True, op="ConvTranspose")
    texts = [t for k, t in node_of(check(model, explain=True), "ConvTranspose").explanations]
    assert "2·2·8·4/1 + 4 = 132" in texts
    assert "H: (48−1)·2 − (0 + 0) + 1·(2−1) + 0 + 1 = 96 — doubles 48 → 96" in texts


def test_channel_mismatch_is_a_warning_not_a_crash():
    from onnxinspect import inspect_model

    report = inspect_model(_conv_model((1, 3, 8, 8), (4, 2, 3, 3), {}, False))
    assert node_of(report, "Conv").outputs[0].shape is None
    assert any("channels" in w for w in report.warnings)


@st.composite
def _window_config(draw):
    k = draw(st.integers(1, 4))
    d = draw(st.integers(1, 3))
    s = draw(st.integers(1, 3))
    pads = [draw(st.integers(0, k - 1)) for _ in range(2)]
    size = draw(st.integers(d * (k - 1) + 1, 12))
    return size, k, s, d, pads


@settings(max_examples=40, deadline=None)
@given(_window_config(), st.sampled_from(["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
def test_random_conv_1d_matches_ort(config, auto_pad):
    size, k, s, d, pads = config
    if auto_pad.startswith("SAME"):
        d = 1  # onnxruntime refuses dilated SAME convolutions
    attrs = dict(strides=[s], dilations=[d], auto_pad=auto_pad)
    if auto_pad == "NOTSET":
        attrs["pads"] = pads
    check(_conv_model((1, 2, size), (3, 2, k), attrs, False, shape=["N", 2, "L"]), {"N": 1, "L": size})


@settings(max_examples=60, deadline=None)
@given(_window_config(), st.integers(0, 2), st.sampled_from(["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
def test_random_conv_transpose_1d_matches_ort(config, output_padding, auto_pad):
    size, k, s, d, pads = config
    attrs = dict(strides=[s], dilations=[d], auto_pad=auto_pad, output_padding=[min(output_padding, s - 1)])
    if auto_pad == "NOTSET":
        attrs["pads"] = pads
    check(_conv_model((1, 2, size), (2, 3, k), attrs, True, op="ConvTranspose", shape=["N", 2, "L"]),
          {"N": 1, "L": size})
