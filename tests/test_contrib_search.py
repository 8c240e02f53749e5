"""com.microsoft BeamSearch, GreedySearch and Sampling around a hand-built GPT-2-style
decoder: the node's outputs are onnxruntime's actual ones (CPU kernels), the decoder's
reported last step is what onnxruntime computes running that decoder alone on the same
inputs, and the cost is the formula of ops/contrib_search.py worked by hand."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from truth import ort_values

from onnxinspect import inspect_model
from onnxinspect.dtypes import dtype_name

I32, F = TensorProto.INT32, TensorProto.FLOAT
MS = "com.microsoft"
V, HEADS, HEAD, LAYERS = 16, 2, 4, 2        # vocabulary, heads, head size, layers
B, S, M, BEAMS, RETURNED = 2, 3, 7, 3, 2     # batch, prompt, max_length, beams, returned sequences
RNG = np.random.default_rng(0)
INPUTS = {
    "BeamSearch": ["input_ids", "max_length", "min_length", "num_beams", "num_return_sequences",
                   "length_penalty", "repetition_penalty"],
    "GreedySearch": ["input_ids", "max_length", "min_length", "repetition_penalty"],
    "Sampling": ["input_ids", "max_length", "min_length", "repetition_penalty"],
}
OUTPUTS = {"BeamSearch": ["sequences", "sequences_scores", "scores"], "GreedySearch": ["sequences"],
           "Sampling": ["sequences", "filtered_logits"]}


def decoder():
    """logits = E[ids] @ W; each layer's present = past ++ (E[ids] as (2, B, N, S, H))."""
    weights = [numpy_helper.from_array(RNG.standard_normal((V, HEADS * HEAD)).astype(np.float32), "E"),
               numpy_helper.from_array(RNG.standard_normal((HEADS * HEAD, V)).astype(np.float32), "W"),
               numpy_helper.from_array(np.array([0, 0, HEADS, HEAD], np.int64), "heads_shape"),
               numpy_helper.from_array(np.array([0], np.int64), "zero")]
    nodes = [helper.make_node("Gather", ["E", "input_ids"], ["emb"]),
             helper.make_node("MatMul", ["emb", "W"], ["logits"]),
             helper.make_node("Reshape", ["emb", "heads_shape"], ["split"]),
             helper.make_node("Transpose", ["split"], ["bnsh"], perm=[0, 2, 1, 3]),
             helper.make_node("Unsqueeze", ["bnsh", "zero"], ["one"]),
             helper.make_node("Concat", ["one", "one"], ["kv"], axis=0)]
    nodes += [helper.make_node("Concat", [f"past_{i}", "kv"], [f"present_{i}"], axis=3) for i in range(LAYERS)]
    inputs = [helper.make_tensor_value_info(name, I32, ["batch", "seq"]) for name in ("input_ids", "position_ids")]
    inputs.append(helper.make_tensor_value_info("attention_mask", I32, ["batch", "total"]))
    inputs += [helper.make_tensor_value_info(f"past_{i}", F, [2, "batch", HEADS, "past", HEAD])
               for i in range(LAYERS)]
    outputs = [helper.make_tensor_value_info("logits", F, ["batch", "seq", V])]
    outputs += [helper.make_tensor_value_info(f"present_{i}", F, [2, "batch", HEADS, "total", HEAD])
                for i in range(LAYERS)]
    return helper.make_graph(nodes, "decoder", inputs, outputs, weights)


