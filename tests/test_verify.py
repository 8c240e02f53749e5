"""onnxinspect.verify: error figures against hand computation, tolerances, and the verify
command failing on a deliberately corrupted ONNX weight."""

import json
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from export_helpers import export_small, require_tensorflow
from onnx import TensorProto, helper, numpy_helper
from truth import make_model

from onnxinspect.cli import main
from onnxinspect.exporters.verify import (
    DEFAULT_TOLERANCES,
    InputSpec,
    VerifyError,
    compare,
    full_reason,
    match_inputs,
    seeded_inputs,
    tolerance,
    verify,
)


def test_compare_figures_match_hand_computation():
    ref = np.array([1.0, 2.0, 4.0, 0.0], np.float32)
    got = np.array([1.0, 2.002, 4.1, 0.0], np.float32)
    c = compare("y", ref, got, atol=1e-3, rtol=1e-2)
    # |d| = 0, .002, .1, 0; bound = atol + rtol*|ref| = .011, .021, .041, .001
    assert c.mismatches == 1 and c.size == 4 and not c.passed
    assert c.max_abs == pytest.approx(0.1, rel=1e-5)
    assert c.max_rel == pytest.approx(0.1 / 4, rel=1e-5)          # zero reference left out
    assert c.min_atol == pytest.approx(0.1 - 1e-2 * 4, rel=1e-4)  # max(|d| - rtol*|ref|)
    assert compare("y", ref, got, atol=c.min_atol * 1.001, rtol=1e-2).passed
    assert c.argmax_agree is None  # 1-D: not classifier-like


def test_compare_classifier_argmax_and_top5():
    rng = np.random.default_rng(0)
    ref = rng.random((3, 10)).astype(np.float32)
    assert compare("p", ref, ref.copy(), 1e-4, 1e-3).topk_agree is True
    swapped = ref.copy()
    row = swapped[1]
    top, second = np.argsort(-row)[:2]
    row[top], row[second] = row[second], row[top]
    c = compare("p", ref, swapped, 1.0, 0.0)  # within a loose tolerance, yet argmax differs
    assert c.mismatches == 0 and c.argmax_agree is False and c.topk_agree is True and not c.passed


def test_compare_shape_mismatch_and_nan():
    assert not compare("y", np.zeros((2, 3)), np.zeros((3, 2)), 1, 1).passed
    nan = np.array([np.nan, 1.0])
    assert compare("y", nan, nan.copy(), 1e-4, 1e-3).passed
    assert not compare("y", np.array([1.0, 1.0]), nan, 1e-4, 1e-3).passed


def test_tolerance_defaults_and_overrides():
    assert tolerance("float32", "y") == DEFAULT_TOLERANCES["float32"] == (1e-4, 1e-3)
    assert tolerance("float16", "y")[0] > tolerance("float32", "y")[0]
    assert tolerance("int64", "y") == (0.0, 0.0)
    assert tolerance("float32", "y", {"": 1e-2}, {"y": 0.5}) == (1e-2, 0.5)
    assert tolerance("float32", "z", {"y": 1e-2}) == (1e-4, 1e-3)


def test_seeded_inputs_are_reproducible_and_batched():
    specs = [InputSpec("x", "float32", [None, 3]), InputSpec("i", "int64", [None, 2])]
    a, b = seeded_inputs(specs, 4, seed=3), seeded_inputs(specs, 4, seed=3)
    assert a["x"].shape == (4, 3) and a["i"].dtype == np.int64
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_full_reason_keeps_every_line_on_one():
    error = RuntimeError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: x for "
                         "the following indices\n index: 1 Got: 64 Expected: 96\n Please fix either the "
                         "inputs/outputs or the model.")
    assert full_reason(error) == ("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: "
                                  "x for the following indices; index: 1 Got: 64 Expected: 96; Please fix either "
                                  "the inputs/outputs or the model.")
    long = full_reason(RuntimeError("a\n" + "b" * 5000), limit=100)
    assert len(long) == 100 and long.endswith("…") and "\n" not in long
    assert full_reason(ValueError()) == "ValueError"


