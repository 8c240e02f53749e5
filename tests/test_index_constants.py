"""Integer constants that only index are not parameters (walk/index_constants.py).

Each count is derived by hand from the graph: the learned tables are parameters, the
int64 buffers that only become indices or shapes are not; an int64 weight that meets
data stays one.  Shapes are checked against onnxruntime (``truth.check``).
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from truth import check, make_model, ort_shapes, random_feeds

from onnxinspect import inspect_model

F, I64 = TensorProto.FLOAT, TensorProto.INT64
n = helper.make_node


def const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def bert_embeddings():
    """BERT's embeddings: position_ids (1, 512) Sliced to the sequence length T, then
    Gather indices into the (512, 16) position table."""
    rng = np.random.default_rng(0)
    nodes = [n("Shape", ["input_ids"], ["shape"]),
             n("Gather", ["shape", "one"], ["t"], axis=0),
             n("Unsqueeze", ["t", "axis0"], ["end"]),
             n("Slice", ["position_ids", "start", "end", "axis1"], ["positions"]),
             n("Gather", ["position_table", "positions"], ["position_embeddings"]),
             n("Gather", ["word_table", "input_ids"], ["word_embeddings"]),
             n("Add", ["word_embeddings", "position_embeddings"], ["out"])]
    inits = [const("position_ids", np.arange(512, dtype=np.int64)[None]),
             const("position_table", rng.standard_normal((512, 16)).astype(np.float32)),
             const("word_table", rng.standard_normal((100, 16)).astype(np.float32)),
             const("one", np.array(1, np.int64)), const("axis0", np.array([0], np.int64)),
             const("start", np.array([0], np.int64)), const("axis1", np.array([1], np.int64))]
    return make_model(nodes, [("input_ids", I64, ["B", "T"])], [("out", F, None)], inits)


def test_position_ids_are_not_parameters():
    report = check(bert_embeddings(), {"B": 2, "T": 7})
    slice_node = next(node for node in report.nodes if node.op_type == "Slice")
    assert slice_node.params == 0 and slice_node.param_inputs == []
    assert report.totals.params == 512 * 16 + 100 * 16   # the two tables; not the 512 ids


def relative_bias(offset_dtype=np.int64, use_as_output=False):
    """Swin / ConvNeXt style: an int64 offset table added to run-time indices before
    the bias-table Gather (window 2 x 2: 4 x 4 pairs, offsets into a 9-row table)."""
    offsets = np.array([[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]], offset_dtype)
    nodes = [n("Add", ["delta", "offsets"], ["index"]),
             n("Gather", ["bias_table", "index"], ["bias"]),
             n("Transpose", ["bias"], ["out"], perm=[2, 0, 1])]
    outputs = [("out", F, None)] + ([("index", I64, None)] if use_as_output else [])
    inits = [const("offsets", offsets),
             const("bias_table", np.random.default_rng(1).standard_normal((9, 3)).astype(np.float32))]
    return make_model(nodes, [("delta", I64, [4, 4])], outputs, inits)


def test_an_index_offset_is_not_a_parameter():
    model = relative_bias()
    feeds = {"delta": np.zeros((4, 4), np.int64)}   # indices stay inside the table
    report = check(model, feeds=feeds)
    assert report.nodes[0].params == 0
    assert report.totals.params == 9 * 3                 # the bias table alone


def test_an_offset_that_is_also_an_output_stays_a_parameter():
    """The sum leaves the graph: something outside may use it as data."""
    report = inspect_model(relative_bias(use_as_output=True))
    assert report.nodes[0].param_inputs == ["offsets"] and report.totals.params == 16 + 9 * 3


def test_an_int_weight_applied_to_int_data_stays_a_parameter():
    """x + w (int64) -> Cast -> MatMul: the sum is data, not an index."""
    nodes = [n("Add", ["x", "w"], ["s"]), n("Cast", ["s"], ["sf"], to=F), n("MatMul", ["sf", "m"], ["out"])]
    inits = [const("w", np.arange(8, dtype=np.int64)),
             const("m", np.ones((8, 2), np.float32))]
    model = make_model(nodes, [("x", I64, ["N", 8])], [("out", F, None)], inits)
    report = check(model, {"N": 3})
    assert report.nodes[0].param_inputs == ["w"] and report.totals.params == 8 + 16


def test_box_decoding_shape_constants_are_not_parameters():
    """Reshape(boxes, Concat(run-time count, [4])) and a Gather index table built with
    Concat: the one-element int64 constants only make a shape or indices."""
    nodes = [n("ReduceMax", ["counts"], ["most"], keepdims=1),
             n("Concat", ["most", "four"], ["target"], axis=0),
             n("Reshape", ["boxes", "target"], ["boxes2"]),
             n("Concat", ["picked", "extra"], ["rows"], axis=0),
             n("Gather", ["boxes2", "rows"], ["out"], axis=0)]
    inits = [const("four", np.array([4], np.int64)), const("extra", np.array([0, 1], np.int64))]
    model = make_model(nodes, [("boxes", F, [3, 8]), ("counts", I64, [2]), ("picked", I64, [2])],
                       [("out", F, None)], inits)
    feeds = {"boxes": np.zeros((3, 8), np.float32), "counts": np.array([6, 2]), "picked": np.array([1, 2])}
    assert ort_shapes(model, feeds)["out"] == (4, 4)
    report = inspect_model(model)
    assert [node.params for node in report.nodes] == [0, 0, 0, 0, 0] and report.totals.params == 0


def test_a_long_chain_is_walked_without_recursion():
    """5,000 Adds between the constant and the Gather: linear, no recursion limit."""
    nodes = [n("Add", ["idx", "offset"], ["a0"])]
    nodes += [n("Add", [f"a{i}", "zero"], [f"a{i + 1}"]) for i in range(5000)]
    nodes.append(n("Gather", ["table", "a5000"], ["out"]))
    inits = [const("offset", np.zeros(3, np.int64)), const("zero", np.array(0, np.int64)),
             const("table", np.ones((4, 2), np.float32))]
    model = make_model(nodes, [("idx", I64, [3])], [("out", F, None)], inits)
    assert inspect_model(model).totals.params == 8


def test_a_transformers_bert_export_counts_only_its_weights(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=512)
    bert = transformers.BertModel(config).eval()

    class Hidden(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids):
            return self.bert(input_ids=input_ids).last_hidden_state

    path = tmp_path / "bert.onnx"
    torch.onnx.export(Hidden(), (torch.randint(0, 100, (2, 7)),), str(path), input_names=["input_ids"],
                      dynamic_axes={"input_ids": {0: "B", 1: "T"}}, dynamo=False, opset_version=17)
    report = inspect_model(str(path))
    # every weight the hidden states use: all of them but the pooler (not in the graph)
    used = sum(p.numel() for name, p in bert.named_parameters() if not name.startswith("pooler."))
    assert report.totals.params == used                 # the (1, 512) position_ids buffer is not one
    import onnx
    model = onnx.load(str(path))
    assert ort_shapes(model, random_feeds(model, {"input_ids": (2, 5)}))   # the export runs