def search_model(op, max_length=M):
    """One search node; ``max_length`` None makes it a graph input."""
    values = {"max_length": max_length, "min_length": 1, "num_beams": BEAMS, "num_return_sequences": RETURNED}
    inits = [numpy_helper.from_array(np.array([v], np.int32), k) for k, v in values.items()
             if k in INPUTS[op] and v is not None]
    inits += [numpy_helper.from_array(np.array([1.0], np.float32), k) for k in INPUTS[op] if k.endswith("penalty")]
    graph_inputs = [helper.make_tensor_value_info("input_ids", I32, [B, S])]
    if max_length is None:
        graph_inputs.append(helper.make_tensor_value_info("max_length", I32, [1]))
    node = helper.make_node(op, INPUTS[op], OUTPUTS[op], domain=MS, name="search", decoder=decoder(),
                            eos_token_id=V - 1, pad_token_id=0, model_type=0)
    graph = helper.make_graph([node], "search", graph_inputs, [onnx.ValueInfoProto(name=o) for o in OUTPUTS[op]],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    return model


def prompt():
    return {"input_ids": RNG.integers(1, V - 1, (B, S)).astype(np.int32)}


@pytest.mark.parametrize("op", sorted(INPUTS))
def test_search_outputs_are_onnxruntimes(op):
    model = search_model(op)
    actual = ort_values(model, prompt())
    report = inspect_model(model)
    assert not report.warnings
    ours = {t.name: t for t in report.node("search").outputs}
    if op == "Sampling":   # a debug output the CPU kernel leaves empty; (B, V) per the documentation
        assert actual.pop("filtered_logits").shape == () and ours["filtered_logits"].shape == (B, V)
    for name, value in actual.items():
        assert ours[name].shape == value.shape, name
        assert ours[name].dtype == dtype_name(helper.np_dtype_to_tensor_dtype(value.dtype)), name
    assert report.totals.unique_params == 2 * V * HEADS * HEAD     # E and W; the shape constants are not


@pytest.mark.parametrize("op,beams", [("BeamSearch", BEAMS), ("GreedySearch", 1)])
def test_search_cost_and_the_reported_last_step(op, beams):
    report = inspect_model(search_model(op))
    node = report.node("search")
    rows = B * beams
    first = 2 * rows * S * HEADS * HEAD * V                 # the prompt's logits MatMul
    step = 2 * rows * 1 * HEADS * HEAD * V                  # one new token's
    assert node.flops == report.totals.flops == first + (M - S - 1) * step
    assert list(node.subgraphs) == ["decoder"]
    # The decoder at its last step, run by onnxruntime alone: past M - 2, one new token.
    feeds = {"input_ids": np.ones((rows, 1), np.int32), "position_ids": np.ones((rows, 1), np.int32),
             "attention_mask": np.ones((rows, M - 1), np.int32)}
    feeds.update({f"past_{i}": np.zeros((2, rows, HEADS, M - 2, HEAD), np.float32) for i in range(LAYERS)})
    alone = helper.make_model(decoder(), opset_imports=[helper.make_opsetid("", 17)])
    alone.ir_version = 8
    actual = ort_values(alone, feeds)
    reported = {t.name: t.shape for n in node.subgraphs["decoder"] for t in n.outputs}
    assert reported == {name: value.shape for name, value in actual.items() if name in reported}
    assert reported["present_0"] == (2, rows, HEADS, M - 1, HEAD)


def test_run_time_max_length_is_a_symbol_bound_by_dim():
    report = inspect_model(search_model("GreedySearch", max_length=None))
    sequences = report.node("search").outputs[0]
    assert sequences.shape[0] == B and not isinstance(sequences.shape[1], int)
    symbol = str(sequences.shape[1])
    bound = inspect_model(search_model("GreedySearch", max_length=None), dims={symbol: M})
    assert bound.node("search").outputs[0].shape == (B, M)
    assert bound.totals.flops == inspect_model(search_model("GreedySearch")).totals.flops


def test_encoder_decoder_search_has_shapes_and_an_unknown_cost():
    model = search_model("BeamSearch")
    node = model.graph.node[0]
    for attr in node.attribute:
        if attr.name == "model_type":
            attr.i = 1
    node.attribute.append(helper.make_attribute("encoder", decoder()))
    report = inspect_model(model)
    search = report.node("search")
    assert [t.shape for t in search.outputs] == [(B, RETURNED, M), (B, RETURNED), (M - S, B, BEAMS, V)]
    assert search.flops is None and list(search.subgraphs) == ["encoder", "decoder"]
