"""Parameter truth: what is a parameter, where it is counted, and what the totals say.

Truth: element counts of the weights we built (numpy), and for the onnx wheel's
``light`` models an independent count made here with onnx + numpy only: every float
constant (initializer or ConstantOfShape output, sized from its shape operand) that
some node reads.
"""

import glob
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from truth import make_model, ort_shapes, random_feeds

from onnxinspect import inspect_model
from onnxinspect.render import render_table

F = TensorProto.FLOAT
LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
RNG = np.random.default_rng(0)


def _weight(name, shape, dtype=np.float32):
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(dtype), name)


def test_shared_weight_counted_at_each_node_once_in_unique():
    model = make_model(
        [helper.make_node("MatMul", ["x", "W"], ["h"], name="first"),
         helper.make_node("MatMul", ["h", "W"], ["y"], name="second")],
        [("x", F, [2, 16])], [("y", F, None)], [_weight("W", (16, 16))])
    report = inspect_model(model)
    for name in ("first", "second"):
        node = report.node(name)
        assert node.params == 256 and node.param_inputs == ["W"] and node.shared_params == ["W"]
    assert report.totals.params == 512 and report.totals.unique_params == 256
    assert report.totals.param_bytes == 256 * 4
    rows = [line for line in render_table(report).splitlines() if line.split()[0].isdigit()]
    assert len(rows) == 2 and all("256*" in row for row in rows)
    assert "* weight shared with other nodes" in render_table(report)


