"""Converted variants of the U-Net (float16, int8 dynamic and QDQ static) verified against the
float Keras model with the tolerance set of their weights, cosine similarity and SNR; a wrong
scale in one QuantizeLinear fails."""

import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from export_helpers import require_tensorflow
from onnx import TensorProto, helper, numpy_helper
from truth import make_model

from onnxinspect.cli import main
from onnxinspect.exporters.verify import compare, detect_precision, similarity


def test_similarity_matches_hand_computation():
    ref, got = np.array([1.0, 0.0]), np.array([1.0, 1.0])
    cosine, snr = similarity(ref, got)        # signal 1, noise 1: 0 dB; cos = 1/sqrt(2)
    assert cosine == pytest.approx(2 ** -0.5) and snr == pytest.approx(0.0)
    cosine, snr = similarity(np.array([3.0, 4.0]), np.array([3.0, 4.1]))
    assert snr == pytest.approx(10 * np.log10(25 / 0.01))   # 33.98 dB
    assert similarity(ref, ref.copy()) == (1.0, float("inf"))
    assert similarity(np.zeros(2), got)[0] == 0.0


def test_compare_fails_below_the_minima_even_within_atol():
    ref = np.linspace(0, 1, 100, dtype=np.float32)
    got = ref + np.float32(0.09)   # within atol 0.1 everywhere; SNR = 10 log10(sum ref^2 / (100 * .0081))
    from onnxinspect.exporters.verify import TOLERANCE_SETS

    int8 = TOLERANCE_SETS["int8"]
    assert compare("y", ref, got, 0.1, 0.1).passed                         # no minima: passes
    c = compare("y", ref, got, 0.1, 0.1, int8)
    assert c.snr_db == pytest.approx(10 * np.log10(float(np.sum(ref.astype(np.float64) ** 2)) / 0.81), rel=1e-4)
    assert c.snr_db < int8.min_snr and not c.passed


def _tiny(initializer_dtype, ops=()):
    F = TensorProto.FLOAT
    w = numpy_helper.from_array(np.ones((3, 3), initializer_dtype), "w")
    nodes = [helper.make_node(op, ["x"], [f"t{i}"]) for i, op in enumerate(ops)]
    nodes.append(helper.make_node("MatMul", ["x", "w"], ["y"]))
    return make_model(nodes, [("x", F, ["N", 3])], [("y", F, None)], [w]).SerializeToString()


def test_detect_precision_from_weights_and_ops():
    assert detect_precision(_tiny(np.float32))[0] == "float"
    kind, why = detect_precision(_tiny(np.float16))
    assert kind == "float16" and "1 of 1 float initializers are 16-bit" in why
    kind, why = detect_precision(_tiny(np.float32, ["DynamicQuantizeLinear"]))
    assert kind == "int8" and why == "quantized: 1 DynamicQuantizeLinear nodes"


class _Calibration:
    """Eight seeded U(0, 1) images, as verify's inputs."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.batches = iter([{"input_1": rng.random((1, 96, 96, 1)).astype(np.float32)} for _ in range(8)])

    def get_next(self):
        return next(self.batches, None)


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    require_tensorflow()
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.transformers.float16 import convert_float_to_float16

    from onnxinspect.exporters.keras.export import export

    folder = tmp_path_factory.mktemp("variants")
    path = str(folder / "unet.onnx")
    exported = export("unet", path, opset=17, seed=0)
    out = {"float": path}
    for keep in (True, False):
        out[f"fp16_keep_io_{keep}"] = str(folder / f"fp16_{keep}.onnx")
        onnx.save(convert_float_to_float16(onnx.load(path), keep_io_types=keep), out[f"fp16_keep_io_{keep}"])
    out["int8_dynamic"] = str(folder / "int8_dynamic.onnx")
    quantize_dynamic(path, out["int8_dynamic"], weight_type=QuantType.QInt8)
    out["int8_qdq"] = str(folder / "int8_qdq.onnx")
    reader = type("Reader", (_Calibration, CalibrationDataReader), {})()
    quantize_static(path, out["int8_qdq"], reader, quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return exported.keras_model, out


@pytest.mark.tensorflow
@pytest.mark.parametrize("name, kind, min_snr", [
    ("float", "float", 100.0), ("fp16_keep_io_True", "float16", 55.0), ("fp16_keep_io_False", "float16", 55.0),
    ("int8_dynamic", "int8", 25.0), ("int8_qdq", "int8", 25.0)])
def test_converted_variants_pass_with_their_tolerance_set(variants, name, kind, min_snr):
    from onnxinspect.exporters.pipeline import verify_keras

    model, paths = variants
    result = verify_keras(paths[name], model, (1, 4), "cpu")
    assert result.tolerances.name == kind and result.passed
    if name == "fp16_keep_io_False":   # float16 IO: the float32 inputs were cast
        assert onnx.load(paths[name]).graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16
    for output in (c for b in result.batches for c in b.outputs):
        # measured figures sit well above the documented minima (float 60, float16 40, int8 20 dB)
        assert output.snr_db > min_snr and output.cosine > result.tolerances.min_cosine


@pytest.mark.tensorflow
def test_a_wrong_quantize_scale_fails(variants, tmp_path):
    """conv2d_10's output quantized with 4 times its calibrated scale (its own scale tensor: in
    QDQ the QuantizeLinear and the DequantizeLinear after it share one, and scaling both would
    only coarsen the steps): 15.8 dB, cosine 0.987 on this machine."""
    _, paths = variants
    model = onnx.load(paths["int8_qdq"])
    quantize = next(n for n in model.graph.node
                    if n.op_type == "QuantizeLinear" and n.input[0] == "unet_1/conv2d_10_1/Relu:0")
    scale = next(t for t in model.graph.initializer if t.name == quantize.input[1])
    model.graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(scale) * 4, "wrong_scale"))
    quantize.input[1] = "wrong_scale"
    bad = str(tmp_path / "bad_scale.onnx")
    onnx.save(model, bad)
    result = CliRunner().invoke(main, ["verify", bad, "--keras", "unet", "--device", "cpu", "--batch", "1",
                                       "--format", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["tolerance_set"]["name"] == "int8" and not data["passed"]
    output = data["batches"][0]["outputs"][0]
    assert output["snr_db"] < 20 or output["cosine"] < 0.99
    # and the thresholds are options: loosened far enough, the same file passes
    loose = CliRunner().invoke(main, ["verify", bad, "--keras", "unet", "--device", "cpu", "--batch", "1",
                                      "--min-cosine", "-1", "--min-snr", "-100"])
    assert loose.exit_code == 0, loose.output
