"""The compact JSON writer is byte for byte ``json.dumps(report.to_dict())``.

render_json writes nodes itself (reusing each tensor's text) instead of building the
dict: these tests hold it to the contract's one definition, ``Report.to_dict()``, on
real models (symbolic dims, omitted optional inputs, control flow, warnings, explain).
"""

import glob
import json
import math
import os

import onnx
import pytest
from onnx import TensorProto, helper
from truth import make_model

from onnxinspect import inspect_model
from onnxinspect.render.json import render_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
MODELS = sorted(glob.glob(os.path.join(DATA, "pytorch-converted", "*", "model.onnx")))[:12] + \
    sorted(glob.glob(os.path.join(DATA, "light", "*.onnx"))) + \
    sorted(glob.glob(os.path.join(ROOT, "fixtures", "pytorch", "*.onnx"))) + \
    [os.path.join(ROOT, "fixtures", "unet.onnx")] + \
    sorted(glob.glob(os.path.join(DATA, "node", "test_if*", "model.onnx")))[:2] + \
    sorted(glob.glob(os.path.join(DATA, "node", "test_resize*", "model.onnx")))[:3]


def _dumps(report) -> str:
    return json.dumps(report.to_dict(), separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("path", MODELS, ids=lambda p: os.path.relpath(p, ROOT if p.startswith(ROOT) else DATA))
@pytest.mark.parametrize("explain", [False, True])
def test_writer_equals_dumps_of_to_dict(path, explain):
    report = inspect_model(path, explain=explain)
    assert render_json(report) == _dumps(report)


def test_unknown_op_odd_names_and_floats():
    """Unknown shapes and costs (null), non-ASCII and quote-bearing names, an omitted
    optional input, a float share, a shared weight."""
    w = helper.make_tensor('w"é', TensorProto.FLOAT, [4, 4], [0.5] * 16)
    nodes = [helper.make_node("MatMul", ["x", 'w"é'], ["h"], name="m\u00fc\"1"),
             helper.make_node("MatMul", ["h", 'w"é'], ["h2"], name="m2"),
             helper.make_node("Clip", ["h2", "", "hi"], ["c"], name="clip"),
             helper.make_node("Frobnicate", ["c"], ["y"], name="\u2603", domain="x.y")]
    hi = helper.make_tensor("hi", TensorProto.FLOAT, [], [6.0])
    model = make_model(nodes, [("x", TensorProto.FLOAT, ["N", 4])], [("y", TensorProto.FLOAT, None)],
                       [w, hi])
    model.opset_import.append(helper.make_opsetid("x.y", 1))
    report = inspect_model(model)
    assert any(n.shared_params for n in report.nodes) and report.nodes[-1].flops is None
    shares = [n.flops_share for n in report.nodes if n.flops_share is not None]
    assert shares == [] or all(isinstance(s, float) and math.isfinite(s) for s in shares)
    assert render_json(report) == _dumps(report)
    assert json.loads(render_json(report)) == report.to_dict()


def test_indent_keeps_dumps():
    report = inspect_model(os.path.join(ROOT, "fixtures", "unet.onnx"))
    assert render_json(report, indent=2) == json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
