"""The layer view: node names mapped back to framework layers, rows summing to the totals."""

from __future__ import annotations

import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from truth import make_model, ort_shapes, random_feeds

from onnxinspect import inspect_model
from onnxinspect.analyse.layers import group_layers, layer_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNET = os.path.join(ROOT, "fixtures", "unet.onnx")
needs_unet = pytest.mark.skipif(not os.path.exists(UNET), reason="fixtures/unet.onnx not exported yet")


# Node names copied from real exports: tf2onnx 1.17 of a Keras 3.15 functional model
# (layers conv2d, conv2d_1, max_pooling2d, flatten, dense, dense_1; model "functional"),
# and torch.onnx's scoped names of torchvision's ResNet-50.
@pytest.mark.parametrize("node, layer", [
    ("functional_1/conv2d_1/BiasAdd__6", "conv2d"),
    ("functional_1/conv2d_1/BiasAdd", "conv2d"),
    ("functional_1/conv2d_1_2/Relu", "conv2d_1"),
    ("functional_1/conv2d_3_1/convolution", "conv2d_3"),
    ("functional_1/max_pooling2d_1/MaxPool2d", "max_pooling2d"),
    ("functional_1/flatten_1/Reshape/shape_Concat__28", "flatten"),
    ("functional_1/dense_1_2/Softmax", "dense_1"),
    ("unet_1/conv2d_transpose_1_2/BiasAdd", "conv2d_transpose_1"),
    ("model/conv2d_3/BiasAdd", "conv2d_3"),                       # tf.keras 2: plain scopes
    ("StatefulPartitionedCall/model/dense/MatMul", "dense"),
    ("/layer1/layer1.0/conv1/Conv", "layer1.0.conv1"),
    ("/layer1/layer1.0/downsample/downsample.0/Conv", "layer1.0.downsample.0"),
    ("/layer1/layer1.0/Add", "layer1.0"),
    ("/fc/Gemm", "fc"),
    ("/Flatten", None),
    ("Transpose__32", None),
    ("Conv__206", None),
    ("", None),
])
def test_layer_name(node, layer):
    assert layer_name(node) == layer