def test_full_reason_of_a_real_onnxruntime_error():
    """onnxruntime's own message, the part that says which index differs on its second line."""
    import onnxruntime as ort

    F = TensorProto.FLOAT
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", F, ["N", 3])], [("y", F, None)])
    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    with pytest.raises(Exception) as raised:
        session.run(None, {"x": np.zeros((4, 5), np.float32)})
    assert "\n" in str(raised.value)   # several lines: the old first-line cut lost the index
    reason = full_reason(raised.value)
    assert "\n" not in reason and "Got invalid dimensions for input: x" in reason
    assert "index: 1 Got: 5 Expected: 3" in reason


def _reshape_to_two_rows(path):
    """x (N, 3) reshaped to a fixed (2, 3): right at batch 2, an onnxruntime error at any other."""
    F = TensorProto.FLOAT
    shape = numpy_helper.from_array(np.array([2, 3], np.int64), "shape")
    model = make_model([helper.make_node("Reshape", ["x", "shape"], ["y"], name="r")], [("x", F, ["N", 3])],
                       [("y", F, None)], [shape])
    onnx.save(model, str(path))
    return str(path)


def test_verify_reports_onnxruntimes_whole_reason(tmp_path):
    path = _reshape_to_two_rows(tmp_path / "reshape.onnx")
    specs = [InputSpec("x", "float32", [None, 3])]
    assert verify(path, specs, lambda feeds: [feeds["x"]], batches=(2,), device="cpu").passed
    with pytest.raises(VerifyError) as raised:
        verify(path, specs, lambda feeds: [feeds["x"]], batches=(4,), device="cpu")
    message = raised.value.message
    # The useful part comes ~400 characters in, after the C++ source location.
    assert message.startswith(f"{path}: onnxruntime failed at batch 4: ") and "\n" not in message
    assert "Input shape:{4,3}, requested shape:{2,3}" in message


def _ort_input(name, shape, type_="tensor(float)"):
    return SimpleNamespace(name=name, shape=shape, type=type_)


def test_match_inputs_pairs_by_name_else_by_position():
    a, b = InputSpec("a", "float32", [None, 3]), InputSpec("b", "int64", [None, 2])
    assert match_inputs([_ort_input("b", ["N", 2], "tensor(int64)"), _ort_input("a", ["N", 3])], [a, b]) == [b, a]
    assert match_inputs([_ort_input("x", ["N", 3]), _ort_input("y", ["N", 2], "tensor(int64)")], [a, b]) == [a, b]
    assert match_inputs([_ort_input("x", [1, 3])], [a], batches=(1,)) == [a]   # a fixed batch run at that batch


@pytest.mark.parametrize("onnx_input, spec, problem", [
    (_ort_input("x", ["N", 96, 96, 1]), InputSpec("input_1", "float32", [None, 64, 64, 1]),
     "ONNX input 'x' float32 (N, 96, 96, 1) does not match Keras input 'input_1' float32 (None, 64, 64, 1) "
     "(dim 1 is 96 vs 64)"),
    (_ort_input("x", ["N", 3]), InputSpec("x", "float32", [None, 3, 1]),
     "ONNX input 'x' float32 (N, 3) does not match Keras input 'x' float32 (None, 3, 1) (rank 2 vs 3)"),
    (_ort_input("x", ["N", 3], "tensor(double)"), InputSpec("x", "float32", [None, 3]),
     "ONNX input 'x' float64 (N, 3) does not match Keras input 'x' float32 (None, 3) (dtype float64 vs float32)"),
    (_ort_input("x", [1, 3]), InputSpec("x", "float32", [None, 3]),
     "ONNX input 'x' float32 (1, 3) does not match Keras input 'x' float32 (None, 3) "
     "(the ONNX batch is fixed at 1, run with --batch 1)"),
])
def test_match_inputs_names_both_sides(onnx_input, spec, problem):
    with pytest.raises(VerifyError) as raised:
        match_inputs([onnx_input], [spec], batches=(1, 4))
    assert raised.value.message == problem


def test_match_inputs_counts_differ():
    with pytest.raises(VerifyError) as raised:
        match_inputs([_ort_input("x", ["N", 3]), _ort_input("y", ["N", 3])], [InputSpec("x", "float32", [None, 3])])
    assert raised.value.message == ("the ONNX model has 2 inputs ('x' float32 (N, 3), 'y' float32 (N, 3)), "
                                    "the Keras model 1 ('x' float32 (None, 3))")


