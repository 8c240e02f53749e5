"""The article's hard question: the first dense layer's input size after conv/pool layers.

A classic Conv/MaxPool/Flatten/Dense CNN (a Keras 3 Sequential, which the exporter must
rebuild as a functional model for tf2onnx).  The size is derived by hand with the article's
rules, 'valid' conv: input - (filter - 1), 2x2 pooling halves (floor), and must equal what
the inspector infers for the MatMul's input, Keras's kernel, and the reconciled counts.
"""

import pytest
from export_helpers import export_small, require_tensorflow

from onnxinspect.exporters.pipeline import verify_keras
from onnxinspect.exporters.reconcile import reconcile

pytestmark = pytest.mark.tensorflow

SIZE, K, F1, F2, DENSE, CLASSES = 28, 3, 32, 64, 128, 10


def _dense_inputs_by_hand() -> int:
    side = SIZE - (K - 1)   # conv 1: 26
    side //= 2              # pool: 13
    side -= K - 1           # conv 2: 11
    side //= 2              # pool: 5
    return side * side * F2  # flatten: 5*5*64 = 1600


def test_first_dense_layer_input_size_and_counts(tmp_path):
    keras = require_tensorflow()
    keras.backend.clear_session()
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        keras.layers.Conv2D(F1, K, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(F2, K, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(DENSE, activation="relu"),
        keras.layers.Dense(CLASSES, activation="softmax"),
    ])
    path, report = export_small(model, tmp_path / "cnn.onnx")
    n = _dense_inputs_by_hand()
    assert n == 1600

    dense = model.get_layer("dense")
    assert tuple(dense.kernel.shape) == (n, DENSE)
    matmuls = [node for node in report.nodes if node.op_type in ("MatMul", "Gemm")]
    first = matmuls[0]
    assert first.inputs[0].shape[-1] == n  # inferred through conv/pool/transpose/reshape
    assert first.params == n * DENSE

    result = reconcile(model, report)
    row = next(r for r in result.rows if r.layer == "dense")
    assert row.keras_params == row.onnx_params == (n + 1) * DENSE  # the article's (n + 1) * m
    assert row.onnx_shape[-1] == DENSE and row.layout == "same"
    flatten = next(r for r in result.rows if r.layer == "flatten")
    assert flatten.onnx_shape[-1] == n
    convs = [r for r in result.rows if r.kind == "Conv2D"]
    assert [r.onnx_params for r in convs] == [(K * K * 1 + 1) * F1, (K * K * F1 + 1) * F2] == [320, 18496]
    assert result.totals_match and result.consistent
    assert result.keras_params == model.count_params() == report.totals.unique_params

    verification = verify_keras(path, model, (1, 4), "cpu")
    assert verification.passed
    assert all(c.argmax_agree and c.topk_agree for b in verification.batches for c in b.outputs)