def _torch_style_block():
    """A PyTorch-named residual block whose nodes interleave: conv1 / relu / conv2 / add,
    with the stem's Relu after the block's first Conv in topological order."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), "conv1.weight")
    w2 = numpy_helper.from_array(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), "block.conv.weight")
    nodes = [
        helper.make_node("Conv", ["x", "conv1.weight"], ["a"], name="/conv1/Conv", pads=[1] * 4),
        helper.make_node("Conv", ["a", "block.conv.weight"], ["b"], name="/block/conv/Conv", pads=[1] * 4),
        helper.make_node("Relu", ["a"], ["c"], name="/conv1/Relu"),
        helper.make_node("Add", ["b", "c"], ["y"], name="/Add"),
    ]
    return make_model(nodes, [("x", TensorProto.FLOAT, [1, 4, 8, 8])], [("y", TensorProto.FLOAT, None)],
                      [w1, w2])


def test_group_layers_groups_non_consecutive_nodes():
    report = inspect_model(_torch_style_block(), layers=True)
    rows = report.layers
    assert [(r.name, r.converter) for r in rows] == [("conv1", False), ("block.conv", False), ("/Add", False)]
    assert [(r.name, r.params, r.flops) for r in group_layers(report)] == [(r.name, r.params, r.flops) for r in rows]
    conv1 = rows[0]
    assert [n.name for n in conv1.nodes] == ["/conv1/Conv", "/conv1/Relu"]
    assert conv1.op_types == ["Conv", "Relu"]
    assert conv1.output.name == "c"                      # the last node's first output
    assert conv1.params == 4 * 4 * 3 * 3                  # no bias
    # 2 FLOPs per MAC (N·Cout·H·W·Cin·k·k) plus one per Relu output element.
    assert conv1.flops == 2 * (4 * 8 * 8 * 4 * 9) + 4 * 8 * 8
    assert sum(r.params for r in rows) == report.totals.params
    assert sum(r.flops for r in rows) == report.totals.flops


def test_unknown_flops_make_the_row_unknown():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="m_1/act_1/Relu"),
             helper.make_node("NoSuchOp", ["y"], ["z"], name="m_1/act_1/Mystery")]
    report = inspect_model(make_model(nodes, [("x", TensorProto.FLOAT, [2, 3])],
                                      [("z", TensorProto.FLOAT, None)]), layers=True)
    [row] = report.layers
    assert row.name == "act" and row.flops is None


def _tf2onnx_style_edges():
    """tf2onnx's shape of a Keras conv export: a Transpose ``...__<k>`` from the channels-last
    input, the layer's Conv and Relu, a Transpose ``...__<k>`` inside the graph (the layer's
    own), and a Transpose ``...__<k>`` back to channels-last at the output."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "conv2d/kernel")
    nodes = [
        helper.make_node("Transpose", ["x"], ["t0"], name="model_1/conv2d_1/BiasAdd__6", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t0", "conv2d/kernel"], ["c"], name="model_1/conv2d_1/BiasAdd", pads=[1] * 4),
        helper.make_node("Transpose", ["c"], ["t1"], name="model_1/conv2d_1/Relu__7", perm=[0, 1, 2, 3]),
        helper.make_node("Relu", ["t1"], ["r"], name="model_1/conv2d_1/Relu"),
        helper.make_node("Transpose", ["r"], ["y"], name="model_1/conv2d_1/Relu__9", perm=[0, 2, 3, 1]),
    ]
    return make_model(nodes, [("x", TensorProto.FLOAT, [1, 8, 8, 3])], [("y", TensorProto.FLOAT, None)], [w])


def test_layout_conversions_at_the_edges_get_converter_rows():
    report = inspect_model(_tf2onnx_style_edges(), layers=True)
    rows = report.layers
    assert [(r.name, r.converter, r.op_types, r.params) for r in rows] == [
        ("model_1/conv2d_1/BiasAdd__6", True, ["Transpose"], 0),
        ("conv2d", False, ["Conv", "Transpose", "Relu"], 4 * 3 * 3 * 3),   # the inner Transpose stays
        ("model_1/conv2d_1/Relu__9", True, ["Transpose"], 0),
    ]
    assert [n.name for n in rows[1].nodes] == ["model_1/conv2d_1/BiasAdd", "model_1/conv2d_1/Relu__7",
                                               "model_1/conv2d_1/Relu"]
    assert rows[0].output.shape == (1, 3, 8, 8) and rows[-1].output.name == "y"
    assert sum(r.params for r in rows) == report.totals.params
    assert sum(r.flops for r in rows) == report.totals.flops


def test_layer_table_notes_converter_rows(tmp_path):
    import onnx
    from click.testing import CliRunner

    from onnxinspect.cli import main

    path = tmp_path / "edges.onnx"
    onnx.save(_tf2onnx_style_edges(), path)
    lines = CliRunner().invoke(main, [str(path), "--by", "layer"]).output.splitlines()
    body = lines[2:lines.index(lines[1], 2)]  # between the two rules
    note = "    layout conversion inserted by the converter (channels-last <-> channels-first)"
    assert [line.split()[0] if not line.startswith(" ") else line for line in body] == [
        "model_1/conv2d_1/BiasAdd__6", note, "conv2d", "model_1/conv2d_1/Relu__9", note]


def _unet_layers():
    """(name, params) of every Keras layer that leaves nodes in the ONNX graph, in call order,
    with Keras's default names and the per-layer formula (k·k·Cin + 1)·Cout."""
    from onnxinspect.exporters.keras.unet import DECODER, ENCODER, INPUT_SHAPE

    counters: dict = {}
    rows = []

    def layer(kind, params=0):
        n = counters.get(kind, 0)
        counters[kind] = n + 1
        rows.append((kind if n == 0 else f"{kind}_{n}", params))

    def conv(cin, cout, k, kind="conv2d"):
        layer(kind, (k * k * cin + 1) * cout)

    channels = INPUT_SHAPE[-1]
    for level, (filters, _rate) in enumerate(ENCODER):  # Dropout leaves no node at inference
        conv(channels, filters, 3)
        conv(filters, filters, 3)
        channels = filters
        if level < len(ENCODER) - 1:
            layer("max_pooling2d")
    for filters, _rate in DECODER:
        conv(channels, filters, 2, "conv2d_transpose")
        layer("concatenate")
        conv(2 * filters, filters, 3)
        conv(filters, filters, 3)
        channels = filters
    conv(channels, 1, 1)
    return rows


def _unet_rows(report):
    """(name, params, converter) of every row the U-Net's layer view should have: the Keras
    layers between the converter's two layout Reshapes (channels-last input -> NCHW, NCHW ->
    channels-last output), which belong to no Keras layer and learn nothing."""
    first, last = report.layers[0], report.layers[-1]
    return [(first.name, 0, True)] + [(n, p, False) for n, p in _unet_layers()] + [(last.name, 0, True)]


def _assert_unet_converter_rows(report):
    first, last = report.layers[0], report.layers[-1]
    for row in (first, last):
        assert row.converter and row.op_types == ["Reshape"] and row.params == 0 and len(row.nodes) == 1
        assert row.name == row.nodes[0].name and row.name.rsplit("__", 1)[1].isdigit()
    assert [t.name for t in first.nodes[0].inputs if t is not None][0] == report.inputs[0].name
    assert last.output.name == report.outputs[0].name
    assert [r for r in report.layers if r.converter] == [first, last]


@needs_unet
def test_unet_layer_view_reads_like_keras_summary():
    from onnxinspect.exporters.keras.unet import PARAMS

    expected = _unet_layers()
    assert sum(p for _, p in expected) == PARAMS == 7_759_521
    report = inspect_model(UNET, layers=True)
    rows = report.layers
    _assert_unet_converter_rows(report)
    assert [(r.name, r.params, r.converter) for r in rows] == _unet_rows(report)
    assert [(r.name, r.params) for r in rows if not r.converter] == expected
    assert sum(r.params for r in rows) == report.totals.params
    kinds = {r.name: r.op_types for r in rows}
    assert "Conv" in kinds["conv2d_5"] and kinds["max_pooling2d"] == ["MaxPool"]
    assert kinds["conv2d_transpose"] == ["ConvTranspose"] and kinds["concatenate"] == ["Concat"]
    # The first and last Keras layers no longer absorb the converter's Reshapes.
    assert kinds["conv2d"] == ["Conv", "Relu"] and kinds["conv2d_18"] == ["Conv", "Sigmoid"]


@needs_unet
def test_unet_layer_outputs_match_onnxruntime():
    import onnx

    model = onnx.load(UNET)
    name = model.graph.input[0].name
    report = inspect_model(model, inputs={name: [1, 96, 96, 1]}, layers=True)
    actual = ort_shapes(model, random_feeds(model, {name: (1, 96, 96, 1)}))
    for row in report.layers:
        assert row.output.shape == actual[row.output.name], row.name
    # The converter rows turn the channels-last input into NCHW and back at the output.
    assert report.layers[0].output.shape == (1, 1, 96, 96) and report.layers[-1].output.shape == (1, 96, 96, 1)


@needs_unet
def test_cli_layer_view_in_every_format():
    import csv
    import io
    import json

    from click.testing import CliRunner

    from onnxinspect.cli import main

    report = inspect_model(UNET, layers=True)
    _assert_unet_converter_rows(report)
    expected = _unet_rows(report)
    run = lambda *args: CliRunner().invoke(main, [UNET, "--by", "layer", *args]).output  # noqa: E731
    data = json.loads(run("--format", "json"))
    assert [(r["name"], r["params"], r["converter"]) for r in data["layers"]] == expected
    assert sum(r["params"] for r in data["layers"]) == data["totals"]["params"]
    assert len(data["nodes"]) == sum(len(r["nodes"]) for r in data["layers"])
    rows = list(csv.DictReader(io.StringIO(run("--format", "csv"))))
    assert [(r["layer"], int(r["params"])) for r in rows] == [(name, params) for name, params, _ in expected]
    assert [r["op_types"] for r in rows if r["layer"] in (expected[0][0], expected[-1][0])] == ["Reshape"] * 2
    table = run().splitlines()
    assert table[0].split()[:3] == ["Layer", "Ops", "Output"]
    body = table[2:table.index(table[1], 2)]
    note = "    layout conversion inserted by the converter (channels-last <-> channels-first)"
    # One line per layer, and under each converter row (and only there) the note line.
    listed = []
    for line in body:
        if line == note:
            assert listed and listed[-1][2] is False, line
            listed[-1] = (listed[-1][0], listed[-1][1], True)
        else:
            listed.append((line.split()[0], int(line.split()[-3].replace(",", "")), False))
    assert listed == expected
    markdown = run("--format", "markdown")
    assert f"| conv2d_2 | Conv, Relu | (N, 64, 48, 48) | {18_496:,} |" in markdown
    assert f"| {expected[0][0]} | Reshape | (N, 1, 96, 96) | 0 |" in markdown
    assert f"| {expected[-1][0]} | Reshape | (N, 96, 96, 1) | 0 |" in markdown
