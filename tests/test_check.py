"""``--check``: our shapes against onnx.shape_inference, every disagreement classified.

Truth: onnx.shape_inference itself (run here on the full model, weights included),
and hand-made disagreements for each kind.
"""

import glob
import json
import os

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper
from truth import make_model, onnx_shapes

from onnxinspect import inspect_model
from onnxinspect.analyse.check import classify, compare_with_onnx
from onnxinspect.cli import main
from onnxinspect.dims import sym
from onnxinspect.errors import CONFLICT_EXIT
from onnxinspect.render import render_check

F = TensorProto.FLOAT
LIGHT = sorted(glob.glob(os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light", "*.onnx")))


def conv_net(batch="N"):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((64, 3, 7, 7)).astype(np.float32), "W")
    fc = numpy_helper.from_array(rng.standard_normal((64, 10)).astype(np.float32), "FC")
    return make_model(
        [helper.make_node("Conv", ["x", "W"], ["c"], strides=[2, 2], pads=[3, 3, 3, 3], name="conv"),
         helper.make_node("Relu", ["c"], ["r"], name="relu"),
         helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
         helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
         helper.make_node("MatMul", ["f", "FC"], ["y"], name="fc")],
        [("x", F, [batch, 3, 64, 64])], [("y", F, None)], [w, fc])


@pytest.mark.parametrize("path", LIGHT, ids=os.path.basename)
def test_light_models_have_no_conflicts(path):
    report = inspect_model(path)
    result = compare_with_onnx(report, path)
    assert result.error is None and not result.conflicts
    assert result.compared == len({t.name for n in report.nodes for t in n.outputs if t.name})
    assert result.counts["agree"] >= 0.95 * result.compared


def test_stripped_copy_gives_onnx_the_same_shapes_as_the_full_model(tmp_path):
    """Dropping the weights must not change what onnx infers."""
    model = conv_net()
    path = tmp_path / "conv.onnx"
    onnx.save(model, path)
    full = onnx_shapes(model)
    report = inspect_model(str(path))
    result = compare_with_onnx(report, str(path))
    assert result.counts["agree"] == result.compared == 5 and not result.disagreements
    ours = {t.name: tuple(d if isinstance(d, int) else str(d) for d in t.shape)
            for n in report.nodes for t in n.outputs}
    assert all(full[name] == shape for name, shape in ours.items())
    assert compare_with_onnx(report, model).counts == result.counts   # ModelProto source too


def test_input_overrides_reach_onnx_too():
    model = conv_net()
    report = inspect_model(model, inputs={"x": [2, 3, 64, 64]})
    result = compare_with_onnx(report, model)
    assert result.counts["agree"] == result.compared
    assert report.outputs[0].shape == (2, 10)


@pytest.mark.parametrize("ours, theirs, kind", [
    ((1, 3), (1, 3), "agree"),
    ((1, 3), (1, 4), "conflict"),
    ((1, 3), (1, 3, 1), "conflict"),
    ((1, 3), None, "onnx_unknown"),
    (None, (1, 3), "ours_unknown"),
    (None, None, "agree"),
    ((1, None), (1, None), "agree"),
    ((1, None), (1, "unk__3"), "agree"),        # onnx's invented name says no more than unknown
    ((1, 5), (1, "unk__3"), "onnx_unknown"),
    ((1, None), (1, 5), "ours_unknown"),
    ((sym("N"), 3), ("N", 3), "agree"),
    ((sym("N"), 3), ("unk__0", 3), "naming"),
    ((sym("N") * 2, 3), ("M", 3), "symbolic"),
    ((sym("N"), 3), (4, 3), "ours_unknown"),
    ((4, 3), ("N", 3), "onnx_unknown"),
    ((4, None), (5, 3), "conflict"),            # a conflict outranks everything else
])
def test_classify(ours, theirs, kind):
    assert classify(ours, theirs) == kind


def test_dtype_mismatch_is_a_conflict():
    assert classify((1,), (1,), "float32", "float16") == "conflict"
    assert classify((1,), (1,), "float32", None) == "agree"


def test_symbolic_batch_agrees_with_onnx():
    report = inspect_model(conv_net())
    result = compare_with_onnx(report, conv_net())
    assert result.counts["agree"] == result.compared
    assert report.outputs[0].shape == (sym("N"), 10)


def test_onnx_failure_is_reported_not_raised(monkeypatch):
    def failing(*args, **kwargs):
        raise onnx.shape_inference.InferenceError("[ShapeInferenceError] broken\nsecond line")

    model = conv_net()
    report = inspect_model(model)
    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", failing)
    result = compare_with_onnx(report, model)
    assert result.error == "InferenceError: [ShapeInferenceError] broken" and not result.disagreements
    assert "nothing compared" in render_check(result)


def _cli(args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_check_prints_report_then_findings(tmp_path):
    path = tmp_path / "conv.onnx"
    onnx.save(conv_net(), path)
    result = _cli([path, "--check"])
    assert result.exit_code == 0
    report_part, check_part = result.stdout.split("Check against onnx.shape_inference")
    assert "Total params:" in report_part and "5 tensors compared" in check_part


def test_cli_check_json_adds_a_check_key(tmp_path):
    path = tmp_path / "conv.onnx"
    onnx.save(conv_net(), path)
    result = _cli([path, "--check", "--format", "json"])
    data = json.loads(result.stdout)
    assert data["schema"] == "onnxinspect/1" and data["check"]["compared"] == 5
    assert data["check"]["counts"]["agree"] == 5 and data["check"]["disagreements"] == []


def test_cli_exit_3_on_a_real_conflict(tmp_path, monkeypatch):
    """onnx is made to claim another shape for 'relu': a conflict, listed, exit 3."""
    path = tmp_path / "conv.onnx"
    onnx.save(conv_net(), path)
    real = onnx.shape_inference.infer_shapes

    def lying(model, *args, **kwargs):
        inferred = real(model, *args, **kwargs)
        for vi in inferred.graph.value_info:
            if vi.name == "r":
                vi.type.tensor_type.shape.dim[2].dim_value = 33
        return inferred

    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", lying)
    result = _cli([path, "--check"])
    assert result.exit_code == CONFLICT_EXIT == 3
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("conflict "))
    assert " r " in line and "(N, 64, 32, 32)" in line and "(N, 64, 33, 32)" in line
    assert _cli([path]).exit_code == 0   # without --check nothing is compared


UNET = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "unet.onnx")
needs_unet = pytest.mark.skipif(not os.path.exists(UNET), reason="fixtures/unet.onnx not exported yet")
HINT = "  The inputs keep N symbolic and onnx spells derived dims its own way; --dim N=8 compares numbers instead."


