"""The layer view: node names mapped back to framework layers, rows summing to the totals."""

from __future__ import annotations

import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxinspect import inspect_model
from onnxinspect.analyse.layers import group_layers, layer_name
from truth import make_model, ort_shapes, random_feeds

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
    report = inspect_model(_torch_style_block())
    rows = group_layers(report)
    assert [r.name for r in rows] == ["conv1", "block.conv", "/Add"]
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
                                      [("z", TensorProto.FLOAT, None)]))
    [row] = group_layers(report)
    assert row.name == "act" and row.flops is None


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


@needs_unet
def test_unet_layer_view_reads_like_keras_summary():
    from onnxinspect.exporters.keras.unet import PARAMS

    expected = _unet_layers()
    assert sum(p for _, p in expected) == PARAMS == 7_759_521
    report = inspect_model(UNET)
    rows = group_layers(report)
    assert [(r.name, r.params) for r in rows] == expected
    assert sum(r.params for r in rows) == report.totals.params
    kinds = {r.name: r.op_types for r in rows}
    assert "Conv" in kinds["conv2d_5"] and kinds["max_pooling2d"] == ["MaxPool"]
    assert kinds["conv2d_transpose"] == ["ConvTranspose"] and kinds["concatenate"] == ["Concat"]


@needs_unet
def test_unet_layer_outputs_match_onnxruntime():
    import onnx

    model = onnx.load(UNET)
    name = model.graph.input[0].name
    report = inspect_model(model, inputs={name: [1, 96, 96, 1]})
    actual = ort_shapes(model, random_feeds(model, {name: (1, 96, 96, 1)}))
    for row in group_layers(report):
        assert row.output.shape == actual[row.output.name], row.name


@needs_unet
def test_cli_layer_view_in_every_format():
    import csv
    import io
    import json

    from click.testing import CliRunner

    from onnxinspect.cli import main

    expected = _unet_layers()
    run = lambda *args: CliRunner().invoke(main, [UNET, "--by", "layer", *args]).output  # noqa: E731
    data = json.loads(run("--format", "json"))
    assert [(r["name"], r["params"]) for r in data["layers"]] == expected
    assert sum(r["params"] for r in data["layers"]) == data["totals"]["params"]
    assert len(data["nodes"]) == sum(len(r["nodes"]) for r in data["layers"])
    rows = list(csv.DictReader(io.StringIO(run("--format", "csv"))))
    assert [(r["layer"], int(r["params"])) for r in rows] == expected
    table = run().splitlines()
    assert table[0].split()[:3] == ["Layer", "Ops", "Output"]
    assert [line.split()[0] for line in table[2:2 + len(expected)]] == [name for name, _ in expected]
    markdown = run("--format", "markdown")
    assert f"| conv2d_2 | Conv, Relu | (N, 64, 48, 48) | {18_496:,} |" in markdown
