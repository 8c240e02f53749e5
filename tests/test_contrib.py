"""com.microsoft contrib ops: every output shape checked against onnxruntime's CPU
kernels, the reused standard rules' parameter counts and the documented costs."""

import numpy as np
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper
from truth import make_model, ort_shapes, our_shapes, random_feeds

from onnxinspect import inspect_model
from onnxinspect.cli import main

F = TensorProto.FLOAT
MS = "com.microsoft"
RNG = np.random.default_rng(0)


def weight(name, shape, dtype=np.float32):
    if np.issubdtype(dtype, np.integer):
        return numpy_helper.from_array(RNG.integers(0, 5, shape).astype(dtype), name)
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(dtype), name)


def scalar(name, value, dtype):
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def contrib_model(op, inputs, outputs, initializers=(), domain=MS, **attrs):
    """One ``op`` node; ``inputs`` are (name, elem_type, shape) graph inputs."""
    node = helper.make_node(op, [n for n in _slots(inputs, initializers)], outputs, domain=domain,
                            name="node", **attrs)
    feeds = [i for i in inputs if i is not None and not isinstance(i, str)]
    return make_model([node], feeds, [(o, F, None) for o in outputs if o], initializers, opset=17,
                      domains={MS: 1})


def _slots(inputs, initializers):
    """Input names in slot order: graph inputs (triples), initializer names (str), '' (omitted)."""
    return ["" if i is None else (i if isinstance(i, str) else i[0]) for i in inputs]


def check_against_ort(model):
    report = inspect_model(model)
    shapes = {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim) for i in model.graph.input}
    actual = ort_shapes(model, random_feeds(model, shapes))
    ours = our_shapes(report)
    assert {k: ours[k] for k in actual} == actual
    assert not report.warnings
    return report


def test_fused_conv_is_conv_plus_activation_and_residual():
    model = contrib_model("FusedConv", [("x", F, [1, 8, 10, 10]), "W", "B", ("z", F, [1, 16, 5, 5])], ["y"],
                          [weight("W", (16, 8, 3, 3)), weight("B", (16,))],
                          activation="Relu", strides=[2, 2], pads=[1, 1, 1, 1])
    report = check_against_ort(model)
    node = report.node("node")
    assert node.params == (3 * 3 * 8 + 1) * 16
    out = 1 * 16 * 5 * 5
    assert node.flops == 2 * out * 8 * 9 + out + out + out   # MACs·2 + bias + Relu + Z


def test_fused_gemm():
    model = contrib_model("FusedGemm", [("a", F, [4, 6]), "B", "C"], ["y"], [weight("B", (5, 6)), weight("C", (5,))],
                          transB=1, activation="LeakyRelu", activation_alpha=0.1)
    node = check_against_ort(model).node("node")
    assert node.params == 6 * 5 + 5
    assert node.flops == 2 * 4 * 5 * 6 + 4 * 5 + 4 * 5       # MACs·2 + C + activation


@pytest.mark.parametrize("attrs,a,b", [
    ({}, [2, 3, 4], [4, 5]),
    ({"transA": 1, "transB": 1, "alpha": 0.5}, [2, 4, 3], [5, 4]),
    ({"transBatchA": 1}, [2, 3, 4], [3, 4, 5]),
    ({"transBatchB": 1, "transB": 1}, [2, 3, 4], [5, 2, 4]),
])
def test_fused_matmul_transposes(attrs, a, b):
    check_against_ort(contrib_model("FusedMatMul", [("a", F, a), ("b", F, b)], ["y"], **attrs))


@pytest.mark.parametrize("op,inputs,per_element", [
    ("Gelu", [("x", F, [2, 7])], 1),
    ("QuickGelu", [("x", F, [2, 7])], 1),
    ("FastGelu", [("x", F, [2, 7])], 1),
    ("FastGelu", [("x", F, [2, 7]), ("bias", F, [7])], 2),
    ("BiasGelu", [("x", F, [2, 7]), ("bias", F, [7])], 2),
])
def test_activations(op, inputs, per_element):
    node = check_against_ort(contrib_model(op, inputs, ["y"])).node("node")
    size = int(np.prod(inputs[0][2]))
    assert node.flops == per_element * size