def _check_lines(stdout):
    return stdout.split("\nCheck against onnx.shape_inference", 1)[1].splitlines()


@needs_unet
def test_cli_check_on_the_unet_hints_at_binding_the_batch():
    """onnx names every derived batch dim unk__<k>, we keep N: nothing agrees by name alone,
    and the hint says how to compare numbers."""
    tensors = {t.name for n in inspect_model(UNET).nodes for t in n.outputs if t.name}
    assert len(tensors) == 52   # one output per node of the U-Net's main graph
    result = _cli([UNET, "--check"])
    assert result.exit_code == 0, result.output
    lines = _check_lines(result.stdout)
    assert lines[0] == " (data_prop=True): 52 tensors compared"
    assert lines[1] == ("  conflicts 0 · only onnx knows 0 · only we know 0 · symbols spelled differently 0"
                        " · unk__ names only 52 · agree 0")
    assert lines[2:] == [HINT]


@needs_unet
def test_cli_check_on_the_unet_with_the_batch_bound_agrees_everywhere():
    report = inspect_model(UNET, dims={"N": 8}, check=True)
    tensors = {t.name for n in report.nodes for t in n.outputs if t.name}
    assert report.check.compared == report.check.counts["agree"] == len(tensors) == 52
    assert not report.check.disagreements
    result = _cli([UNET, "--check", "--dim", "N=8"])
    assert result.exit_code == 0, result.output
    lines = _check_lines(result.stdout)
    assert lines[0] == " (data_prop=True): 52 tensors compared"
    assert lines[1] == ("  conflicts 0 · only onnx knows 0 · only we know 0 · symbols spelled differently 0"
                        " · unk__ names only 0 · agree 52")
    assert len(lines) == 2 and HINT not in result.stdout   # nothing left to hint at
    data = json.loads(_cli([UNET, "--check", "--dim", "N=8", "--format", "json"]).stdout)
    assert data["check"]["counts"]["agree"] == data["check"]["compared"] == 52