def test_constant_node_weight_is_a_parameter():
    value = _weight("value", (8, 4))
    model = make_model(
        [helper.make_node("Constant", [], ["W"], value=value, name="const"),
         helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")],
        [("x", F, [3, 8])], [("y", F, None)])
    report = inspect_model(model)
    assert report.node("const").params == 0
    assert report.node("mm").params == 32 and report.node("mm").param_inputs == ["W"]
    assert report.totals.unique_params == 32 and report.totals.params_by_dtype == {"float32": 32}


def test_int8_weight_through_dequantize_linear_counted_once_scale_and_zero_point_are_not():
    wq = numpy_helper.from_array(RNG.integers(-128, 127, (64, 32)).astype(np.int8), "Wq")
    scale = numpy_helper.from_array(RNG.random(64).astype(np.float32), "scale")
    zero = numpy_helper.from_array(np.zeros(64, np.int8), "zero")
    model = make_model(
        [helper.make_node("DequantizeLinear", ["Wq", "scale", "zero"], ["W"], axis=0, name="dq"),
         helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")],
        [("x", F, [5, 64])], [("y", F, None)], [wq, scale, zero], opset=13)
    report = inspect_model(model)
    assert report.node("dq").params == 64 * 32 and report.node("dq").param_inputs == ["Wq"]
    assert report.node("mm").params == 0
    assert report.totals.params == report.totals.unique_params == 2048
    assert report.totals.params_by_dtype == {"int8": 2048} and report.totals.param_bytes == 2048


def test_int64_shape_constants_are_never_parameters():
    ints = lambda name, values: numpy_helper.from_array(np.array(values, np.int64), name)  # noqa: E731
    model = make_model(
        [helper.make_node("Reshape", ["x", "shape"], ["r"]),
         helper.make_node("Expand", ["r", "expand"], ["e"]),
         helper.make_node("Slice", ["e", "starts", "ends", "axes"], ["s"]),
         helper.make_node("Tile", ["s", "repeats"], ["t"]),
         helper.make_node("Pad", ["t", "pads"], ["p"]),
         helper.make_node("Unsqueeze", ["p", "axes"], ["u"]),
         helper.make_node("Shape", ["u"], ["shp"]),
         helper.make_node("Gather", ["shp", "index"], ["g"], axis=0),
         helper.make_node("Concat", ["g", "minus1"], ["newshape"], axis=0),
         helper.make_node("Reshape", ["u", "newshape"], ["y"])],
        [("x", F, [2, 12])], [("y", F, None)],
        [ints("shape", [2, 3, 4]), ints("expand", [2, 3, 4]), ints("starts", [0]), ints("ends", [2]),
         ints("axes", [2]), ints("repeats", [1, 2, 1]), ints("pads", [0, 0, 1, 0, 0, 1]),
         ints("index", [0]), ints("minus1", [-1])])
    report = inspect_model(model)
    truth = ort_shapes(model, random_feeds(model, {"x": (2, 12)}))
    assert report.outputs[0].shape == truth["y"] == (2, 24)   # every shape operand was folded
    assert report.totals.params == report.totals.unique_params == 0
    assert all(n.params == 0 for n in report.nodes)


def test_initializers_listed_as_graph_inputs_are_parameters_not_user_inputs():
    """IR < 4 listed every initializer among the graph inputs too."""
    w, b = _weight("W", (4, 3, 3, 3)), _weight("B", (4,))
    model = make_model([helper.make_node("Conv", ["x", "W", "B"], ["y"], name="conv")],
                       [("x", F, [1, 3, 8, 8]), ("W", F, [4, 3, 3, 3]), ("B", F, [4])],
                       [("y", F, None)], [w, b], opset=9, ir_version=3)
    report = inspect_model(model)
    assert [t.name for t in report.inputs] == ["x"]
    assert report.node("conv").params == 4 * 3 * 3 * 3 + 4
    assert report.outputs[0].shape == (1, 4, 6, 6)


def test_transposed_weight_counted_once():
    model = make_model(
        [helper.make_node("Transpose", ["W"], ["Wt"], perm=[1, 0], name="t"),
         helper.make_node("MatMul", ["x", "Wt"], ["y"], name="mm")],
        [("x", F, [2, 10])], [("y", F, None)], [_weight("W", (6, 10))])
    report = inspect_model(model)
    assert report.totals.params == report.totals.unique_params == 60
    assert report.node("t").params + report.node("mm").params == 60
    assert report.outputs[0].shape == (2, 6)


def test_params_by_dtype_and_bytes():
    model = make_model(
        [helper.make_node("MatMul", ["x", "W16"], ["a"]),
         helper.make_node("Cast", ["a"], ["a32"], to=F),
         helper.make_node("Add", ["a32", "B"], ["b"]),
         helper.make_node("Mul", ["b", "S64"], ["y"])],
        [("x", TensorProto.FLOAT16, [2, 8])], [("y", TensorProto.DOUBLE, None)],
        [_weight("W16", (8, 5), np.float16), _weight("B", (5,)), _weight("S64", (5,), np.float64)])
    report = inspect_model(model)
    assert report.totals.params_by_dtype == {"float16": 40, "float32": 5, "float64": 5}
    assert report.totals.bytes_by_dtype == {"float16": 80, "float32": 20, "float64": 40}
    assert report.totals.param_bytes == 140


def independent_count(model: onnx.ModelProto) -> int:
    """Float constants some node reads: initializers and ConstantOfShape outputs."""
    read = {name for node in model.graph.node for name in node.input}
    inits = {t.name: t for t in model.graph.initializer}
    floats = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16)
    total = sum(int(np.prod(t.dims)) for t in inits.values() if t.data_type in floats and t.name in read)
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.output[0] in read:
            fill = next((a.t for a in node.attribute if a.name == "value"), None)
            if fill is None or fill.data_type in floats:
                total += int(np.prod(numpy_helper.to_array(inits[node.input[0]])))
    return total


def test_light_alexnet_has_exactly_60965224_params():
    report = inspect_model(os.path.join(LIGHT, "light_bvlc_alexnet.onnx"))
    assert report.totals.params == report.totals.unique_params == 60_965_224


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(LIGHT, "*.onnx"))), ids=os.path.basename)
def test_light_models_match_an_independent_count(path):
    model = onnx.load(path)
    report = inspect_model(path)
    assert report.totals.unique_params == independent_count(model)
    assert report.totals.param_bytes == 4 * report.totals.unique_params   # all float32
    assert not report.totals.unknown_ops
