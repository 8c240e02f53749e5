"""Every model the onnx wheel ships under backend/test/data/{pytorch-converted,
pytorch-operator,light}: our inferred output shapes must equal the shapes of the
shipped expected outputs, and the walk must never crash.
"""

from __future__ import annotations

import glob
import os

import onnx
import pytest
from onnx import numpy_helper

from onnxinspect import inspect_model
from onnxinspect.dims import shape_to_json

DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")


def _cases():
    cases = []
    for family in ("pytorch-converted", "pytorch-operator"):
        for model in sorted(glob.glob(os.path.join(DATA, family, "*", "model.onnx"))):
            outputs = sorted(glob.glob(os.path.join(os.path.dirname(model), "test_data_set_0", "output_*.pb")))
            cases.append(pytest.param(model, outputs, id=f"{family}/{os.path.basename(os.path.dirname(model))}"))
    for model in sorted(glob.glob(os.path.join(DATA, "light", "*.onnx"))):
        stem = model[: -len(".onnx")]
        outputs = sorted(glob.glob(stem + "_output_*.pb"))
        cases.append(pytest.param(model, outputs, id=f"light/{os.path.basename(stem)}"))
    return cases


CASES = _cases()


def expected_shapes(outputs):
    shapes = []
    for path in outputs:
        tensor = onnx.TensorProto()
        with open(path, "rb") as handle:
            tensor.ParseFromString(handle.read())
        shapes.append(list(numpy_helper.to_array(tensor).shape))
    return shapes


def test_the_wheel_ships_the_models():
    assert len(CASES) > 100


@pytest.mark.parametrize("model_path,outputs", CASES)
def test_inferred_output_shapes_equal_shipped_outputs(model_path, outputs):
    report = inspect_model(model_path)
    ours = [shape_to_json(t.shape) for t in report.outputs]
    assert ours == expected_shapes(outputs)
