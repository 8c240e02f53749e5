"""Batch mode on the onnx wheel's light models plus one broken file, run as a real
process: rows checked against onnx's own view of each file and the single-file path."""

import csv
import glob
import io
import json
import os
import shutil
import subprocess
import sys

import onnx
import pytest

from onnxinspect import batch, inspect_model
from onnxinspect.dims import to_json

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def cli(*args):
    return subprocess.run([sys.executable, "-m", "onnxinspect.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """The light models, some one folder down, and a file that is not ONNX."""
    root = tmp_path_factory.mktemp("models")
    models = sorted(glob.glob(os.path.join(LIGHT, "*.onnx")))
    assert len(models) >= 5
    (root / "deeper").mkdir()
    for i, model in enumerate(models):
        shutil.copy(model, root / ("deeper" if i % 2 else "") / os.path.basename(model))
    (root / "deeper" / "broken.onnx").write_bytes(b"\x08\x07 this is not protobuf")
    (root / "notes.txt").write_text("not a model")
    return root


def test_json_rows_for_every_model_and_the_error_row(tree):
    result = cli(str(tree), "--format", "json")
    assert result.returncode == 1                       # one file failed, after printing all
    doc = json.loads(result.stdout)
    assert doc["schema"] == "onnxinspect-batch/1"
    paths = [row["path"] for row in doc["models"]]
    expected = sorted(glob.glob(os.path.join(str(tree), "**", "*.onnx"), recursive=True))
    assert paths == sorted(expected)                    # recursive, sorted, *.onnx only
    broken = [row for row in doc["models"] if row["status"] == "error"]
    assert [os.path.basename(r["path"]) for r in broken] == ["broken.onnx"]
    assert "not a valid ONNX protobuf" in broken[0]["error"] and broken[0]["params"] is None
    assert f"{broken[0]['path']}: not a valid ONNX protobuf" in result.stderr
    assert "Traceback" not in result.stderr
    for row in doc["models"]:
        if row["status"] != "ok":
            continue
        model = onnx.load(row["path"], load_external_data=False)
        assert row["nodes"] == len(model.graph.node)
        assert row["opset"] == next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        assert row["producer"] == f"{model.producer_name} {model.producer_version}".strip()
        single = inspect_model(row["path"])
        assert (row["params"], row["unique_params"], row["flops"], row["warnings"]) == (
            single.totals.params, single.totals.unique_params, to_json(single.totals.flops), len(single.warnings))


def test_csv_and_table_carry_the_same_rows(tree):
    as_csv = cli(str(tree), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    as_json = json.loads(cli(str(tree), "--format", "json").stdout)["models"]
    assert [r["path"] for r in rows] == [r["path"] for r in as_json]
    assert [r["params"] for r in rows] == ["" if r["params"] is None else str(r["params"]) for r in as_json]
    table = cli(str(tree))
    assert table.returncode == as_csv.returncode == 1
    lines = table.stdout.splitlines()
    assert lines[-1] == f"{len(as_json)} models: {len(as_json) - 1} ok, 1 failed"
    assert f"onnxinspect: error: {as_json[[r['status'] for r in as_json].index('error')]['path']}: " \
           f"not a valid ONNX protobuf" in table.stderr   # the reason, once, on stderr
    for row in as_json:
        line = next(line for line in lines if line.startswith(row["path"]))
        assert line.endswith("error (below)") == (row["status"] == "error")
        if row["status"] == "ok":
            assert f"{row['params']:,}" in line


def test_several_files_in_the_given_order_and_all_good_exits_zero(tree):
    files = sorted(glob.glob(os.path.join(str(tree), "*.onnx")), reverse=True)[:2]
    result = cli(*files, "--format", "json")
    assert result.returncode == 0
    assert [r["path"] for r in json.loads(result.stdout)["models"]] == files


def test_single_file_output_is_unchanged_by_batch_mode(tree):
    model = sorted(glob.glob(os.path.join(str(tree), "*.onnx")))[0]
    result = cli(model, "--format", "json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["schema"] == "onnxinspect/1"


def test_missing_file_is_a_row_and_empty_directory_a_usage_error(tree, tmp_path):
    good = sorted(glob.glob(os.path.join(str(tree), "*.onnx")))[0]
    result = cli(good, str(tmp_path / "absent.onnx"), "--format", "json")
    rows = json.loads(result.stdout)["models"]
    assert result.returncode == 1 and [r["status"] for r in rows] == ["ok", "error"]
    assert rows[1]["error"] == "no such file"
    empty = cli(str(tmp_path))
    assert empty.returncode == 2 and "no *.onnx files" in empty.stderr


def test_per_model_options_are_refused_in_batch_mode(tree):
    result = cli(str(tree), "--dim", "N=1")
    assert result.returncode == 2 and "--dim" in result.stderr and not result.stdout


def test_run_reports_progress_once_per_model(tree):
    files = batch.collect([str(tree)])
    ticks = []
    rows = batch.run(files, advance=lambda: ticks.append(1))
    assert len(ticks) == len(files) == len(rows)


def test_progress_bar_path_gives_the_same_rows(tree):
    files = batch.collect([str(tree)])
    assert batch._with_progress(files) == batch.run(files)
