"""Activation bytes and the liveness peak, against hand-worked graphs and onnxruntime."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from truth import make_model, random_feeds

from onnxinspect import inspect_model
from onnxinspect.dims import sym

F = TensorProto.FLOAT
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNET = os.path.join(ROOT, "fixtures", "unet.onnx")

KB = 1 * 4 * 8 * 8 * 4  # a float32 [1, 4, 8, 8] tensor: 1,024 bytes


def _model(nodes, outputs, inputs=(("x", F, [1, 4, 8, 8]),)):
    return make_model(nodes, list(inputs), [(o, F, None) for o in outputs])


def _peak(report):
    m = report.memory
    return m.peak_bytes, m.peak_node


def test_chain_frees_each_input_after_its_last_use():
    # x -> r1 -> r2 -> r3: at most one tensor and its successor are live.
    nodes = [helper.make_node("Relu", ["x"], ["r1"], name="r1"),
             helper.make_node("Relu", ["r1"], ["r2"], name="r2"),
             helper.make_node("Relu", ["r2"], ["r3"], name="r3")]
    report = inspect_model(_model(nodes, ["r3"]))
    assert _peak(report) == (2 * KB, "r1")  # the first step reaching the maximum
    assert [n.live_bytes for n in report.nodes] == [2 * KB, 2 * KB, 2 * KB]
    assert report.memory.activation_bytes == 4 * KB
    assert report.memory.evaluated_at == {}


def test_branches_keep_the_shared_input_alive():
    # x feeds both branches, so it is live while the second one runs: x, a, b.
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="a"),
             helper.make_node("Sigmoid", ["x"], ["b"], name="b"),
             helper.make_node("Add", ["a", "b"], ["y"], name="add")]
    report = inspect_model(_model(nodes, ["y"]))
    assert [n.live_bytes for n in report.nodes] == [2 * KB, 3 * KB, 3 * KB]
    assert _peak(report) == (3 * KB, "b")
    assert sorted(report.memory.live_at_peak) == [("a", KB), ("b", KB), ("x", KB)]


def test_concat_output_is_live_with_its_inputs():
    # a, b: [1, 4, 8, 8]; concat on channels: [1, 8, 8, 8] = 2 KB; peak a + b + c = 4 KB.
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="a"),
             helper.make_node("Neg", ["x"], ["b"], name="b"),
             helper.make_node("Concat", ["a", "b"], ["c"], name="cat", axis=1),
             helper.make_node("Relu", ["c"], ["y"], name="out")]
    report = inspect_model(_model(nodes, ["y"]))
    assert [n.live_bytes for n in report.nodes] == [2 * KB, 3 * KB, 4 * KB, 4 * KB]
    assert _peak(report) == (4 * KB, "cat")


def test_residual_input_stays_live_until_the_add():
    nodes = [helper.make_node("Relu", ["x"], ["r1"], name="r1"),
             helper.make_node("Relu", ["r1"], ["r2"], name="r2"),
             helper.make_node("Relu", ["r2"], ["r3"], name="r3"),
             helper.make_node("Add", ["r3", "x"], ["y"], name="add")]
    report = inspect_model(_model(nodes, ["y"]))
    # x lives to the add: x+r1, x+r1+r2, x+r2+r3, x+r3+y.
    assert [n.live_bytes for n in report.nodes] == [2 * KB, 3 * KB, 3 * KB, 3 * KB]
    assert _peak(report) == (3 * KB, "r2")


def test_graph_outputs_stay_live_and_unread_outputs_are_freed_at_once():
    # "mid" is a graph output (kept to the end); Dropout's mask is never read.
    nodes = [helper.make_node("Relu", ["x"], ["mid"], name="mid"),
             helper.make_node("Dropout", ["mid"], ["d", "mask"], name="drop"),
             helper.make_node("Relu", ["d"], ["y"], name="out")]
    model = make_model(nodes, [("x", F, [1, 4, 8, 8])], [("mid", F, None), ("y", F, None)])
    report = inspect_model(model)
    mask = 4 * 8 * 8  # bool: one byte per element
    assert [n.live_bytes for n in report.nodes] == [2 * KB, 2 * KB + mask, 3 * KB]
    assert report.nodes[1].output_bytes == KB + mask
    assert _peak(report) == (3 * KB, "out")


def test_weights_and_constant_folding_are_not_activations():
    w = helper.make_tensor("w", F, [1, 4, 8, 8], np.ones(256, np.float32))
    nodes = [helper.make_node("Relu", ["w"], ["w2"], name="fold"),   # constants only: a weight
             helper.make_node("Add", ["x", "w2"], ["y"], name="add")]
    model = make_model(nodes, [("x", F, [1, 4, 8, 8])], [("y", F, None)], [w])
    report = inspect_model(model)
    assert report.nodes[0].output_bytes == 0
    assert _peak(report) == (2 * KB, "add")
    assert report.memory.activation_bytes == 2 * KB


def test_symbolic_batch_gives_an_exact_symbolic_peak():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="a"),
             helper.make_node("Sigmoid", ["x"], ["b"], name="b"),
             helper.make_node("Add", ["a", "b"], ["y"], name="add")]
    model = _model(nodes, ["y"], inputs=[("x", F, ["N", 4, 8, 8])])
    report = inspect_model(model)
    assert report.memory.peak_bytes == 3 * KB * sym("N")
    assert report.memory.evaluated_at == {}
    assert report.to_dict()["memory"]["peak_bytes"] == f"{3 * KB}*N"
    bound = inspect_model(model, dims={"N": 8})
    assert bound.memory.peak_bytes == 3 * KB * 8


def test_undecidable_symbolic_peak_is_evaluated_per_sample():
    # z (2,000 float32 = 8,000 B) is batch-free; x is 1,024·N bytes.
    #   step z2 = Relu(z):  x + z + z2  = 1024N + 16000
    #   step w  = Sig(z2):  x + z2 + w  = 1024N + 16000
    #   step a  = Relu(x):  x + w + a   = 2048N + 8000
    #   step y  = Relu(a):  w + a + y   = 2048N + 8000
    # The first wins for N < 8, the third for N > 8: no single symbolic peak.
    nodes = [helper.make_node("Relu", ["z"], ["z2"], name="z2"),
             helper.make_node("Sigmoid", ["z2"], ["w"], name="w"),
             helper.make_node("Relu", ["x"], ["a"], name="a"),
             helper.make_node("Relu", ["a"], ["y"], name="y")]
    model = make_model(nodes, [("x", F, ["N", 256]), ("z", F, [2000])], [("y", F, None), ("w", F, None)])
    report = inspect_model(model)
    assert report.memory.evaluated_at == {"N": 1}
    assert _peak(report) == (1024 + 16000, "z2")
    assert sorted(report.memory.live_at_peak) == [("x", 1024), ("z", 8000), ("z2", 8000)]  # at N=1 too
    assert _peak(inspect_model(model, dims={"N": 100})) == (2048 * 100 + 8000, "a")


def test_unknown_sizes_make_the_peak_unknown_with_a_lower_bound():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="a"),
             helper.make_node("Mystery", ["a"], ["b"], name="m", domain="example.org"),
             helper.make_node("Relu", ["b"], ["y"], name="y")]
    model = make_model(nodes, [("x", F, [1, 4, 8, 8])], [("y", F, None)], domains={"example.org": 1})
    report = inspect_model(model)
    m = report.memory
    assert m.peak_bytes is None and m.activation_bytes is None
    assert sorted(m.unknown_tensors) == ["b", "y"]
    assert m.known_peak_bytes == 2 * KB
    assert report.to_dict()["memory"]["peak_bytes"] is None


def _ort_nbytes(model, feeds):
    """Actual bytes of every node output, from onnxruntime with all of them exposed."""
    import onnxruntime as ort

    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    declared = {o.name for o in exposed.graph.output}
    for node in exposed.graph.node:
        exposed.graph.output.extend(onnx.ValueInfoProto(name=n) for n in node.output
                                    if n and n not in declared)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return {n: np.asarray(v).nbytes for n, v in zip(names, session.run(names, feeds), strict=True)}


def _check_against_ort(model, shapes):
    feeds = random_feeds(model, shapes)
    actual = _ort_nbytes(model, feeds)
    report = inspect_model(model, inputs={k: list(v) for k, v in shapes.items()})
    checked = 0
    for node in report.nodes:
        activations = [t for t in node.outputs if t.name and not t.const]
        if activations:
            assert node.output_bytes == sum(actual[t.name] for t in activations), node.name
            checked += 1
    return report, checked


def test_activation_bytes_match_onnxruntime_across_dtypes():
    nodes = [helper.make_node("Cast", ["x"], ["h"], to=TensorProto.FLOAT16, name="half"),
             helper.make_node("Relu", ["h"], ["hr"], name="relu16"),
             helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Cast", ["hr"], ["d"], to=TensorProto.DOUBLE, name="double"),
             helper.make_node("Greater", ["x", "x"], ["g"], name="cmp"),
             helper.make_node("Concat", ["x", "x"], ["c"], axis=1, name="cat")]
    model = make_model(nodes, [("x", F, ["N", 3, 5, 7])],
                       [("d", TensorProto.DOUBLE, None), ("s", TensorProto.INT64, None),
                        ("g", TensorProto.BOOL, None), ("c", F, None)])
    report, checked = _check_against_ort(model, {"x": (2, 3, 5, 7)})
    assert checked == len(nodes)
    # The last step: x (read last by Concat) and all four graph outputs d + s + g + c.
    x, outputs = 2 * 105 * 4, 2 * 105 * 8 + 4 * 8 + 2 * 105 + 2 * 2 * 105 * 4
    assert (report.memory.peak_bytes, report.memory.peak_node) == (x + outputs, "cat")


@pytest.mark.skipif(not os.path.exists(UNET), reason="fixtures/unet.onnx not exported yet")
def test_unet_activation_bytes_match_onnxruntime_and_peak_is_the_last_concat():
    model = onnx.load(UNET)
    name = model.graph.input[0].name
    report, checked = _check_against_ort(model, {name: (1, 96, 96, 1)})
    assert checked == len(report.nodes)
    # At the last decoder concat: the 96x96x32 skip, the 96x96x32 up-convolution and
    # their 96x96x64 concatenation, float32.
    assert report.memory.peak_bytes == (96 * 96 * 32 * 2 + 96 * 96 * 64) * 4
    assert report.node(report.memory.peak_node).op_type == "Concat"


def test_a_tensor_read_only_inside_a_branch_lives_until_the_if():
    then_branch = helper.make_graph([helper.make_node("Add", ["a", "a"], ["t"])], "then", [],
                                    [helper.make_tensor_value_info("t", F, None)])
    else_branch = helper.make_graph([helper.make_node("Neg", ["a"], ["e"])], "else", [],
                                    [helper.make_tensor_value_info("e", F, None)])
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="a"),
             helper.make_node("Relu", ["x"], ["b"], name="b"),
             helper.make_node("If", ["cond"], ["i"], name="if", then_branch=then_branch, else_branch=else_branch),
             helper.make_node("Add", ["i", "b"], ["y"], name="add")]
    model = make_model(nodes, [("x", F, [1, 4, 8, 8]), ("cond", TensorProto.BOOL, [])], [("y", F, None)])
    report = inspect_model(model)
    assert [n.name for n in report.nodes] == ["a", "b", "if", "add"]
    # cond (1 byte) is live until the If; a is read only by the branches, so it stays
    # live until the If as well, then is freed: x+a+cond, x+a+b+cond, a+b+i+cond, b+i+y.
    assert [n.live_bytes for n in report.nodes] == [2 * KB + 1, 3 * KB + 1, 3 * KB + 1, 3 * KB]
