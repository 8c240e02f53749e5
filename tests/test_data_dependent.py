"""Data-dependent sizes are named symbols with bounds (walk/symbols.py).

Truth: onnxruntime's actual shapes on seeded inputs (``truth.check`` reads each
symbol's run-time size where a dim is the symbol alone, asserts one size per symbol
and the bound, and compares every other dim with ORT's); bounds and FLOPs by hand.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper
from truth import check, make_model, ort_shapes, random_feeds, run_time_sizes

from onnxinspect import inspect_model
from onnxinspect.cli import main
from onnxinspect.dims import sym

F, I64 = TensorProto.FLOAT, TensorProto.INT64


def const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def detection_model():
    """scores -> TopK (run-time K) / NMS -> Gather boxes -> MatMul, NonZero, Unique,
    Compress, Range: the shape of a detector's post-processing."""
    n = helper.make_node
    nodes = [
        n("Reshape", ["scores", "minus_one"], ["flat"]),
        n("TopK", ["flat", "k"], ["top_values", "top_index"], name="topk"),
        n("NonMaxSuppression", ["boxes", "scores", "max_boxes", "iou", "threshold"], ["selected"]),
        n("Gather", ["selected", "two"], ["box_index"], axis=1),
        n("Squeeze", ["boxes", "zero_axis"], ["boxes2"]),
        n("Gather", ["boxes2", "box_index"], ["picked"], axis=0),
        n("MatMul", ["picked", "w"], ["features"], name="head"),
        n("Greater", ["top_values", "zero"], ["positive"]),
        n("NonZero", ["positive"], ["nz"]),
        n("NonZero", ["positive"], ["nz_again"]),          # the same op over the same tensor
        n("Unique", ["box_index"], ["distinct", "first", "inverse", "counts"]),
        n("ReduceMax", ["scores"], ["best"], axes=[1], keepdims=0),
        n("Squeeze", ["best", "zero_axis"], ["best2"]),
        n("Greater", ["best2", "half"], ["keep"]),
        n("Compress", ["boxes2", "keep"], ["kept"], axis=0),
        n("Squeeze", ["k", "zero_axis"], ["k0"]),
        n("Range", ["start", "k0", "step"], ["steps"]),
        n("Relu", ["features"], ["out"]),
    ]
    inits = [const("minus_one", np.array([-1], np.int64)), const("max_boxes", np.array([10], np.int64)),
             const("iou", np.array([0.5], np.float32)), const("threshold", np.array([0.0], np.float32)),
             const("two", np.array(2, np.int64)), const("zero_axis", np.array([0], np.int64)),
             const("w", np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)),
             const("zero", np.array(0.0, np.float32)), const("half", np.array(0.5, np.float32)),
             const("start", np.array(0, np.int64)), const("step", np.array(1, np.int64))]
    outputs = [("out", F), ("top_index", I64), ("nz", I64), ("nz_again", I64), ("distinct", I64),
               ("inverse", I64), ("counts", I64), ("kept", F), ("steps", I64)]
    return make_model(nodes, [("boxes", F, [1, 50, 4]), ("scores", F, [1, 3, 50]), ("k", I64, [1])],
                      [(name, dtype, None) for name, dtype in outputs], inits, opset=17)


def feeds(model, seed=0):
    values = random_feeds(model, {"boxes": (1, 50, 4), "scores": (1, 3, 50), "k": (1,)}, seed)
    values["k"] = np.array([20], np.int64)
    return values


def by_op(report):
    return {d.op_type: d for d in report.data_dependent}


def test_detection_post_processing_has_no_unknown_shape():
    model = detection_model()
    report = check(model, feeds=feeds(model), onnx_truth=False)
    assert all(t.shape is not None and None not in t.shape for node in report.nodes for t in node.outputs)
    symbols = by_op(report)
    # bounds: K <= 150 scores; NMS <= 1 batch x 3 classes x 10 boxes; NonZero <= K elements;
    # Unique <= the NMS count; Compress <= 50 boxes; Range unbounded
    assert {op: str(d.bound) for op, d in symbols.items()} == {
        "TopK": "150", "NonMaxSuppression": "30", "NonZero": "topk_1", "Unique": "nonmaxsuppression_2",
        "Compress": "50", "Range": "None"}
    assert [d.symbol for d in report.data_dependent] == [
        "topk_1", "nonmaxsuppression_2", "nonzero_8", "unique_10", "compress_14", "range_16"]
    assert report.data_dependent[0].node == "topk" and report.data_dependent[1].node == "#2"
    nms = sym("nonmaxsuppression_2")
    assert report.node("head").flops == 64 * nms            # 2 x (nms x 4) x (4 x 8)
    assert report.node("head").outputs[0].shape == (nms, 8)
    shapes = {t.name: t.shape for node in report.nodes for t in node.outputs}
    assert shapes["nz"] == shapes["nz_again"] == (1, sym("nonzero_8"))   # merged: one symbol


def test_bounds_hold_on_other_seeds():
    model = detection_model()
    report = inspect_model(model)
    for seed in range(1, 6):
        found = run_time_sizes(report, ort_shapes(model, feeds(model, seed)), {})
        assert set(found) == {d.symbol for d in report.data_dependent}


def test_a_binding_replaces_the_symbol_downstream():
    model = detection_model()
    report = inspect_model(model, dims={"nonmaxsuppression_2": 7, "topk_1": 20})
    assert report.node("head").flops == 64 * 7
    entry = by_op(report)["NonMaxSuppression"]
    assert (entry.symbol, entry.value, entry.bound) == ("nonmaxsuppression_2", 7, 30)
    assert str(by_op(report)["NonZero"].bound) == "20"      # the bound is in terms of K's binding


