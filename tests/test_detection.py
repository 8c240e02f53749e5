"""torchvision detection exports (``fixtures/detection``, made by
``fixtures/make_detection_fixtures.py`` with torch 2.14.1 / torchvision 0.29.1, legacy
exporter, opset 17): FasterRCNN and SSD, each with TopK / NonZero / NonMaxSuppression
and an If around torchvision's batched NMS.

Truth: onnxruntime's actual shape of every node output on the seeded image, and torch's
``sum(p.numel())`` from ``expected.json``; torch is not needed here.  No node output is
unknown: a data-dependent dim is a named symbol listed in ``report.data_dependent`` with
its node and bound; substituted with the size onnxruntime found (one size per symbol,
within its bound) every shape equals onnxruntime's.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from truth import ort_shapes

from onnxinspect import inspect_model
from onnxinspect.dims import Expr, subs_dim, sym

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "detection")
with open(os.path.join(HERE, "expected.json")) as f:
    EXPECTED = json.load(f)
MODELS = sorted(EXPECTED["models"])

# Float constants the exporter bakes into the graph that torch does not count as
# parameters (they are neither parameters nor buffers there) and onnxinspect does (a
# non-scalar float constant read through a data slot): GeneralizedRCNNTransform's and
# SSD's image_mean / image_std (Sub, Div); in SSD also the image size as a float tensor
# (ReduceMax over [3.], [128.], [128.]), DefaultBoxGenerator's width/height pairs per
# feature map (Expand, 4x2 each) and the image size it scales them by (Mul, [128, 128]).
CONSTANTS = {
    "fasterrcnn": {"/transform/Constant_output_0": 3, "/transform/Constant_1_output_0": 3},
    "ssd": {"/transform/Constant_output_0": 3, "/transform/Constant_1_output_0": 3,
            "/transform/Constant_8_output_0": 1, "/transform/Constant_9_output_0": 1,
            "/transform/Constant_10_output_0": 1, "onnx::Expand_318": 8, "onnx::Expand_393": 8,
            "/anchor_generator/Constant_59_output_0": 2, "/anchor_generator/Constant_60_output_0": 2},
}


def load(name):
    return onnx.load(os.path.join(HERE, EXPECTED["models"][name]["file"]))


def image():
    """The generator's seeded image (numpy default_rng(seed).random, float32)."""
    return np.random.default_rng(EXPECTED["seed"]).random((3, 128, 128), dtype=np.float32)


@pytest.fixture(scope="module", params=MODELS)
def case(request):
    model = load(request.param)
    return request.param, model, inspect_model(model), ort_shapes(model, {"image": image()})


def test_no_output_is_unknown(case):
    name, model, report, _ = case
    assert not report.warnings, report.warnings
    assert len(report.nodes) == len(model.graph.node)
    symbols = {d.symbol: d for d in report.data_dependent}
    for node in report.nodes:
        for t in node.outputs:
            assert t.shape is not None and None not in t.shape, f"{name} {node.name}: {t.name} {t.shape}"
            for d in t.shape:
                if isinstance(d, Expr):   # every symbol a dim uses is a listed data-dependent one
                    assert d.symbols() <= set(symbols), f"{t.name}: {d}"
    for entry in report.data_dependent:
        assert entry.node and entry.op_type and entry.bound is not None, entry
    assert {d.op_type for d in report.data_dependent} >= {"NonZero", "NonMaxSuppression", "If"}


def test_shapes_equal_onnxruntime(case):
    name, _, report, actual = case
    symbols = {sym(d.symbol): d for d in report.data_dependent}
    found = {}
    ours = {t.name: t.shape for node in report.nodes for t in node.outputs if t.name}
    assert set(actual) == set(ours)
    for tensor, shape in actual.items():     # the symbols' sizes, where a dim is the symbol alone
        assert len(ours[tensor]) == len(shape), f"{tensor}: ours {ours[tensor]}, ORT {shape}"
        for mine, size in zip(ours[tensor], shape, strict=True):
            if mine in symbols:
                assert found.setdefault(symbols[mine].symbol, size) == size, f"{mine}: sizes differ"
    for tensor, shape in actual.items():     # every dim, substituted: ORT's shape
        got = tuple(subs_dim(d, found) for d in ours[tensor])
        assert got == shape, f"{name} {tensor}: ours {ours[tensor]} -> {got}, ORT {shape}"
    # a symbol of a node inside an If branch (nonmaxsuppression_553_25) is not visible
    # to onnxruntime's outputs; every top-level one (op_index) is
    top_level = {d.symbol for d in report.data_dependent if re.fullmatch(r"[a-z]+_\d+", d.symbol)}
    assert top_level <= set(found), top_level - set(found)
    for symbol, size in found.items():
        bound = subs_dim(symbols[sym(symbol)].bound, found)
        assert isinstance(bound, int) and size <= bound, f"{symbol} = {size}, bound {bound}"
    assert EXPECTED["models"][name]["ort_shapes"] == {k: list(v) for k, v in actual.items()}
    outputs = EXPECTED["models"][name]["torch_outputs"]
    assert {k: list(actual[k]) for k in outputs} == outputs


def test_params_equal_torch_numel(case):
    """torch's numel + the baked float constants (CONSTANTS); in SSD both heads' second
    bias equals the first (SSDHead zero-initialises its biases), so the exporter stores
    it once and an Identity feeds it to the second Conv: onnxinspect counts it at both
    Convs (params) but once in unique_params."""
    name, model, report, _ = case
    truth = EXPECTED["models"][name]
    assert truth["buffers"] == {}
    produced = {n.output[0]: n for n in model.graph.node if n.op_type == "Constant"}
    extra = 0
    for tensor, size in CONSTANTS[name].items():
        value = numpy_helper.to_array(produced[tensor].attribute[0].t)
        assert value.dtype == np.float32 and value.size == size, tensor
        extra += size
    inits = {t.name for t in model.graph.initializer}
    aliased = [n.output[0] for n in model.graph.node
               if n.op_type == "Identity" and n.input[0] in inits and n.output[0] in truth["param_tensors"]]
    stored = sum(int(np.prod(truth["param_tensors"][t])) for t in aliased)
    assert sum(int(np.prod(t.dims)) for t in model.graph.initializer) == truth["params"] - stored
    assert report.totals.params == truth["params"] + extra
    assert report.totals.unique_params == truth["params"] - stored + extra
    assert (name, stored) in {("fasterrcnn", 0), ("ssd", 12 + 16)}
