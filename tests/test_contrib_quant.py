"""com.microsoft quantized and LLM ops on hand-built models: every output's shape and
dtype is onnxruntime's actual one (CPU kernels), parameters are the logical weights
derived from the attributes, and hostile attributes give one warning, no traceback."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from truth import make_model, ort_values, random_feeds

from onnxinspect import inspect_model
from onnxinspect.dtypes import dtype_name

F, U8, I8, I32, I64 = TensorProto.FLOAT, TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32, TensorProto.INT64
MS = "com.microsoft"
RNG = np.random.default_rng(0)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def rand(shape, dtype=np.float32):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return RNG.integers(max(info.min, -8), min(info.max, 8), shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def one_node(op, inputs, outputs, initializers=(), feeds_shapes=(), **attrs):
    """``inputs``: slot names ('' omitted); ``feeds_shapes``: (name, type, shape) graph inputs."""
    node = helper.make_node(op, inputs, outputs, domain=MS, name="node", **attrs)
    model = make_model([node], list(feeds_shapes), [(o, F, None) for o in outputs if o], initializers,
                       opset=17, domains={MS: 1})
    for output in model.graph.output:   # untyped: onnxruntime says what they are
        output.ClearField("type")
    return model


def check_ort(model, feeds=None):
    """Our shape and dtype of every output == onnxruntime's; no warning."""
    shapes = {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim) for i in model.graph.input}
    actual = ort_values(model, feeds or random_feeds(model, shapes))
    report = inspect_model(model)
    assert not report.warnings
    ours = {t.name: t for n in report.nodes for t in n.outputs if t.name}
    for name, value in actual.items():
        assert ours[name].shape == value.shape, name
        assert ours[name].dtype == dtype_name(helper.np_dtype_to_tensor_dtype(value.dtype)), name
    return report


