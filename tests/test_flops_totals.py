"""FLOP totals, per-node shares and honest unknowns, against hand-computed counts and onnx-tool.

Convention: 1 MAC = 2 FLOPs, a bias add 1 FLOP per output element, activations 1 per
element, max pooling kernel·output (one comparison per window element), data movement 0.
"""

from __future__ import annotations

import json
import os
import sys

import make_sample_models
import numpy as np
import pytest
from click.testing import CliRunner
from truth import ort_shapes, random_feeds

from onnxinspect import inspect_model
from onnxinspect.analyse.layers import group_layers
from onnxinspect.cli import main
from onnxinspect.dims import sym

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNET = os.path.join(ROOT, "fixtures", "unet.onnx")
needs_unet = pytest.mark.skipif(not os.path.exists(UNET), reason="fixtures/unet.onnx not exported yet")


def classic_cnn(batch="N", mystery=False):
    """The classic CNN of tools/make_sample_models.py (the docs' sample model)."""
    return make_sample_models.classic_cnn(mystery=mystery, batch=batch)


# Per sample, by hand: 28 -conv3-> 26 -pool2-> 13 -conv3-> 11 -pool2-> 5; 16·5·5 = 400 inputs to fc.
CNN_FLOPS = {
    "conv1": 2 * (8 * 26 * 26 * 1 * 9) + 8 * 26 * 26,
    "relu1": 8 * 26 * 26,
    "pool1": 4 * 8 * 13 * 13,
    "conv2": 2 * (16 * 11 * 11 * 8 * 9) + 16 * 11 * 11,
    "relu2": 16 * 11 * 11,
    "pool2": 4 * 16 * 5 * 5,
    "flatten": 0,
    "fc": 2 * (10 * 400) + 10,
}
CNN_MACS = 8 * 26 * 26 * 9 + 16 * 11 * 11 * 8 * 9 + 10 * 400


def test_concrete_totals_and_shares():
    report = inspect_model(classic_cnn(batch=2))
    assert {n.name: n.flops for n in report.nodes} == {k: 2 * v for k, v in CNN_FLOPS.items()}
    total = 2 * sum(CNN_FLOPS.values())
    assert report.totals.flops == total and report.totals.macs == 2 * CNN_MACS
    assert report.totals.unknown_flop_nodes == 0 and report.totals.flops_known == total
    for node in report.nodes:
        assert node.flops_share == pytest.approx(node.flops / total)
    assert sum(n.flops_share for n in report.nodes) == pytest.approx(1.0)


def test_symbolic_batch_gives_symbolic_totals_and_batch_free_shares():
    symbolic = inspect_model(classic_cnn())
    per_sample = sum(CNN_FLOPS.values())
    assert symbolic.totals.flops == per_sample * sym("N")
    assert symbolic.to_dict()["totals"]["flops"] == f"{per_sample}*N"
    concrete = inspect_model(classic_cnn(), dims={"N": 4})
    assert concrete.totals.flops == 4 * per_sample
    assert [n.flops_share for n in symbolic.nodes] == pytest.approx([n.flops_share for n in concrete.nodes])


def test_unknown_cost_is_never_counted_as_zero():
    report = inspect_model(classic_cnn(batch=1, mystery=True))
    known = CNN_FLOPS["conv1"] + CNN_FLOPS["relu1"] + CNN_FLOPS["pool1"] + CNN_FLOPS["conv2"] + CNN_FLOPS["relu2"]
    t = report.totals
    # Everything after the unknown op has unknown shapes, so unknown costs, except
    # Flatten: data movement costs 0 FLOPs whatever its shape.
    unknown = [n.name for n in report.nodes if n.flops is None]
    assert unknown == ["mystery", "pool2", "fc"]
    assert report.node("flatten").flops == 0
    assert t.flops is None and t.macs is None
    assert t.flops_known == known and t.unknown_flop_nodes == 3
    assert all(n.flops_share is None for n in report.nodes)
    data = report.to_dict()["totals"]
    assert data["flops"] is None and data["flops_known"] == known and data["unknown_flop_nodes"] == 3


