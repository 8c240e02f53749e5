"""LLM and quantized models made here, tiny and seeded: a LLaMA-style GQA decoder with
past key values (torch.onnx), BERT fused by onnxruntime's transformer optimizer and then
quantized with quantize_dynamic, and a 4-bit MatMulNBits model.  Truth: onnxruntime's
actual outputs, the source model's numel(), the KV formula from the config."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from truth import make_model, ort_values

from onnxinspect import inspect_model

LAYERS, HEADS, KV_HEADS, HIDDEN, VOCAB = 2, 4, 2, 64, 128
HEAD_DIM = HIDDEN // HEADS


def ort_agrees(model, feeds, dims=None):
    """Every node output's shape == onnxruntime's, at the bindings ``dims``."""
    actual = {k: v.shape for k, v in ort_values(model, feeds).items()}
    report = inspect_model(model, dims=dims)
    ours = {t.name: t.shape for n in report.nodes for t in n.outputs if t.name}
    assert {k: ours[k] for k in actual} == actual
    assert not report.totals.unknown_ops and report.totals.flops is not None
    return report, actual


def randomize(model):
    """Seeded random values in every parameter: a fresh model's LayerNorm weights are all
    ones and its biases zeros, which the exporter would store as one deduplicated tensor."""
    import torch

    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)


@pytest.fixture(scope="session")
def llama(tmp_path_factory):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.cache_utils import DynamicCache

    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=HIDDEN, num_attention_heads=HEADS, num_key_value_heads=KV_HEADS,
                         num_hidden_layers=LAYERS, vocab_size=VOCAB, intermediate_size=128,
                         max_position_embeddings=64, attn_implementation="eager")
    model = LlamaForCausalLM(config).eval()
    randomize(model)

    class WithCache(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, *past):
            cache = DynamicCache(config=config)
            for layer in range(LAYERS):
                cache.update(past[2 * layer], past[2 * layer + 1], layer)
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache,
                             use_cache=True)
            layers = out.past_key_values.layers
            return (out.logits, *[t for layer in layers for t in (layer.keys, layer.values)])

    past_names = [f"past_key_values.{i}.{kind}" for i in range(LAYERS) for kind in ("key", "value")]
    path = tmp_path_factory.mktemp("llama") / "llama.onnx"
    args = (torch.randint(0, VOCAB, (1, 3)), torch.ones(1, 7, dtype=torch.long),
            *[torch.randn(1, KV_HEADS, 4, HEAD_DIM) for _ in past_names])
    dynamic = {"input_ids": {1: "sequence_length"}, "attention_mask": {1: "total_sequence_length"},
               **{n: {2: "past_sequence_length"} for n in past_names}}
    torch.onnx.export(WithCache(), args, str(path), input_names=["input_ids", "attention_mask", *past_names],
                      output_names=["logits"] + [n.replace("past_key_values", "present") for n in past_names],
                      dynamic_axes=dynamic, dynamo=False, opset_version=17)
    numel = sum(p.numel() for p in model.parameters())
    return onnx.load(str(path)), numel, model.model.rotary_emb.inv_freq.numel()


def llama_feeds(past, new):
    rng = np.random.default_rng(0)
    feeds = {"input_ids": rng.integers(0, VOCAB, (1, new)).astype(np.int64),
             "attention_mask": np.ones((1, past + new), np.int64)}
    for i in range(LAYERS):
        for kind in ("key", "value"):
            feeds[f"past_key_values.{i}.{kind}"] = rng.standard_normal((1, KV_HEADS, past, HEAD_DIM)).astype(np.float32)
    return feeds


@pytest.mark.transformers
def test_llama_shapes_params_and_kv_cache(llama):
    model, numel, inv_freq = llama
    report = inspect_model(model)
    assert not report.warnings
    # Documented difference: the rotary inv_freq buffer is a constant the graph reads.
    assert report.totals.unique_params == numel + inv_freq
    kv = report.kv_cache
    assert (kv.layers, kv.kv_heads, kv.head_dim) == (LAYERS, KV_HEADS, HEAD_DIM)
    assert kv.bytes_per_token == 2 * LAYERS * KV_HEADS * HEAD_DIM * 4
    assert kv.past_symbol == "past_sequence_length" and kv.new_tokens_symbol == "sequence_length"
    for past, new in ((4, 3), (9, 1)):
        dims = {"past_sequence_length": past, "sequence_length": new, "total_sequence_length": past + new}
        bound, actual = ort_agrees(model, llama_feeds(past, new), dims)
        present = sum(int(np.prod(s)) * 4 for name, s in actual.items() if name.startswith("present."))
        assert bound.kv_cache.present_bytes == present == kv.bytes_per_token * (past + new)
    # one decode step reads the weights and the past cache
    assert kv.decode_bytes_read.subs({"past_sequence_length": 10}) == (
        report.totals.param_bytes + 10 * kv.bytes_per_token)


@pytest.fixture(scope="session")
def bert(tmp_path_factory):
    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(hidden_size=32, num_attention_heads=4, num_hidden_layers=2, intermediate_size=64,
                        vocab_size=100, max_position_embeddings=32, attn_implementation="eager")
    model = BertModel(config).eval()
    randomize(model)
    folder = tmp_path_factory.mktemp("bert")
    ids = torch.randint(0, 100, (1, 8))
    class Positional(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state, out.pooler_output

    torch.onnx.export(Positional(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(folder / "bert.onnx"),
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state", "pooler_output"],
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ("input_ids", "attention_mask",
                                                                              "token_type_ids")},
                      dynamo=False, opset_version=17)
    fused = optimize_model(str(folder / "bert.onnx"), model_type="bert", num_heads=4, hidden_size=32)
    fused.save_model_to_file(str(folder / "fused.onnx"))
    return folder, sum(p.numel() for p in model.parameters())


def bert_feeds(batch=2, seq=8):
    rng = np.random.default_rng(1)
    return {"input_ids": rng.integers(0, 100, (batch, seq)).astype(np.int64),
            "attention_mask": np.ones((batch, seq), np.int64), "token_type_ids": np.zeros((batch, seq), np.int64)}


@pytest.mark.transformers
def test_bert_fused_by_onnxruntime(bert):
    folder, numel = bert
    model = onnx.load(str(folder / "fused.onnx"))
    assert {"Attention", "SkipLayerNormalization"} <= {n.op_type for n in model.graph.node}
    report, _ = ort_agrees(model, bert_feeds(), {"batch": 2, "sequence": 8})
    assert not report.warnings
    assert report.totals.unique_params == numel


@pytest.mark.transformers
def test_bert_quantized_with_quantize_dynamic(bert):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder, numel = bert
    quantize_dynamic(str(folder / "fused.onnx"), str(folder / "int8.onnx"), weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    model = onnx.load(str(folder / "int8.onnx"))
    report, _ = ort_agrees(model, bert_feeds(), {"batch": 2, "sequence": 8})
    assert report.precision.quantized
    assert any(label.startswith("W8 A8") for label in report.precision.labels)
    assert report.totals.unique_params == numel
    assert report.precision.compression > 2


def test_matmul_nbits_quantizer_keeps_the_logical_count(tmp_path):
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    rng = np.random.default_rng(2)
    w1, w2 = rng.standard_normal((64, 96)).astype(np.float32), rng.standard_normal((96, 32)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "W2"], ["y"])]
    model = make_model(nodes, [("x", TensorProto.FLOAT, ["batch", 64])], [("y", TensorProto.FLOAT, None)],
                       [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(w2, "W2")], opset=17)
    quantizer = MatMulNBitsQuantizer(model, block_size=32, is_symmetric=False)
    quantizer.process()
    quantized = quantizer.model.model
    assert [n.op_type for n in quantized.graph.node].count("MatMulNBits") == 2
    report, _ = ort_agrees(quantized, {"x": rng.standard_normal((3, 64)).astype(np.float32)}, {"batch": 3})
    assert not report.warnings
    assert report.totals.unique_params == w1.size + w2.size
    assert report.precision.labels == {"W4 A32": 2}
    assert report.totals.bytes_by_dtype["uint4"] == (w1.size + w2.size) // 2


def test_conv_net_qdq_quantized_with_quantize_static(tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    rng = np.random.default_rng(3)
    weights = {"W1": rng.standard_normal((8, 3, 3, 3)), "B1": rng.standard_normal(8),
               "W2": rng.standard_normal((8, 8, 3, 3)), "B2": rng.standard_normal(8),
               "Wfc": rng.standard_normal((8, 10)), "Bfc": rng.standard_normal(10)}
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "W2", "B2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "r1"], ["res"]),            # the residual
             helper.make_node("Relu", ["res"], ["r2"]),
             helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "Wfc", "Bfc"], ["y"])]
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()]
    model = make_model(nodes, [("x", TensorProto.FLOAT, [1, 3, 16, 16])], [("y", TensorProto.FLOAT, None)],
                       inits, opset=17)
    onnx.save(model, tmp_path / "net.onnx")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(tmp_path / "net.onnx"), str(tmp_path / "qdq.onnx"), Reader(), quant_format=QuantFormat.QDQ)
    quantized = onnx.load(str(tmp_path / "qdq.onnx"))
    report, _ = ort_agrees(quantized, {"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)})
    assert not report.warnings
    assert report.totals.unique_params == sum(v.size for v in weights.values())
    labels = report.precision.labels
    assert labels.get("W8 A8 (QDQ)", 0) >= 2 and report.precision.quantized
