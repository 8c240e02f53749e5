"""What users install: the wheel's layout and entry points, what a command imports, and
where the version comes from."""

import configparser
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

import onnxinspect

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNET = os.path.join(ROOT, "fixtures", "unet.onnx")
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "onnxinspect", "exporters")


def _setuptools_is_new_enough():
    if importlib.util.find_spec("setuptools") is None:
        return False
    version = importlib.metadata.version("setuptools")
    return int(version.split(".")[0]) >= 77   # pyproject's build-system requires


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a copy of the sources (the checkout stays free of build/)."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif os.path.exists(path):
            shutil.copy(path, source / name)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)]
    if _setuptools_is_new_enough():
        command.insert(5, "--no-build-isolation")
    built = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    [name] = [n for n in os.listdir(out) if n.endswith(".whl")]
    with zipfile.ZipFile(out / name) as archive:
        names = archive.namelist()
        info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        entry_points = configparser.ConfigParser()
        entry_points.read_string(archive.read(f"{info}/entry_points.txt").decode())
        top_level = archive.read(f"{info}/top_level.txt").decode().split() \
            if f"{info}/top_level.txt" in names else None
    return names, info, entry_points, top_level


def test_wheel_installs_one_top_level_package(wheel):
    names, info, _, top_level = wheel
    assert {n.split("/")[0] for n in names} == {"onnxinspect", info}
    assert top_level in (None, ["onnxinspect"])
    assert "onnxinspect/py.typed" in names
    assert {"onnxinspect/render/html_page.js", "onnxinspect/render/html_page.css"} <= set(names)  # --format html
    assert "onnxinspect/exporters/__init__.py" in names
    assert "onnxinspect/exporters/cli.py" in names
    assert "onnxinspect/exporters/keras/export.py" in names
    assert not any(n.startswith("exporters/") or n.startswith("tests/") for n in names)


def test_wheel_entry_points(wheel):
    _, _, entry_points, _ = wheel
    assert dict(entry_points["console_scripts"]) == {"onnxinspect": "onnxinspect.cli:main"}
    commands = dict(entry_points["onnxinspect.commands"])
    assert set(commands) == {"export", "verify", "export-and-verify"}
    assert all(target.startswith("onnxinspect.exporters.cli:") for target in commands.values())


def _modules_after(args):
    """Run the CLI on ``args`` in a fresh interpreter; its exit code, stdout and the
    modules it had imported by then."""
    script = (
        "import contextlib, io, json, sys\n"
        "from onnxinspect.cli import main\n"
        "out = io.StringIO()\n"
        "code = 0\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        f"        main({args!r})\n"
        "    except SystemExit as exit:\n"
        "        code = exit.code or 0\n"
        "print(json.dumps({'code': code, 'stdout': out.getvalue(), 'modules': sorted(sys.modules)}))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    return result["code"], result["stdout"], set(result["modules"])


LIBRARIES = ("onnx", "ml_dtypes", "onnxruntime", "tensorflow", "keras", "tf2onnx", "torch", "networkx", "rich")


@pytest.mark.skipif(not os.path.exists(UNET), reason="no fixtures/unet.onnx")
def test_inspecting_imports_only_what_it_needs():
    code, stdout, modules = _modules_after([UNET, "--format", "json"])
    assert code == 0
    assert json.loads(stdout)["schema"] == "onnxinspect/1"
    assert "onnx.onnx_ml_pb2" in modules              # the messages, loaded alone (onnxinspect.proto)
    assert sorted(name for name in (*LIBRARIES, "onnxinspect.exporters") if name in modules) == []


def test_help_imports_neither_numpy_nor_the_inspector():
    """``--help`` lists the plugin commands, so it loads onnxinspect.exporters.cli (click
    only) for their one-line help; nothing numerical."""
    code, stdout, modules = _modules_after(["--help"])
    assert code == 0 and "Usage:" in stdout and "export-and-verify" in stdout
    heavy = ("numpy", "onnxinspect.api", "onnxinspect.proto", *LIBRARIES)
    assert sorted(name for name in heavy if name in modules) == []


def test_version_has_one_source():
    assert importlib.metadata.version("onnxinspect") == onnxinspect.__version__
    with open(os.path.join(ROOT, "onnxinspect", "_version.py")) as handle:
        assert repr(onnxinspect.__version__) in handle.read().replace('"', "'")
