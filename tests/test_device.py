"""--device auto|cuda|cpu: the selection logic with fake provider lists, then the real
onnxruntime of this machine (CPU-only here: cuda must fail cleanly, auto must fall back)."""

import subprocess
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper
from truth import make_model

from onnxinspect.exporters import verify as v

ort = pytest.importorskip("onnxruntime")
HAS_CUDA = v.CUDA in ort.get_available_providers()


def _tiny_model_bytes() -> bytes:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])],
                       [("x", TensorProto.FLOAT, ["N", 3])], [("y", TensorProto.FLOAT, ["N", 3])])
    return model.SerializeToString()


def test_providers_to_try():
    assert v.providers_to_try("cpu", [v.CUDA, v.CPU]) == [[v.CPU]]
    assert v.providers_to_try("auto", [v.CPU]) == [[v.CPU]]
    assert v.providers_to_try("auto", [v.CUDA, v.CPU]) == [[v.CUDA, v.CPU], [v.CPU]]
    assert v.providers_to_try("cuda", [v.CUDA, v.CPU]) == [[v.CUDA, v.CPU]]
    with pytest.raises(v.VerifyError, match="CUDA is not usable"):
        v.providers_to_try("cuda", ["AzureExecutionProvider", v.CPU])
    with pytest.raises(v.VerifyError, match="expected one of"):
        v.providers_to_try("tpu", [v.CPU])


class _FakeSession:
    """An InferenceSession stand-in whose providers are what a (fake) CUDA init yielded."""

    cuda_works = False

    def __init__(self, model, options, providers):
        self.requested = providers
        works = self.cuda_works and v.CUDA in providers
        self._providers = [v.CUDA, v.CPU] if works else [v.CPU]

    def get_providers(self):
        return self._providers


@pytest.fixture
def fake_gpu_ort(monkeypatch):
    monkeypatch.setattr(ort, "get_available_providers", lambda: [v.CUDA, v.CPU])
    monkeypatch.setattr(ort, "InferenceSession", _FakeSession)
    return _FakeSession


def test_auto_takes_cuda_when_the_session_really_gets_it(fake_gpu_ort, monkeypatch):
    monkeypatch.setattr(fake_gpu_ort, "cuda_works", True)
    session = v.create_session(b"model", "auto")
    assert session.device == "cuda" and session.providers[0] == v.CUDA


def test_auto_falls_back_when_cuda_silently_fails(fake_gpu_ort):
    # onnxruntime-gpu without CUDA libraries: the provider is listed, the session drops it
    session = v.create_session(b"model", "auto")
    assert session.device == "cpu" and session.providers == [v.CPU]
    assert "failed to initialise" in session.note


def test_cuda_fails_when_the_session_drops_it(fake_gpu_ort):
    with pytest.raises(v.VerifyError, match="CUDA is not usable"):
        v.create_session(b"model", "cuda")


def _cuda_usable() -> bool:
    try:
        return v.create_session(_tiny_model_bytes(), "cuda").device == "cuda"
    except v.VerifyError:
        return False


@pytest.mark.skipif(HAS_CUDA, reason="this onnxruntime has CUDA")
def test_real_cpu_onnxruntime_cuda_fails_and_auto_reports_cpu():
    with pytest.raises(v.VerifyError) as error:
        v.create_session(_tiny_model_bytes(), "cuda")
    assert "\n" not in error.value.message and "onnxruntime-gpu" in error.value.message
    session = v.create_session(_tiny_model_bytes(), "auto")
    assert session.device == "cpu" and session.providers == [v.CPU]
    x = np.array([[-1.0, 0.0, 2.0]], np.float32)
    assert session.session.run(None, {"x": x})[0].tolist() == [[0.0, 0.0, 2.0]]


@pytest.mark.skipif(not HAS_CUDA, reason="no CUDAExecutionProvider in this onnxruntime")
def test_real_gpu_build_auto_uses_cuda_only_when_a_session_gets_it():
    """onnxruntime-gpu lists CUDA even without a GPU or CUDA libraries."""
    auto = v.create_session(_tiny_model_bytes(), "auto")
    if _cuda_usable():
        assert auto.device == "cuda" and auto.providers[0] == v.CUDA
    else:
        assert auto.device == "cpu" and auto.providers == [v.CPU] and "failed to initialise" in auto.note
        with pytest.raises(v.VerifyError, match="CUDA is not usable"):
            v.create_session(_tiny_model_bytes(), "cuda")
    x = np.array([[-1.0, 0.0, 2.0]], np.float32)
    assert auto.session.run(None, {"x": x})[0].tolist() == [[0.0, 0.0, 2.0]]


@pytest.mark.tensorflow
def test_cli_device_cuda_and_auto(tmp_path):
    """The real command line, in a fresh process: no traceback, no loader noise; where CUDA
    is not usable ``--device cuda`` fails in one line and ``auto`` says CPU."""
    pytest.importorskip("tensorflow")
    script = (
        "import keras, numpy as np\n"
        "m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])\n"
        f"m.save({str(tmp_path / 'm.keras')!r})\n"
        "from onnxinspect.exporters.keras.export import to_onnx\n"
        f"open({str(tmp_path / 'm.onnx')!r}, 'wb').write(to_onnx(m).SerializeToString())\n")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    cli = [sys.executable, "-m", "onnxinspect.cli", "verify", str(tmp_path / "m.onnx"),
           "--keras", str(tmp_path / "m.keras")]
    usable = _cuda_usable()
    cuda = subprocess.run(cli + ["--device", "cuda"], capture_output=True, text=True)
    if usable:
        assert cuda.returncode == 0 and "Device:        CUDA" in cuda.stdout
    else:
        assert cuda.returncode != 0
        assert cuda.stderr.strip().splitlines() == [cuda.stderr.strip()]
        assert "CUDA is not usable" in cuda.stderr and "Traceback" not in cuda.stderr
    auto = subprocess.run(cli + ["--device", "auto"], capture_output=True, text=True)
    assert auto.returncode == 0, auto.stderr
    assert ("Device:        CUDA" if usable else "Device:        CPU (CPUExecutionProvider)") in auto.stdout
    assert auto.stderr == ""
