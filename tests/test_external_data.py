"""Weight payloads are never read: external files are not opened (a missing one is a
warning), embedded payloads are not parsed, so memory cannot follow weight bytes.

Truth: element counts from the dims we wrote; the size of what protobuf holds after
parsing (peak RSS is measured in ``benchmarks/external_data.py``).
"""

import importlib.util
import os
import subprocess
import sys

import onnx
import pytest
from click.testing import CliRunner

from onnxinspect import inspect_model
from onnxinspect.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("external_data_bench",
                                               os.path.join(ROOT, "benchmarks", "external_data.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

LAYERS, WIDTH = 4, 512


def _external(tmp_path, layers=LAYERS, width=WIDTH, write_data=True):
    path = str(tmp_path / "ext.onnx")
    if write_data:
        bench.write_external(path, layers, width)
    else:
        onnx.save(bench.mlp_skeleton(layers, width, external="ext.onnx.bin"), path)
    return path


def test_missing_external_file_is_a_warning_and_sizes_come_from_dims(tmp_path):
    path = _external(tmp_path, write_data=False)
    report = inspect_model(path)
    assert report.totals.unique_params == LAYERS * WIDTH * WIDTH
    assert report.totals.param_bytes == LAYERS * WIDTH * WIDTH * 4
    assert [w for w in report.warnings if "external data file 'ext.onnx.bin' not found" in w]
    assert all(n.outputs[0].shape == (1, WIDTH) for n in report.nodes)


def test_missing_external_file_cli_exit_0_one_warning_line(tmp_path):
    path = _external(tmp_path, write_data=False)
    result = CliRunner().invoke(main, [path])
    assert result.exit_code == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("onnxinspect: warning: ") and "ext.onnx.bin" in lines[0]
    assert f"Total params:  {LAYERS * WIDTH * WIDTH:,}" in result.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_external_file_is_never_opened(tmp_path):
    """The data file is a FIFO: opening it for reading would block until the timeout."""
    path = _external(tmp_path, write_data=False)
    os.mkfifo(tmp_path / "ext.onnx.bin")
    proc = subprocess.run([sys.executable, "-m", "onnxinspect.cli", path, "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == ""
    assert f'"unique_params":{LAYERS * WIDTH * WIDTH}' in proc.stdout


def test_present_external_data_same_report_as_missing(tmp_path):
    present = inspect_model(_external(tmp_path)).to_dict()
    os.remove(tmp_path / "ext.onnx.bin")
    missing = inspect_model(_external(tmp_path, write_data=False)).to_dict()
    assert missing.pop("warnings") and not present.pop("warnings")
    assert present == missing


@pytest.mark.parametrize("kind", ["embedded", "external"])
def test_parsed_model_does_not_hold_the_weight_bytes(tmp_path, kind):
    """A 256 MiB model parses to a few KiB of protobuf: the payload is never held, so
    memory cannot follow weight bytes (peak RSS itself is measured by
    benchmarks/external_data.py, not asserted here: it is noisy on a shared machine)."""
    from onnxinspect.load import load_model

    big = str(tmp_path / f"{kind}.onnx")
    (bench.write_embedded if kind == "embedded" else bench.write_external)(big, 16, 2048)
    weight_bytes = 16 * 2048 * 2048 * 4
    if kind == "embedded":
        assert os.path.getsize(big) > weight_bytes
    assert load_model(big).model.ByteSize() < 64 * 1024
    report = inspect_model(big)
    assert report.totals.param_bytes == weight_bytes
