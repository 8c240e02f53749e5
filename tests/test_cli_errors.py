"""The real command on every broken input: exactly one stderr line
``onnxinspect: error: <file>: <problem>``, exit 1 (bad model) or 2 (usage), no
traceback, and the input file untouched (same bytes, same mtime)."""

import hashlib
import os
import re
import subprocess
import sys

import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper
from test_bad_inputs import BAD_MODELS, conv_model
from truth import make_model

from onnxinspect.cli import main

F = TensorProto.FLOAT


def _fingerprint(path):
    data = open(path, "rb").read()
    return hashlib.sha256(data).hexdigest(), os.stat(path).st_mtime_ns


def run_cli(args):
    """(exit code, stdout, stderr) of the command, in-process."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def assert_one_error_line(stderr, path, pattern):
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"onnxinspect: error: {path}: "), lines[0]
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in stderr


@pytest.mark.parametrize("name", list(BAD_MODELS))
def test_bad_model_one_line_exit_code_file_untouched(name, tmp_path):
    build, code, pattern = BAD_MODELS[name]
    path = tmp_path / "model.onnx"
    path.write_bytes(build())
    before = _fingerprint(path)
    status, stdout, stderr = run_cli([path])
    assert status == code
    assert stdout == ""
    assert_one_error_line(stderr, path, pattern)
    assert _fingerprint(path) == before


def test_missing_file(tmp_path):
    status, _, stderr = run_cli([tmp_path / "nope.onnx"])
    assert status == 1
    assert_one_error_line(stderr, tmp_path / "nope.onnx", "no such file")


@pytest.fixture
def model_path(tmp_path):
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                       [("x", F, ["N", 3, "H"])], [("y", F, None)])
    path = tmp_path / "dyn.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("args, pattern", [
    (["--input", "x"], r"--input 'x': expected NAME=D1,D2"),
    (["--input", "x=1,,3"], r"empty dimension"),
    (["--input", "x=1,3,a b"], r"'a b' is neither a number nor a symbol"),
    (["--input", "nope=1,3,4"], r"--input nope: the model has no such input \(inputs: x\)"),
    (["--input", "x=1,3"], r"rank 3, 2 dims given"),
    (["--input", "x=1,4,5"], r"dim 1 is fixed at 3 in the model, 4 given"),
    (["--input", "x=-1,3,5"], r"dimension -1 is negative"),
    (["--input", f"x={1 << 40},3,{1 << 40}"], r"more elements than an int64 can count"),
    (["--dim", "N"], r"--dim 'N': expected SYMBOL=INTEGER"),
    (["--dim", "N=abc"], r"expected SYMBOL=INTEGER"),
    (["--dim", "Q=3"], r"no input dimension is called 'Q' \(symbols: H, N\)"),
    (["--dim", "N=-2"], r"must be a non-negative integer"),
])
def test_usage_errors_exit_2(model_path, args, pattern):
    before = _fingerprint(model_path)
    status, stdout, stderr = run_cli([model_path] + args)
    assert status == 2
    assert stdout == ""
    assert_one_error_line(stderr, model_path, pattern)
    assert _fingerprint(model_path) == before


def test_declared_negative_dim_is_fixed_by_input_override(tmp_path):
    path = tmp_path / "neg.onnx"
    onnx.save(make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", F, [-1, 3])], [("y", F, None)]), path)
    assert run_cli([path])[0] == 1
    status, stdout, stderr = run_cli([path, "--input", "x=4,3", "--format", "json"])
    assert status == 0 and '"shape":[4,3]' in stdout.replace(" ", "")


def test_unknown_op_exits_0_with_a_warning(tmp_path):
    path = tmp_path / "custom.onnx"
    onnx.save(make_model([helper.make_node("Frobnicate", ["x"], ["y"], domain="example.com")],
                         [("x", F, [2, 3])], [("y", F, None)], domains={"example.com": 1}), path)
    status, stdout, stderr = run_cli([path])
    assert status == 0 and "Frobnicate" in stdout
    assert stderr.startswith("onnxinspect: warning:") and "no shape rule for example.com::Frobnicate" in stderr
    assert "Traceback" not in stderr


def test_unexpected_exception_is_one_line_unless_debugging(tmp_path, monkeypatch):
    path = tmp_path / "conv.onnx"
    onnx.save(conv_model(), path)

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug\nwith a second line")

    monkeypatch.setattr("onnxinspect.api.inspect_model", broken)
    status, _, stderr = run_cli([path])
    assert status == 1
    assert_one_error_line(stderr, path, r"internal error \(ZeroDivisionError: a bug\); "
                                        r"ONNXINSPECT_DEBUG=1 shows the traceback")
    monkeypatch.setenv("ONNXINSPECT_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        run_cli([path])


@pytest.mark.parametrize("name", ["truncated", "cycle", "png"])
def test_real_process_prints_one_line(name, tmp_path):
    """The installed entry point, as a shell user runs it."""
    build, code, pattern = BAD_MODELS[name]
    path = tmp_path / "model.onnx"
    path.write_bytes(build())
    proc = subprocess.run([sys.executable, "-m", "onnxinspect.cli", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == code and proc.stdout == ""
    assert_one_error_line(proc.stderr, path, pattern)


@pytest.mark.parametrize("args,message", [
    (["MODEL", "--format", "xx"], "Invalid value for '--format'"),
    (["MODEL", "--bogus"], "No such option '--bogus'"),
    (["inspect"], "Missing argument"),
    (["verify", "MODEL"], "give the reference as one of --keras or --torch"),
])
def test_click_usage_errors_are_one_line_too(tmp_path, args, message):
    path = tmp_path / "m.onnx"
    onnx.save(conv_model(), path)
    code, stdout, stderr = run_cli([str(path) if a == "MODEL" else a for a in args])
    assert code == 2 and not stdout
    assert stderr.splitlines() == [stderr.strip()] and stderr.startswith("onnxinspect: error: ")
    assert message in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("args, message", [
    (["--dim", "N=8", "--dim", "N=9"], "--dim N given twice (8 and 9)"),
    (["--input", "x=1,3,4", "--input", "x=2,3,4"], "--input x given twice (1,3,4 and 2,3,4)"),
])
def test_the_same_name_twice_is_a_usage_error(model_path, args, message):
    """The last value must not silently win: one line naming the option, the name and both values."""
    status, stdout, stderr = run_cli([model_path] + args)
    assert status == 2 and stdout == ""
    assert stderr == f"onnxinspect: error: {model_path}: {message}\n"


def test_the_same_value_twice_is_accepted(model_path):
    status, stdout, stderr = run_cli([model_path, "--dim", "N=8", "--dim", "N=8"])
    assert status == 0 and stderr == "" and "(8, 3, H)" in stdout


@pytest.mark.parametrize("kwargs, library, cli_args, cli", [
    ({"dims": {"Q": 3}}, "dims['Q']: no input dimension is called 'Q' (symbols: H, N)",
     ["--dim", "Q=3"], "--dim Q: no input dimension is called 'Q' (symbols: H, N)"),
    ({"dims": {"N": -2}}, "dims['N']: must be a non-negative integer (got -2)",
     ["--dim", "N=-2"], "--dim N: must be a non-negative integer (got -2)"),
    ({"inputs": {"nope": [1, 3, 4]}}, "inputs['nope']: the model has no such input (inputs: x)",
     ["--input", "nope=1,3,4"], "--input nope: the model has no such input (inputs: x)"),
])
def test_errors_are_phrased_for_their_audience(model_path, kwargs, library, cli_args, cli):
    """A library caller passed ``dims={"Q": 3}``, not ``--dim Q=3``: each reads its own words."""
    from onnxinspect import inspect_model
    from onnxinspect.errors import UsageError

    with pytest.raises(UsageError) as raised:
        inspect_model(str(model_path), **kwargs)
    assert raised.value.message == f"{model_path}: {library}"
    assert "--dim" not in raised.value.message and "--input" not in raised.value.message
    status, stdout, stderr = run_cli([model_path] + cli_args)
    assert status == 2 and stdout == ""
    assert stderr == f"onnxinspect: error: {model_path}: {cli}\n"
    assert "dims[" not in stderr and "inputs[" not in stderr
