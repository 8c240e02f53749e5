"""A Conv -> Relu graph checked against onnxruntime and the article's formula."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from truth import make_model, ort_shapes, our_shapes, random_feeds

from onnxinspect import inspect_model


def test_conv_relu_shapes_and_params_match_ort_and_formula():
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((64, 32, 3, 3)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(64).astype(np.float32), "B")
    model = make_model(
        [helper.make_node("Conv", ["x", "W", "B"], ["y"], pads=[1, 1, 1, 1], name="conv"),
         helper.make_node("Relu", ["y"], ["z"], name="relu")],
        [("x", TensorProto.FLOAT, [2, 32, 50, 50])], [("z", TensorProto.FLOAT, None)], [w, b])
    report = inspect_model(model)
    truth = ort_shapes(model, random_feeds(model, {"x": (2, 32, 50, 50)}))
    assert our_shapes(report) == {k: v for k, v in truth.items()}
    assert report.node("conv").params == (3 * 3 * 32 + 1) * 64 == 18496
    assert report.totals.unique_params == 18496