def test_bias_add_is_two_broadcast_adds():
    """No CPU kernel: the truth is numpy's broadcast of X + bias + skip."""
    inputs = [("x", F, [2, 3, 8]), ("bias", F, [8]), ("skip", F, [2, 3, 8])]
    node = inspect_model(contrib_model("BiasAdd", inputs, ["y"])).node("node")
    assert node.outputs[0].shape == np.broadcast_shapes(*(tuple(i[2]) for i in inputs))
    assert node.flops == 2 * 2 * 3 * 8


@pytest.mark.parametrize("op,slots", [
    ("SkipLayerNormalization", ["gamma", "beta", "bias"]),
    ("SkipLayerNormalization", ["gamma"]),
    ("SkipSimplifiedLayerNormalization", ["gamma", "bias"]),
])
def test_skip_layer_norms(op, slots):
    inits = [weight(n, (8,)) for n in slots]
    model = contrib_model(op, [("x", F, [2, 3, 8]), ("skip", F, [2, 3, 8]), *slots],
                          ["y", "mean", "inv_std", "sum"], inits)
    node = check_against_ort(model).node("node")
    assert node.params == 8 * len(slots)


@pytest.mark.parametrize("axis", [-1, 1])
def test_layer_norm_flavours(axis):
    inits = [weight("g", (3, 8)[axis:] if axis == 1 else (8,)), weight("b", (3, 8)[axis:] if axis == 1 else (8,))]
    for domain in ("", MS):
        model = contrib_model("LayerNormalization", [("x", F, [2, 3, 8]), "g", "b"], ["y"], inits,
                              domain="", axis=axis)
        ours = inspect_model(model)
        if domain == "":
            check_against_ort(model)
        model.graph.node[0].domain = domain
        assert our_shapes(inspect_model(model)) == our_shapes(ours)
    simplified = contrib_model("SimplifiedLayerNormalization", [("x", F, [2, 3, 8]), "g"], ["y", "inv"],
                               inits[:1], domain="", axis=axis)
    check_against_ort(simplified)


