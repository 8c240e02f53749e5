"""tools/cuda_verify.py, the prepared CUDA check, run with CUDA hidden: the cuda attempt
records its one-line error and the auto run falls back to the CPU and passes."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tools", "cuda_verify.py")


@pytest.mark.torch
def test_cuda_verify_falls_back_cleanly_without_cuda():
    for name in ("torch", "onnxscript", "onnxruntime"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, SCRIPT, "--framework", "torch"], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout)
    assert record["schema"] == "onnxinspect-cuda-verify/1" and record["cuda_ran"] is False
    cuda, auto = record["runs"]
    assert cuda["requested"] == "cuda" and cuda["error"].startswith("--device cuda: CUDA is not usable")
    assert auto["requested"] == "auto" and auto["device"] == "cpu" and auto["providers"] == ["CPUExecutionProvider"]
    assert auto["passed"] and auto["error"] is None and auto["min_snr_db"] > 60


def test_cuda_verify_keeps_an_existing_output(tmp_path):
    kept = tmp_path / "cuda.json"
    kept.write_text("mine")
    done = subprocess.run([sys.executable, SCRIPT, "-o", str(kept)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"cuda_verify: error: {kept}: exists; choose another path\n"
    assert kept.read_text() == "mine"