def test_cli_table_shows_shares_and_the_honest_footer(tmp_path):
    import onnx

    path = tmp_path / "cnn.onnx"
    onnx.save(classic_cnn(batch=1), path)
    out = CliRunner().invoke(main, [str(path)]).output
    assert out.splitlines()[0].rstrip().endswith("FLOPs  FLOPs %")
    conv2 = next(line for line in out.splitlines() if line.split()[1:2] == ["conv2"])
    share = CNN_FLOPS["conv2"] / sum(CNN_FLOPS.values())
    assert conv2.split()[-1] == f"{100 * share:.1f}%"
    assert f"FLOPs:         {sum(CNN_FLOPS.values()):,}" in out

    onnx.save(classic_cnn(batch=1, mystery=True), path)
    result = CliRunner().invoke(main, [str(path)])
    footer = next(line for line in result.output.splitlines() if line.startswith("FLOPs:"))
    known = sum(CNN_FLOPS[k] for k in ("conv1", "relu1", "pool1", "conv2", "relu2"))
    assert footer.startswith(f"FLOPs:         unknown: ≥ {known:,}") and "3 nodes of unknown cost" in footer


def unet_cost():
    """(MACs, FLOPs) of the seed U-Net per sample, layer by layer from its description."""
    from onnxinspect.exporters.keras.unet import DECODER, ENCODER, INPUT_SHAPE

    macs = flops = 0

    def conv(hw, cin, cout, k, activation=True):
        nonlocal macs, flops
        m = hw * hw * cout * cin * k * k
        macs += m
        flops += 2 * m + hw * hw * cout + (hw * hw * cout if activation else 0)  # bias, ReLU

    hw, channels = INPUT_SHAPE[0], INPUT_SHAPE[-1]
    sizes = []
    for level, (filters, _rate) in enumerate(ENCODER):
        conv(hw, channels, filters, 3)
        conv(hw, filters, filters, 3)
        channels = filters
        if level < len(ENCODER) - 1:
            sizes.append(hw)
            hw //= 2
            flops += 4 * hw * hw * channels  # 2x2 max pooling: 4 comparisons per output
    for filters, _rate in DECODER:
        m = hw * hw * channels * filters * 2 * 2  # 2x2 stride-2 transposed conv, per input pixel
        hw *= 2
        macs += m
        flops += 2 * m + hw * hw * filters  # + bias; the concat moves data only
        conv(hw, 2 * filters, filters, 3)
        conv(hw, filters, filters, 3)
        channels = filters
    conv(hw, channels, 1, 1, activation=False)
    flops += hw * hw  # sigmoid
    return macs, flops


@needs_unet
def test_unet_totals_match_the_hand_count_and_the_layer_view():
    macs, flops = unet_cost()
    report = inspect_model(UNET)
    batch = report.inputs[0].shape[0]
    assert report.totals.macs == macs * batch and report.totals.flops == flops * batch
    rows = group_layers(report)
    assert sum(r.flops for r in rows) == report.totals.flops
    assert sum(r.flops_share for r in rows) == pytest.approx(1.0)


@needs_unet
def test_unet_against_onnx_tool_explains_every_difference():
    """onnx-tool's MACs per node, paired by position: equal for ReLU and pooling (our
    FLOPs), ours + bias for Conv, and our FLOPs (2·MACs + bias, ~2x) for ConvTranspose."""
    pytest.importorskip("onnx_tool")
    import onnx

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from flops_vs_onnx_tool import onnx_tool_macs

    model = onnx.load(UNET)
    name = model.graph.input[0].name
    report = inspect_model(model, inputs={name: [1, 96, 96, 1]})
    actual = ort_shapes(model, random_feeds(model, {name: (1, 96, 96, 1)}))
    theirs = onnx_tool_macs(UNET)
    by_index = {n.index: n for n in report.nodes}
    seen = set()
    for index, (op, their) in enumerate(theirs):
        node = by_index[index]
        assert node.op_type == op
        out = int(np.prod(actual[node.outputs[0].name]))
        if op == "Conv":
            assert their == node.macs + out
        elif op == "ConvTranspose":
            assert their == node.flops == 2 * node.macs + out
            assert 1.9 < their / node.macs < 2.1
        elif op in ("Relu", "MaxPool", "Concat", "Reshape"):
            assert their == node.flops
        seen.add(op)
    assert {"Conv", "ConvTranspose", "Relu", "MaxPool"} <= seen


def test_json_carries_shares_and_known_part(tmp_path):
    import onnx

    path = tmp_path / "cnn.onnx"
    onnx.save(classic_cnn(batch=1), path)
    data = json.loads(CliRunner().invoke(main, [str(path), "--format", "json"]).output)
    total = sum(CNN_FLOPS.values())
    assert data["schema"] == "onnxinspect/1" and data["totals"]["flops"] == total
    assert [n["flops_share"] for n in data["nodes"]] == pytest.approx([CNN_FLOPS[n["name"]] / total
                                                                      for n in data["nodes"]])