def nbits_model(k=64, n=24, bits=4, block=32, rows=(2, 5), zero_points=True, bias=True, b_shape=None):
    blocks = -(-k // block)
    blob = block * bits // 8
    inits = [init("B", rand(b_shape or (n, blocks, blob), np.uint8)), init("S", rand((n * blocks,)))]
    names = ["a", "B", "S"]
    if zero_points:
        inits.append(init("Z", rand((n * -(-blocks * bits // 8),), np.uint8)))
        names.append("Z")
    if bias:
        inits.append(init("bias", rand((n,))))
        names += [""] * (5 - len(names)) + ["bias"]
    return one_node("MatMulNBits", names, ["y"], inits, [("a", F, [*rows, k])], K=k, N=n, bits=bits,
                    block_size=block)


@pytest.mark.parametrize("k,n,bits,block,zp,bias", [
    (64, 24, 4, 32, True, True), (80, 16, 4, 32, False, False), (64, 8, 8, 16, True, False),
    (128, 8, 2, 64, False, True)])
def test_matmul_nbits(k, n, bits, block, zp, bias):
    report = check_ort(nbits_model(k, n, bits, block, zero_points=zp, bias=bias))
    node = report.node("node")
    assert node.params == k * n + (n if bias else 0)          # logical weights, not packed bytes
    assert node.packed_params == {"B": (k * n, f"uint{bits}")}
    assert node.flops == 2 * 2 * 5 * k * n + (2 * 5 * n if bias else 0)
    assert report.totals.params_by_dtype[f"uint{bits}"] == k * n
    assert report.totals.bytes_by_dtype[f"uint{bits}"] == n * -(-k // block) * block * bits // 8


def test_matmul_nbits_whose_blob_disagrees_warns():
    report = inspect_model(nbits_model(64, 24, 4, 32, b_shape=(24, 2, 8)))   # 8-byte blobs: 2 bits
    assert len(report.warnings) == 1 and "does not hold K=64 x N=24 at 4 bits" in report.warnings[0]
    assert report.node("node").outputs[0].shape is None


def gqa_model(heads=4, kv=2, head=16, s=3, past=5, packed=False, rotary=False, window=-1, total=None):
    b, total = 1, total or past + s   # onnxruntime's CPU kernel: batch 1 for a prompt with past
    feeds = [("q", F, [b, s, (heads + 2 * kv) * head if packed else heads * head])]
    if not packed:
        feeds += [("k", F, [b, s, kv * head]), ("v", F, [b, s, kv * head])]
    feeds += [("pk", F, [b, kv, past, head]), ("pv", F, [b, kv, past, head])]
    inits = [init("seqlens", np.full((b,), total - 1, np.int32)), init("total", np.array([total], np.int32))]
    names = ["q", "" if packed else "k", "" if packed else "v", "pk", "pv", "seqlens", "total"]
    if rotary:
        cache = rand((total, head // 2))
        inits += [init("cos", np.cos(cache)), init("sin", np.sin(cache))]
        names += ["cos", "sin"]
    return one_node("GroupQueryAttention", names, ["y", "present_k", "present_v"], inits, feeds,
                    num_heads=heads, kv_num_heads=kv, do_rotary=int(rotary), local_window_size=window)


@pytest.mark.parametrize("kwargs", [{}, {"packed": True}, {"rotary": True}, {"s": 1, "past": 7},
                                    {"past": 0, "s": 4}, {"window": 2}, {"past": 9, "s": 1, "total": 6}])
def test_group_query_attention(kwargs):
    model = gqa_model(**kwargs)
    report = check_ort(model)
    node = report.node("node")
    assert node.params == 0
    past, s = kwargs.get("past", 5), kwargs.get("s", 3)
    total = max(kwargs.get("total") or past + s, past)
    window = kwargs.get("window", -1)
    keys = min(total, window + 1) if window > 0 else total
    macs = 1 * 4 * s * keys * 2 * 16
    rotary = 3 * 1 * s * 16 * (4 + 2) if kwargs.get("rotary") else 0
    assert node.flops == 2 * macs + 3 * 1 * 4 * s * keys + rotary


def test_group_query_attention_whose_kv_heads_do_not_divide_warns():
    report = inspect_model(gqa_model(heads=4, kv=3))
    assert len(report.warnings) == 1 and "kv_num_heads 3 must be positive and divide num_heads 4" in report.warnings[0]
    assert all(t.shape is None for t in report.node("node").outputs)


def test_gather_block_quantized_uint8_packs_two_per_byte():
    data = rand((10, 16), np.uint8)                                  # 10 rows x 32 4-bit values
    model = one_node("GatherBlockQuantized", ["data", "ids", "scales"], ["y"],
                     [init("data", data), init("scales", rand((10, 1)))], [("ids", I64, [2, 3])],
                     block_size=32, quantize_axis=1, gather_axis=0, bits=4)
    report = check_ort(model, {"ids": np.array([[0, 1, 2], [3, 4, 9]], np.int64)})
    node = report.node("node")
    assert node.params == 10 * 32
    assert report.totals.bytes_by_dtype["uint4"] == 160


def test_dynamic_quantize_matmul_and_integer_to_float():
    w = init("W", rand((16, 8), np.int8))
    model = one_node("DynamicQuantizeMatMul", ["a", "W", "ws", "", "bias"], ["y"],
                     [w, init("ws", np.array(0.1, np.float32)), init("bias", rand((8,)))], [("a", F, [3, 16])])
    node = check_ort(model).node("node")
    assert node.params == 16 * 8 + 8
    assert node.flops == 2 * 3 * 16 * 8 + 3 * 3 * 8 + 4 * 3 * 16
    model = one_node("MatMulIntegerToFloat", ["a", "W", "as", "ws"], ["y"],
                     [w, init("as", np.array(0.1, np.float32)), init("ws", np.array(0.2, np.float32))],
                     [("a", I8, [2, 3, 16])])
    assert check_ort(model).node("node").params == 16 * 8


@pytest.mark.parametrize("quantized_output", [True, False])
def test_qgemm(quantized_output):
    inits = [init("as", np.array(0.1, np.float32)), init("az", np.array(3, np.uint8)),
             init("B", rand((6, 4), np.uint8)), init("bs", np.array(0.2, np.float32)),
             init("bz", np.array(1, np.uint8)), init("C", rand((6,), np.int32)),
             init("ys", np.array(0.3, np.float32)), init("yz", np.array(2, np.uint8))]
    names = ["a", "as", "az", "B", "bs", "bz", "C"] + (["ys", "yz"] if quantized_output else [])
    model = one_node("QGemm", names, ["y"], [i for i in inits if i.name in names], [("a", U8, [3, 4])], transB=1)
    node = check_ort(model).node("node")
    assert node.params == 6 * 4 + 6


def _qparams(prefix):
    return [init(f"{prefix}s", np.array(0.05, np.float32)), init(f"{prefix}z", np.array(128, np.uint8))]


@pytest.mark.parametrize("op,attrs,shape", [
    ("QLinearSigmoid", {}, [2, 3, 4]), ("QLinearLeakyRelu", {"alpha": 0.1}, [2, 3, 4]),
    ("QLinearSoftmax", {"axis": -1, "opset": 13}, [2, 3, 4]),
    ("QLinearAveragePool", {"kernel_shape": [2, 2], "strides": [2, 2]}, [1, 3, 6, 6]),
    ("QLinearGlobalAveragePool", {"channels_last": 0}, [1, 3, 6, 5]),
    ("QLinearGlobalAveragePool", {"channels_last": 1}, [1, 6, 5, 3]),
])
def test_qlinear_unary(op, attrs, shape):
    model = one_node(op, ["x", "xs", "xz", "ys", "yz"], ["y"], _qparams("x") + _qparams("y"), [("x", U8, shape)],
                     **attrs)
    check_ort(model)


def test_qlinear_concat():
    model = one_node("QLinearConcat", ["ys", "yz", "a", "as", "az", "b", "bs", "bz"], ["y"],
                     _qparams("y") + _qparams("a") + _qparams("b"), [("a", U8, [2, 3, 4]), ("b", U8, [2, 5, 4])],
                     axis=1)
    assert check_ort(model).node("node").params == 0


def test_ms_quantize_dequantize():
    model = make_model([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], domain=MS),
                        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], domain=MS)],
                       [("x", F, [2, 5])], [("y", F, None)], [init("s", np.array(0.1, np.float32)),
                                                             init("z", np.array(3, np.int8))],
                       domains={MS: 1})
    check_ort(model)


def test_embed_layer_normalization():
    inits = [init("word", rand((30, 16))), init("pos", rand((12, 16))), init("seg", rand((2, 16))),
             init("gamma", rand((16,))), init("beta", rand((16,)))]
    model = one_node("EmbedLayerNormalization", ["ids", "segs", "word", "pos", "seg", "gamma", "beta", "mask"],
                     ["y", "mask_index", "sum"], inits,
                     [("ids", I32, [2, 7]), ("segs", I32, [2, 7]), ("mask", I32, [2, 7])], epsilon=1e-5)
    feeds = {"ids": RNG.integers(0, 30, (2, 7)).astype(np.int32), "segs": np.zeros((2, 7), np.int32),
             "mask": np.ones((2, 7), np.int32)}
    node = check_ort(model, feeds).node("node")
    assert node.params == (30 + 12 + 2 + 2) * 16


def test_qattention():
    inits = [init("W", rand((16, 48), np.int8)), init("bias", rand((48,))), init("is", np.array(0.1, np.float32)),
             init("ws", np.array(0.1, np.float32)), init("iz", np.array(0, np.uint8)), init("wz", np.array(0, np.int8))]
    model = one_node("QAttention", ["x", "W", "bias", "is", "ws", "", "iz", "wz"], ["y"], inits,
                     [("x", U8, [2, 5, 16])], num_heads=4)
    assert check_ort(model).node("node").params == 16 * 48 + 48


def test_decoder_masked_mha_shares_its_past_buffer():
    feeds = [("q", F, [2, 1, 16]), ("k", F, [2, 1, 16]), ("v", F, [2, 1, 16]),
             ("pk", F, [2, 4, 10, 4]), ("pv", F, [2, 4, 10, 4])]
    model = one_node("DecoderMaskedMultiHeadAttention", ["q", "k", "v", "", "", "pk", "pv", "plen"],
                     ["y", "present_k", "present_v"], [init("plen", np.array([6], np.int32))], feeds,
                     num_heads=4, past_present_share_buffer=1)
    node = check_ort(model).node("node")
    assert node.macs == 2 * 4 * 1 * 7 * 2 * 4


@pytest.mark.parametrize("tokens,attended", [(40, 32), (4, 4)])
def test_sparse_attention_attends_its_densest_block_row(tokens, attended):
    """Block mask rows [1, 2, 2, 3] blocks of 16: 40 tokens reach 3 block rows (densest 2
    blocks = 32 keys), 4 tokens only the first (16 keys, capped at the 4 there are).
    onnxruntime's kernel writes the present into the past's buffer: run with IO binding."""
    import onnxruntime as ort

    b, heads, kv_heads, head, cache = 1, 4, 2, 16, 64
    inits = [init("rows", np.array([[0, 1, 3, 5, 8]], np.int32)), init("cols", np.array([[0, 0, 1, 1, 2, 1, 2, 3]],
             np.int32)), init("total", np.array(tokens, np.int32)), init("key_total", np.array([tokens], np.int32))]
    feeds = [("q", F, [b, tokens, heads * head]), ("k", F, [b, tokens, kv_heads * head]),
             ("v", F, [b, tokens, kv_heads * head]), ("pk", F, [b, kv_heads, cache, head]),
             ("pv", F, [b, kv_heads, cache, head])]
    model = one_node("SparseAttention", ["q", "k", "v", "pk", "pv", "rows", "cols", "total", "key_total"],
                     ["y", "present_k", "present_v"], inits, feeds, num_heads=heads, kv_num_heads=kv_heads,
                     sparse_block_size=16)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    binding = session.io_binding()
    for name, _, shape in feeds[:3]:
        binding.bind_cpu_input(name, rand(shape))
    binding.bind_output("y")
    for past, present in (("pk", "present_k"), ("pv", "present_v")):
        buffer = ort.OrtValue.ortvalue_from_numpy(np.zeros((b, kv_heads, cache, head), np.float32))
        binding.bind_ortvalue_input(past, buffer)
        binding.bind_ortvalue_output(present, buffer)
    session.run_with_iobinding(binding)
    report = inspect_model(model)
    assert not report.warnings
    node = report.node("node")
    assert [t.shape for t in node.outputs] == [tuple(v.shape()) for v in binding.get_outputs()]
    macs = b * heads * tokens * attended * 2 * head
    assert (node.macs, node.flops) == (macs, 2 * macs + 3 * b * heads * tokens * attended)


@pytest.mark.parametrize("op,inputs,shape,out", [
    ("GroupNorm", ["x", "g", "b"], [1, 4, 4, 8], [1, 4, 4, 8]),
    ("SkipGroupNorm", ["x", "g", "b", "skip"], [1, 4, 4, 8], [1, 4, 4, 8]),
    ("BiasSplitGelu", ["x", "bias"], [2, 6, 16], [2, 6, 8]),
    ("GemmFastGelu", ["x", "W", "b"], [2, 3, 16], [2, 3, 8]),
])
def test_cuda_only_ops_follow_the_documented_shapes(op, inputs, shape, out):
    """GroupNorm, SkipGroupNorm, BiasSplitGelu and GemmFastGelu have CUDA kernels only: the
    truth is the contrib-op documentation's shapes."""
    inits = [init(n, rand((shape[-1],) if n != "W" else (16, 8))) for n in inputs[1:] if n != "skip"]
    if op == "GemmFastGelu":
        inits[1] = init("b", rand((8,)))
    feeds = [("x", F, shape)] + ([("skip", F, shape)] if "skip" in inputs else [])
    attrs = {"groups": 2, "activation": 0, "epsilon": 1e-5, "channels_last": 1} if "Norm" in op else {}
    report = inspect_model(one_node(op, inputs, ["y"], inits, feeds, **attrs))
    assert not report.warnings
    assert report.node("node").outputs[0].shape == tuple(out)


def test_precision_of_a_4_bit_matmul():
    k, n = 64, 24
    report = inspect_model(nbits_model(k, n, 4, 32))
    assert report.node("node").precision == "W4 A32"
    p = report.precision
    assert p.quantized and p.labels == {"W4 A32": 1}
    assert p.weight_bytes == n * 2 * 16 + n * 4                 # packed blob + fp32 bias
    assert p.metadata_bytes == n * 2 * 4 + n * 1                # fp32 scales + packed zero points
    assert p.fp32_bytes == 4 * (k * n + n)
    assert p.compression == round(p.fp32_bytes / (p.weight_bytes + p.metadata_bytes), 3)


def test_qdq_label_and_an_unquantized_weight_is_flagged():
    q = [init("s", np.array(0.1, np.float32)), init("z", np.array(0, np.int8))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             helper.make_node("DequantizeLinear", ["Wq", "s", "z"], ["Wd"]),
             helper.make_node("MatMul", ["xd", "Wd"], ["y"], name="quantized"),
             helper.make_node("MatMul", ["y", "W2"], ["y2"], name="float")]
    model = make_model(nodes, [("x", F, [2, 8])], [("y2", F, None)],
                       q + [init("Wq", rand((8, 8), np.int8)), init("W2", rand((8, 4)))], opset=13)
    report = inspect_model(model)
    assert report.node("quantized").precision == "W8 A8 (QDQ)"
    assert report.node("float").precision == "fp32"
    assert report.warnings == ["node float (MatMul): weight 'W2' is fp32 in a quantized model: not quantized"]


def kv_model(layers=2, kv=2, head=16, heads=4):
    """A genai-style decoder skeleton: one GQA per layer on named past / present tensors."""
    nodes, inputs, outputs = [], [("q", F, [1, "sequence_length", (heads + 2 * kv) * head])], []   # packed QKV
    for i in range(layers):
        for kind in ("key", "value"):
            inputs.append((f"past_key_values.{i}.{kind}", F, [1, kv, "past_sequence_length", head]))
            outputs.append((f"present.{i}.{kind}", F, None))
        nodes.append(helper.make_node(
            "GroupQueryAttention", ["q", "", "", f"past_key_values.{i}.key",
                                    f"past_key_values.{i}.value", "seqlens", "total"],
            [f"y{i}", f"present.{i}.key", f"present.{i}.value"], domain=MS, num_heads=heads, kv_num_heads=kv))
    return nodes, inputs, outputs


def test_kv_cache_bytes_per_token_and_at_two_lengths():
    layers, kv, head, heads = 2, 2, 16, 4
    nodes, inputs, outputs = kv_model(layers, kv, head, heads)
    shape = helper.make_node("Shape", ["q"], ["q_shape"], start=1, end=2)
    cast = helper.make_node("Cast", ["q_shape"], ["new"], to=I32)
    total = helper.make_node("Add", ["new", "past_len"], ["total"])
    pshape = helper.make_node("Shape", ["past_key_values.0.key"], ["p_shape"], start=2, end=3)
    pcast = helper.make_node("Cast", ["p_shape"], ["past_len"], to=I32)
    seqlens = helper.make_node("Sub", ["total", "one"], ["seqlens"])
    model = make_model([shape, cast, pshape, pcast, total, seqlens] + nodes, inputs,
                       [("y0", F, None)] + outputs, [init("one", np.array([1], np.int32))], domains={MS: 1})
    report = inspect_model(model)
    kvc = report.kv_cache
    assert kvc.layers == layers and kvc.kv_heads == kv and kvc.head_dim == head
    assert kvc.bytes_per_token == 2 * layers * kv * head * 4
    assert kvc.past_symbol == "past_sequence_length"
    for past, new in ((5, 1), (12, 3)):
        feeds = {"q": rand((1, new, (heads + 2 * kv) * head))}
        feeds.update({name: rand((1, kv, past, head)) for name, _, _ in inputs[1:]})
        actual = ort_values(model, feeds)
        ort_bytes = sum(v.nbytes for name, v in actual.items() if name.startswith("present."))
        bound = inspect_model(model, dims={"past_sequence_length": past, "sequence_length": new})
        assert bound.kv_cache.present_bytes == ort_bytes == kvc.bytes_per_token * (past + new)


def moe_model(op="MoE", rows=(2, 3), hidden=16, inter=32, experts=4, k=2, bits=4):
    if op == "MoE":
        inits = [init("fc1", rand((experts, inter, hidden))), init("fc2", rand((experts, hidden, inter)))]
        names = ["x", "router", "fc1", "", "fc2"]
    else:
        per = 8 // bits
        inits = [init("fc1", rand((experts, inter, hidden // per), np.uint8)), init("s1", rand((experts, inter))),
                 init("fc2", rand((experts, hidden, inter // per), np.uint8)), init("s2", rand((experts, hidden)))]
        names = ["x", "router", "fc1", "s1", "", "fc2", "s2"]
    attrs = {"expert_weight_bits": bits} if op == "QMoE" else {}
    return one_node(op, names, ["y"], inits, [("x", F, [*rows, hidden]), ("router", F, [6, experts])],
                    k=k, activation_type="relu", **attrs)


@pytest.mark.parametrize("op", ["MoE", "QMoE"])
def test_mixture_of_experts(op):
    report = check_ort(moe_model(op))
    node = report.node("node")
    assert node.params == 2 * 4 * 32 * 16                    # logical expert weights, packed or not
    assert node.macs == 6 * 2 * (32 * 16 * 2)                 # every token through k = 2 experts


@pytest.mark.parametrize("op,inputs,shapes,out", [
    ("PackedAttention", ["x", "W", "b", "offsets", "cumulative"], [(7, 16), (2, 4), (3,)], (7, 16)),
    ("PackedMultiHeadAttention", ["q", "", "", "", "offsets", "cumulative"], [(7, 4, 3, 4), (2, 4), (3,)], (7, 16)),
])
def test_packed_attention_follows_the_documented_shapes(op, inputs, shapes, out):
    """CUDA kernels only: the contrib-op documentation's shapes."""
    x_shape, offsets, cumulative = shapes
    inits = [init("W", rand((16, 48))), init("b", rand((48,)))] if op == "PackedAttention" else []
    feeds = [(inputs[0], F, list(x_shape)), ("offsets", I32, list(offsets)), ("cumulative", I32, list(cumulative))]
    report = inspect_model(one_node(op, inputs, ["y"], inits, feeds, num_heads=4))
    assert not report.warnings
    assert report.node("node").outputs[0].shape == out


def qdq_matmul():
    """x -> Q -> DQ, int8 W -> DQ, MatMul: the MatMul is W8 A8 (QDQ); fc2 stays fp32."""
    inits = [init("Wq", rand((8, 4), np.int8)), init("s", np.array(0.05, np.float32)),
             init("z", np.array(0, np.int8)), init("W2", rand((4, 4)))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="q"),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dq_x"),
             helper.make_node("DequantizeLinear", ["Wq", "s", "z"], ["W"], name="dq_w"),
             helper.make_node("MatMul", ["xd", "W"], ["h"], name="fc"),
             helper.make_node("MatMul", ["h", "W2"], ["y"], name="fc2")]
    return make_model(nodes, [("x", F, [2, 8])], [("y", F, [2, 4])], inits)


@pytest.mark.parametrize("model,labels", [
    (nbits_model, {"node": "W4 A32"}),
    (qdq_matmul, {"q": "", "dq_x": "", "dq_w": "", "fc": "W8 A8 (QDQ)", "fc2": "fp32"}),
])
def test_a_quantized_models_tables_carry_a_precision_column(model, labels):
    from onnxinspect.render.csv import render_csv
    from onnxinspect.render.markdown import render_markdown
    from onnxinspect.render.table import render_table

    report = inspect_model(model())
    table = render_table(report).splitlines()
    assert table[0].split()[-1] == "Precision"
    for name, label in labels.items():
        row = next(line for line in table if line.split()[1:2] == [name])
        assert row.rstrip().endswith(label), row
    markdown = [line for line in render_markdown(report).splitlines() if line.startswith("| ")]
    assert markdown[0].endswith("| Precision |")
    assert {cells.split(" | ")[1]: cells.split(" | ")[-1][:-2] for cells in markdown[1:]} == labels
    csv_rows = [line.split(",") for line in render_csv(report).splitlines()]
    assert csv_rows[0][-1] == "precision"
    assert {row[1]: row[-1] for row in csv_rows[1:]} == labels


def test_an_fp32_models_tables_have_no_precision_column():
    from onnxinspect.render.csv import render_csv
    from onnxinspect.render.markdown import render_markdown
    from onnxinspect.render.table import render_table

    model = make_model([helper.make_node("MatMul", ["x", "W"], ["y"], name="fc")], [("x", F, [2, 8])],
                       [("y", F, [2, 4])], [init("W", rand((8, 4)))])
    report = inspect_model(model)
    assert report.node("fc").precision == "fp32" and not report.precision.quantized
    assert "recision" not in render_table(report).splitlines()[0]
    assert "recision" not in render_markdown(report) + render_csv(report)