def test_verify_checks_inputs_before_running(tmp_path):
    path = _reshape_to_two_rows(tmp_path / "reshape.onnx")
    ran = []
    with pytest.raises(VerifyError) as raised:
        verify(path, [InputSpec("features", "float32", [None, 4])], lambda feeds: ran.append(feeds) or [],
               device="cpu")
    assert ran == []   # the reference never ran
    assert raised.value.message == (f"{path}: ONNX input 'x' float32 (N, 3) does not match Keras input "
                                    "'features' float32 (None, 4) (dim 1 is 3 vs 4)")


@pytest.fixture(scope="module")
def small_export(tmp_path_factory):
    keras = require_tensorflow()
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(6, activation="softmax")])
    folder = tmp_path_factory.mktemp("verify")
    path, _ = export_small(model, folder / "small.onnx")
    keras_path = str(folder / "small.keras")
    model.save(keras_path)
    return path, keras_path


def _corrupt(path, out):
    model = onnx.load(path)
    biggest = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    value = -numpy_helper.to_array(biggest)  # a sign flip: every output must move
    biggest.CopyFrom(numpy_helper.from_array(value, biggest.name))
    onnx.save(model, out)
    return out


@pytest.mark.tensorflow
def test_verify_passes_then_fails_on_a_corrupted_weight(small_export, tmp_path):
    path, keras_path = small_export
    runner = CliRunner()
    ok = runner.invoke(main, ["verify", path, "--keras", keras_path, "--device", "cpu", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    # Compact, like inspect's --format json: one line, no spaces after separators.
    assert ok.stdout == json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n"
    assert data["passed"] and [b["batch"] for b in data["batches"]] == [1, 4]
    assert all(o["argmax_agree"] for b in data["batches"] for o in b["outputs"])

    bad = _corrupt(path, str(tmp_path / "corrupted.onnx"))
    failed = runner.invoke(main, ["verify", bad, "--keras", keras_path, "--device", "cpu"])
    assert failed.exit_code == 1
    assert "MISMATCH" in failed.stdout and "FAILED" in failed.stdout


@pytest.mark.tensorflow
def test_verify_loads_external_data_weights(small_export, tmp_path):
    path, keras_path = small_export
    model = onnx.load(path)
    external = str(tmp_path / "external.onnx")
    onnx.save(model, external, save_as_external_data=True, all_tensors_to_one_file=True,
              location="external.onnx.data", size_threshold=1024)  # the weights, not shape constants
    assert (tmp_path / "external.onnx.data").stat().st_size > 4 * 1000
    result = CliRunner().invoke(main, ["verify", external, "--keras", keras_path, "--device", "cpu"])
    assert result.exit_code == 0, result.output


@pytest.mark.tensorflow
def test_verify_bad_tolerance_is_one_line_usage_error(small_export):
    path, keras_path = small_export
    result = CliRunner().invoke(main, ["verify", path, "--keras", keras_path, "--atol", "lots"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "--atol" in result.stderr


@pytest.mark.tensorflow
def test_verify_input_shape_mismatch_is_one_line_before_running(small_export, tmp_path):
    """A Keras model whose input is 10x10x3 against the ONNX file exported for 12x12x3."""
    path, _ = small_export
    keras = require_tensorflow()
    keras.backend.clear_session()
    other = keras.Sequential([keras.Input((10, 10, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(6, activation="softmax")])
    other_path = str(tmp_path / "other.keras")
    other.save(other_path)
    onnx_name = onnx.load(path).graph.input[0].name
    keras_name = keras.models.load_model(other_path, compile=False).inputs[0]._keras_history.operation.name
    result = CliRunner().invoke(main, ["verify", path, "--keras", other_path, "--device", "cpu"])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == (f"onnxinspect: error: {path}: ONNX input {onnx_name!r} float32 (N, 12, 12, 3) does not "
                             f"match Keras input {keras_name!r} float32 (None, 10, 10, 3) (dim 1 is 12 vs 10)\n")
