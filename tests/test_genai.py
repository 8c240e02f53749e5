"""onnxruntime-genai builder output (fixtures/genai, made by tools/make_genai_fixtures.py
from a seeded tiny LLaMA): fp32 and int4 (MatMulNBits) decoders with GroupQueryAttention.
Every node output's shape is onnxruntime's at two bindings, no op lacks a rule, the
FLOPs are known, the logical parameters are the torch model's sum(p.numel()) recorded by
the generator, and the KV cache is the hand-computed 2 · layers · kv_heads · head · 4 B."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from test_llm import ort_agrees

from onnxinspect import inspect_model

GENAI = Path(__file__).resolve().parent.parent / "fixtures" / "genai"
SOURCE = json.loads((GENAI / "source.json").read_text())
CONFIG = SOURCE["config"]
LAYERS, KV_HEADS = CONFIG["num_hidden_layers"], CONFIG["num_key_value_heads"]
HEAD = CONFIG["hidden_size"] // CONFIG["num_attention_heads"]


def feeds(batch, past, new):
    rng = np.random.default_rng(0)
    out = {"input_ids": rng.integers(0, CONFIG["vocab_size"], (batch, new)).astype(np.int64),
           "attention_mask": np.ones((batch, past + new), np.int64)}
    for i in range(LAYERS):
        for kind in ("key", "value"):
            out[f"past_key_values.{i}.{kind}"] = rng.standard_normal((batch, KV_HEADS, past, HEAD)).astype(np.float32)
    return out


@pytest.mark.parametrize("precision", ["fp32", "int4"])
def test_genai_decoder(precision):
    path = GENAI / precision / "model.onnx"
    report = inspect_model(path)
    assert not report.warnings
    assert report.totals.unique_params == SOURCE["numel"]          # logical: int4 weights count K·N
    quantized = report.precision.quantized
    assert quantized == (precision == "int4")
    if quantized:
        assert report.totals.op_histogram["MatMulNBits"] == 5 * LAYERS + 1   # qkv (fused), o, gate, up, down; lm_head
        assert report.precision.labels["W4 A32"] == 5 * LAYERS + 1
    # GroupQueryAttention's present is sized by total_sequence_length, as the builder declares it
    presents = [o.shape for o in report.outputs if o.name.startswith("present.")]
    assert len(presents) == 2 * LAYERS and all(str(shape[2]) == "total_sequence_length" for shape in presents)
    kv = report.kv_cache
    assert (kv.layers, kv.kv_heads, kv.head_dim, kv.dtype) == (LAYERS, KV_HEADS, HEAD, "float32")
    assert kv.bytes_per_token == 2 * LAYERS * KV_HEADS * HEAD * 4
    model = onnx.load(path)
    for batch, past, new in ((1, 5, 3), (2, 9, 1)):
        dims = {"batch_size": batch, "past_sequence_length": past, "sequence_length": new,
                "total_sequence_length": past + new, "kv_cache_dim": HEAD}
        bound, actual = ort_agrees(model, feeds(batch, past, new), dims)
        present = sum(int(np.prod(s)) * 4 for name, s in actual.items() if name.startswith("present."))
        assert bound.kv_cache.present_bytes == present == batch * kv.bytes_per_token * (past + new)