def test_attention_output_and_present():
    d, heads = 12, 3
    model = contrib_model("Attention",
                          [("x", F, [2, 5, d]), "W", "Bq", None, ("past", F, [2, 2, heads, 4, d // heads])],
                          ["y", "present"], [weight("W", (d, 3 * d)), weight("Bq", (3 * d,))], num_heads=heads)
    node = check_against_ort(model).node("node")
    assert node.params == d * 3 * d + 3 * d
    b, s, t = 2, 5, 9
    macs = b * s * d * 3 * d + b * s * t * 2 * d
    assert node.macs == macs and node.flops == 2 * macs + b * s * 3 * d + 3 * b * heads * s * t


def test_attention_with_qkv_hidden_sizes():
    model = contrib_model("Attention", [("x", F, [1, 4, 6]), "W", "Bq"], ["y"],
                          [weight("W", (6, 8 + 8 + 4)), weight("Bq", (20,))], num_heads=2,
                          qkv_hidden_sizes=[8, 8, 4])
    check_against_ort(model)


B, S, L, HEADS, H = 2, 3, 5, 2, 4
SEPARATE = [("q", F, [B, S, HEADS * H]), ("k", F, [B, L, HEADS * H]), ("v", F, [B, L, HEADS * H])]


@pytest.mark.parametrize("inputs", [SEPARATE, [SEPARATE[0], ("k", F, [B, HEADS, L, H]), ("v", F, [B, HEADS, L, H])]],
                         ids=["bsd", "bnsh"])
def test_multi_head_attention(inputs):
    model = contrib_model("MultiHeadAttention", inputs, ["y", "present_k", "present_v"], num_heads=HEADS)
    node = check_against_ort(model).node("node")
    assert node.macs == B * S * L * 2 * HEADS * H


def test_multi_head_attention_packed_kv_equals_separate_kv():
    """Packed KV has no CPU kernel: it must give what the same attention unpacked gives."""
    packed = contrib_model("MultiHeadAttention", [SEPARATE[0], ("kv", F, [B, L, HEADS, 2, H])], ["y"],
                           num_heads=HEADS)
    separate = contrib_model("MultiHeadAttention", SEPARATE, ["y"], num_heads=HEADS)
    actual = ort_shapes(separate, random_feeds(separate, {"q": (B, S, HEADS * H), "k": (B, L, HEADS * H),
                                                          "v": (B, L, HEADS * H)}))
    ours = inspect_model(packed).node("node")
    assert tuple(ours.outputs[0].shape) == actual["y"]
    assert ours.macs == inspect_model(separate).node("node").macs


def test_qlinear_add_and_mul_broadcast():
    u8 = TensorProto.UINT8
    quant = [scalar("sa", 0.1, np.float32), scalar("za", 3, np.uint8), scalar("sb", 0.2, np.float32),
             scalar("zb", 1, np.uint8), scalar("sc", 0.3, np.float32), scalar("zc", 2, np.uint8)]
    for op in ("QLinearAdd", "QLinearMul"):
        model = contrib_model(op, [("a", u8, [2, 3, 4]), "sa", "za", "Bw", "sb", "zb", "sc", "zc"], ["c"],
                              quant + [weight("Bw", (4,), np.uint8)])
        model.graph.output[0].type.tensor_type.elem_type = u8
        node = check_against_ort(model).node("node")
        assert node.params == 4                 # the uint8 operand; scales / zero points are metadata


def test_qlinear_conv_channels_last():
    u8 = TensorProto.UINT8
    quant = [scalar("sx", 0.1, np.float32), scalar("zx", 3, np.uint8), scalar("sw", 0.2, np.float32),
             scalar("zw", 0, np.uint8), scalar("sy", 0.3, np.float32), scalar("zy", 2, np.uint8)]
    model = contrib_model("QLinearConv", [("x", u8, [1, 9, 9, 4]), "sx", "zx", "Wq", "sw", "zw", "sy", "zy"], ["y"],
                          quant + [weight("Wq", (6, 4, 3, 3), np.uint8)], channels_last=1, strides=[2, 2])
    model.graph.output[0].type.tensor_type.elem_type = u8
    node = check_against_ort(model).node("node")
    assert node.params == 6 * 4 * 3 * 3


def test_unknown_contrib_op_is_a_warning_with_null_outputs(tmp_path):
    model = contrib_model("NoSuchFusedThing", [("x", F, [2, 3])], ["y"])
    path = tmp_path / "unknown.onnx"
    path.write_bytes(model.SerializeToString())
    result = CliRunner().invoke(main, [str(path), "--format", "json"])
    assert result.exit_code == 0
    assert "no shape rule for com.microsoft::NoSuchFusedThing" in result.stderr
    import json
    node = json.loads(result.stdout)["nodes"][0]
    assert node["outputs"][0]["shape"] is None and node["flops"] is None
    assert json.loads(result.stdout)["totals"]["unknown_ops"] == ["NoSuchFusedThing"]


def test_nhwc_conv_is_the_transposed_nchw_conv():
    """No CPU kernel for NhwcConv: the truth is onnxruntime's Conv on the NCHW layout."""
    attrs = dict(strides=[2, 2], pads=[1, 0, 1, 0])
    w = weight("W", (6, 4, 3, 3))
    nhwc = inspect_model(contrib_model("NhwcConv", [("x", F, [1, 9, 11, 4]), "W"], ["y"], [w], **attrs))
    nchw = contrib_model("Conv", [("x", F, [1, 4, 9, 11]), "W"], ["y"], [w], domain="", **attrs)
    n, c, h, wd = ort_shapes(nchw, random_feeds(nchw, {"x": (1, 4, 9, 11)}))["y"]
    node = nhwc.node("node")
    assert tuple(node.outputs[0].shape) == (n, h, wd, c)
    assert node.params == 6 * 4 * 9 and node.flops == inspect_model(nchw).node("node").flops


def test_rotary_embedding_caches_are_not_parameters():
    b, s, heads, h, max_len = 2, 5, 2, 8, 16
    i64 = TensorProto.INT64
    model = contrib_model("RotaryEmbedding", [("x", F, [b, s, heads * h]), ("pos", i64, [b, s]), "cos", "sin"],
                          ["y"], [weight("cos", (max_len, h // 2)), weight("sin", (max_len, h // 2))],
                          num_heads=heads)
    node = check_against_ort(model).node("node")
    assert node.params == 0 and node.flops == 3 * b * s * heads * h
