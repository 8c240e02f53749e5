"""ai.onnx Attention (opset 23) against onnxruntime's actual shapes, with a symbolic batch
and sequence, and its cost against the formula by hand."""

from __future__ import annotations

import pytest
from onnx import TensorProto, helper
from truth import check, make_model

from onnxinspect import inspect_model

F = TensorProto.FLOAT


def _attention(q, k, v, outputs=("y",), extra_inputs=(), **attrs):
    """Q, K, V (and optional mask / past key / past value) as graph inputs."""
    names = ["q", "k", "v"] + [n for n, _ in extra_inputs]
    inputs = [("q", F, q), ("k", F, k), ("v", F, v)] + [(n, F, s) for n, s in extra_inputs]
    node = helper.make_node("Attention", [n if n else "" for n in names], list(outputs), **attrs)
    return make_model([node], inputs, [(o, F, None) for o in outputs if o], opset=23)


CASES = {
    # 4-D (B, heads, seq, head size), what torch's dynamo exporter writes for SDPA
    "4d": _attention(["B", 2, "S", 8], ["B", 2, "S", 8], ["B", 2, "S", 8]),
    "4d_causal": _attention(["B", 2, "S", 8], ["B", 2, "S", 8], ["B", 2, "S", 8], is_causal=1),
    # grouped-query attention: 4 query heads over 2 key/value heads, V of another head size
    "gqa": _attention(["B", 4, "S", 8], ["B", 2, "T", 8], ["B", 2, "T", 6]),
    # 3-D (B, seq, hidden) with head counts as attributes
    "3d": _attention(["B", "S", 16], ["B", "T", 16], ["B", "T", 16], q_num_heads=2, kv_num_heads=2),
    # a mask, a past cache of P positions, every output
    "past": _attention(["B", 2, "S", 8], ["B", 2, "S", 8], ["B", 2, "S", 8],
                       outputs=("y", "present_key", "present_value", "qk"),
                       extra_inputs=[("mask", ["S", "T"]), ("past_key", ["B", 2, "P", 8]),
                                     ("past_value", ["B", 2, "P", 8])]),
}
BINDINGS = [{"B": 1, "S": 4, "T": 9, "P": 5}, {"B": 3, "S": 5, "T": 7, "P": 2}]   # T = P + S


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("bindings", BINDINGS, ids=["small", "large"])
def test_shapes_are_onnxruntimes(case, bindings):
    # onnx 1.23's inference gives the qk output a last dim of 0 with a past cache
    # (ORT: P + S); that case is checked against ORT alone.
    check(CASES[case], bindings, onnx_truth=case != "past")


def test_cost_by_hand():
    """B·Hq·Sq·T·(Dk + Dv) MACs; 2 FLOPs each plus 3 per attention score (softmax)."""
    report = inspect_model(CASES["gqa"], dims={"B": 3, "S": 5, "T": 7})
    (node,) = report.nodes
    scores = 3 * 4 * 5 * 7
    assert node.macs == scores * (8 + 6)
    assert node.flops == 2 * node.macs + 3 * scores
    assert node.params == 0


def test_past_cache_extends_the_keys():
    report = inspect_model(CASES["past"], dims={"B": 2, "S": 3, "P": 9, "T": 12})
    shapes = {t.name: t.shape for t in report.nodes[0].outputs}
    assert shapes == {"y": (2, 2, 3, 8), "present_key": (2, 2, 12, 8),
                      "present_value": (2, 2, 12, 8), "qk": (2, 2, 3, 12)}