def test_topk_over_the_same_k_shares_a_symbol():
    n = helper.make_node
    model = make_model([n("TopK", ["a", "k"], ["av", "ai"]), n("TopK", ["b", "k"], ["bv", "bi"]),
                        n("Add", ["av", "bv"], ["s"])],
                       [("a", F, [2, 9]), ("b", F, [2, 6]), ("k", I64, [1])], [("s", F, None)])
    values = random_feeds(model, {"a": (2, 9), "b": (2, 6), "k": (1,)})
    values["k"] = np.array([4], np.int64)
    report = check(model, feeds=values, onnx_truth=False)
    [k] = report.data_dependent
    assert k.symbol == "topk_0" and k.bound == 6           # K <= both axes: the smaller
    assert report.nodes[2].outputs[0].shape == (2, sym("topk_0"))


def test_json_and_table_list_the_symbols(tmp_path):
    path = tmp_path / "detect.onnx"
    onnx.save(detection_model(), path)
    result = CliRunner().invoke(main, [str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["data_dependent"]
    assert listed[1] == {"symbol": "nonmaxsuppression_2", "node": "#2", "op_type": "NonMaxSuppression",
                         "bound": 30, "value": None}
    table = CliRunner().invoke(main, [str(path), "--dim", "topk_1=20"])
    assert table.exit_code == 0, table.output
    line = next(li for li in table.output.splitlines() if li.startswith("Run-time dims:"))
    assert "topk_1 = 20 (TopK topk)" in line and "nonmaxsuppression_2 ≤ 30 (NonMaxSuppression #2)" in line


def test_dim_errors_name_the_data_dependent_symbols(tmp_path):
    path = tmp_path / "detect.onnx"
    onnx.save(detection_model(), path)
    unknown = CliRunner().invoke(main, [str(path), "--dim", "Q=3"])
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output
    assert ("--dim Q: no input or data-dependent dimension is called 'Q' (symbols: none; data-dependent: "
            "topk_1, nonmaxsuppression_2, nonzero_8, unique_10, compress_14, range_16)") in unknown.output
    over = CliRunner().invoke(main, [str(path), "--dim", "nonmaxsuppression_2=31"])
    assert over.exit_code == 2
    assert "--dim nonmaxsuppression_2: 31 exceeds its bound 30 (NonMaxSuppression node #2)" in over.output


def test_nms_without_max_boxes_selects_nothing():
    model = make_model([helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"])],
                       [("boxes", F, [1, 5, 4]), ("scores", F, [1, 2, 5])], [("sel", I64, None)])
    report = check(model, onnx_truth=False)
    assert report.nodes[0].outputs[0].shape == (0, 3) and report.data_dependent == []



def test_a_torch_export_with_nonzero(tmp_path):
    """torch.nonzero feeding an index and a Linear in a seeded torch.onnx export: every
    dim known, the run-time size within its bound, FLOPs in the symbol.  (torchvision's
    detection models are not used: torchvision is not installed with this +cpu torch.)"""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)

    class Select(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(4, 3)

        def forward(self, boxes):
            kept = torch.nonzero(boxes.sum(-1) > 0)[:, 0]
            return self.head(boxes[kept])

    path = tmp_path / "select.onnx"
    torch.onnx.export(Select().eval(), (torch.randn(20, 4),), str(path), input_names=["boxes"],
                      dynamo=False, opset_version=17)
    model = onnx.load(str(path))
    values = {"boxes": np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)}
    report = check(model, feeds=values, onnx_truth=False)
    assert all(t.shape is not None and None not in t.shape for node in report.nodes for t in node.outputs)
    [found] = report.data_dependent
    assert found.op_type == "NonZero" and found.bound == 20
    head = next(node for node in report.nodes if node.op_type == "Gemm" or node.op_type == "MatMul")
    assert head.flops is not None and found.symbol in str(head.flops)


def test_if_branches_of_different_sizes_give_a_symbol():
    """torchvision's batched NMS: ``if boxes.numel() == 0: empty else: nms(...)`` with
    int64's maximum as max_output_boxes_per_class.  The If's dim is a symbol bounded by
    the NMS's bound (the boxes), its run-time size onnxruntime's."""
    n = helper.make_node
    then = helper.make_graph([n("Constant", [], ["none"], value=const("v", np.zeros(0, np.int64)))], "then", [],
                             [helper.make_tensor_value_info("none", I64, None)])
    other = helper.make_graph([
        n("NonMaxSuppression", ["boxes", "scores", "max_boxes", "iou"], ["sel"]),
        n("Gather", ["sel", "two"], ["keep"], axis=1)], "else", [],
        [helper.make_tensor_value_info("keep", I64, None)])
    model = make_model([n("Size", ["boxes"], ["size"]), n("Equal", ["size", "zero"], ["empty"]),
                        n("If", ["empty"], ["kept"], then_branch=then, else_branch=other)],
                       [("boxes", F, [1, "n", 4]), ("scores", F, [1, 1, "n"])], [("kept", I64, None)],
                       [const("zero", np.array(0, np.int64)), const("two", np.array(2, np.int64)),
                        const("max_boxes", np.array([np.iinfo(np.int64).max], np.int64)),
                        const("iou", np.array([0.5], np.float32))], opset=17)
    report = check(model, {"n": 12}, onnx_truth=False)
    assert [(d.symbol, d.op_type, str(d.bound)) for d in report.data_dependent] == [
        ("nonmaxsuppression_2_0", "NonMaxSuppression", "n"), ("if_2", "If", "n")]
    assert report.nodes[2].outputs[0].shape == (sym("if_2"),)
