"""Reconciliation with BatchNormalization: folding is named and the counts add up.

BN holds 4*C values per channel (gamma, beta, moving mean, moving variance; the last two
non-trainable).  Behind a bias-less conv tf2onnx folds it into the conv: kernel rescaled,
a bias of C added, so ONNX holds 3*C fewer.  Behind a conv with a bias it becomes an
affine Mul/Add with 2*C precomputed values.  Either way the model's outputs must agree.
"""

import pytest
from export_helpers import export_small, require_tensorflow

from onnxinspect.exporters.pipeline import verify_keras
from onnxinspect.exporters.reconcile import reconcile

pytestmark = pytest.mark.tensorflow

C = 8


def _bn_model(keras, conv_bias: bool):
    keras.backend.clear_session()
    return keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(C, 3, use_bias=conv_bias),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(5),
    ])


def _row(result, name):
    return next(r for r in result.rows if r.layer == name)


def test_batchnorm_after_biasless_conv_is_folded(tmp_path):
    keras = require_tensorflow()
    model = _bn_model(keras, conv_bias=False)
    path, report = export_small(model, tmp_path / "bn.onnx")
    result = reconcile(model, report)

    conv_keras = 3 * 3 * 3 * C  # no bias
    assert result.keras_params == conv_keras + 4 * C + (C + 1) * 5
    assert result.keras_non_trainable == 2 * C  # moving mean and variance
    assert result.onnx_params == report.totals.unique_params == conv_keras + C + (C + 1) * 5
    assert result.keras_params - result.onnx_params == 3 * C
    bn, conv = _row(result, "batch_normalization"), _row(result, "conv2d")
    assert bn.nodes == [] and bn.onnx_params == 0
    assert any("folded into conv2d" in note for note in bn.notes)
    assert conv.onnx_params - conv.keras_params == C and any("absorbed" in n for n in conv.notes)
    assert result.consistent and not result.totals_match
    assert "the sum of the per-layer differences above, all explained" in " ".join(result.notes)
    assert verify_keras(path, model, (1, 4), "cpu").passed


def test_batchnorm_after_conv_with_bias_becomes_affine(tmp_path):
    keras = require_tensorflow()
    model = _bn_model(keras, conv_bias=True)
    path, report = export_small(model, tmp_path / "bn_bias.onnx")
    result = reconcile(model, report)
    bn = _row(result, "batch_normalization")
    assert bn.keras_params == 4 * C and bn.onnx_params == 2 * C
    assert set(bn.ops) <= {"Mul", "Add"} and "affine" in bn.notes[0]
    assert result.keras_params - result.onnx_params == 2 * C and result.consistent
    assert verify_keras(path, model, (1, 4), "cpu").passed


def test_zero_bias_dropped_by_converter_is_explained(tmp_path):
    """Unseeded Keras init leaves biases at zero; tf2onnx deletes them (the reason the
    exporter seeds every weight)."""
    keras = require_tensorflow()
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    _, report = export_small(model, tmp_path / "zero.onnx", seed=None)
    result = reconcile(model, report)
    if result.totals_match:
        pytest.skip("this tf2onnx keeps zero biases")
    dropped = [r for r in result.rows if any("bias is all zeros" in n for n in r.notes)]
    assert dropped and result.consistent
    assert result.keras_params - result.onnx_params == sum(r.keras_params - r.onnx_params for r in dropped)


def test_dropout_and_input_have_no_nodes(tmp_path):
    keras = require_tensorflow()
    keras.backend.clear_session()
    inputs = keras.Input((8,), name="features")
    outputs = keras.layers.Dense(3)(keras.layers.Dropout(0.5)(inputs))
    model = keras.Model(inputs, outputs)
    _, report = export_small(model, tmp_path / "drop.onnx")
    result = reconcile(model, report)
    assert _row(result, "features").notes == ["input: no ONNX node, no parameters"]
    assert _row(result, "dropout").nodes == [] and "removed" in _row(result, "dropout").notes[0]
    assert result.totals_match and result.keras_params == (8 + 1) * 3


def test_export_and_verify_reads_the_layout_note_before_the_table(tmp_path):
    """The note saying what 'channels-first' means comes before the table that uses it; the
    JSON form is compact, like inspect's."""
    import json

    from click.testing import CliRunner

    from onnxinspect.cli import main

    keras = require_tensorflow()
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((10, 10, 3)), keras.layers.Conv2D(4, 3, activation="relu"),  # (8, 8, 4)
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(5)])
    source = str(tmp_path / "small.keras")
    model.save(source)
    out = str(tmp_path / "small.onnx")
    run = CliRunner().invoke(main, ["export-and-verify", source, "-o", out, "--seed", "1", "--device", "cpu"])
    assert run.exit_code == 0, run.output
    lines = run.stdout.splitlines()
    section = lines.index("== Keras vs ONNX, layer by layer ==")
    note = next(i for i, line in enumerate(lines) if line.startswith("Keras is channels-last (N, H, W, C)"))
    header = next(i for i, line in enumerate(lines) if line.startswith("Keras layer "))
    assert section < note < header, lines[section:header + 2]
    assert "'channels-first' below means" in lines[note]
    assert set(lines[header + 1]) == {"─"}
    assert any("channels-first" in line.split() for line in lines[header + 2:])  # the rows the note explains
    assert not any("'channels-first' below means" in line for line in lines[header:])

    as_json = CliRunner().invoke(main, ["export-and-verify", source, "-o", out, "--force", "--seed", "1",
                                        "--device", "cpu", "--batch", "2", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert as_json.stdout == json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n"
    assert data["passed"] and data["reconcile"]["notes"][0] == lines[note]
