"""The payload pre-pass: large tensor payloads dropped before parsing, everything else intact.

Truth: the original ModelProto (parsed by protobuf without the pre-pass) and numpy
element counts of the weights we built.
"""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from truth import make_model, varint

from onnxinspect import inspect_model
from onnxinspect.load import load_model
from onnxinspect.load.payload import ELIDED_KEY, is_elided, strip_model, strip_payloads
from onnxinspect.tensors import FOLD_LIMIT


def _model_with_weights():
    """Large weights stored as raw_data, float_data and int64_data, a Constant node with a
    large value, a small shape constant the walker must fold, and an If branch with its
    own large initializer."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((64, 128)).astype(np.float32), "W")
    f = helper.make_tensor("F", TensorProto.FLOAT, [80, 64], rng.standard_normal(80 * 64).tolist())
    big_int = helper.make_tensor("I", TensorProto.INT64, [5000], list(range(5000)))
    shape = numpy_helper.from_array(np.array([2, 64, 64], np.int64), "S")
    const = numpy_helper.from_array(np.ones((70, 70), np.float32), "cvalue")
    branch_w = numpy_helper.from_array(np.zeros((100, 100), np.float32), "BW")
    then = helper.make_graph([helper.make_node("Identity", ["BW"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, [100, 100])], [branch_w])
    other = helper.make_graph([helper.make_node("Identity", ["BW"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [100, 100])], [branch_w])
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["y"], name="mm"),
        helper.make_node("Reshape", ["W", "S"], ["r"], name="reshape"),
        helper.make_node("MatMul", ["F", "W"], ["fw"], name="mm2"),
        helper.make_node("Constant", [], ["c"], value=const, name="const"),
        helper.make_node("Relu", ["c"], ["cr"], name="relu"),
        helper.make_node("Cast", ["I"], ["ic"], to=TensorProto.FLOAT, name="cast"),
        helper.make_node("If", ["cond"], ["branch"], then_branch=then, else_branch=other, name="if"),
    ]
    model = make_model(nodes, [("x", TensorProto.FLOAT, [3, 64]), ("cond", TensorProto.BOOL, [])],
                       [("y", TensorProto.FLOAT, None), ("r", TensorProto.FLOAT, None),
                        ("fw", TensorProto.FLOAT, None), ("cr", TensorProto.FLOAT, None),
                        ("ic", TensorProto.FLOAT, None), ("branch", TensorProto.FLOAT, None)],
                       [w, f, big_int, shape])
    return model


def _tensors(model):
    out = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                out[node.name + ".value"] = attr.t
            if attr.type == onnx.AttributeProto.GRAPH:
                for t in attr.g.initializer:
                    out[f"{node.name}.{attr.name}.{t.name}"] = t
    return out


def test_large_payloads_dropped_small_kept_structure_intact():
    model = _model_with_weights()
    data = model.SerializeToString()
    stripped_bytes, elision = strip_payloads(data)
    stripped = onnx.ModelProto()
    stripped.ParseFromString(stripped_bytes)
    before, after = _tensors(model), _tensors(stripped)
    assert before.keys() == after.keys()
    for key, original in before.items():
        tensor = after[key]
        assert (tensor.name, list(tensor.dims), tensor.data_type) == \
            (original.name, list(original.dims), original.data_type)
        count = int(np.prod(original.dims))
        if count > FOLD_LIMIT:
            assert is_elided(tensor), key
            assert not tensor.raw_data and not tensor.float_data and not tensor.int64_data
        else:
            assert not is_elided(tensor), key
            np.testing.assert_array_equal(numpy_helper.to_array(tensor), numpy_helper.to_array(original))
    assert elision.tensors == sum(int(np.prod(t.dims)) > FOLD_LIMIT for t in before.values()) == 6
    assert len(stripped_bytes) < len(data) - elision.bytes + 1000
    # nodes, inputs, outputs, opsets unchanged
    assert [n.op_type for n in stripped.graph.node] == [n.op_type for n in model.graph.node]
    assert stripped.graph.input == model.graph.input and stripped.graph.output == model.graph.output
    assert stripped.opset_import == model.opset_import and stripped.ir_version == model.ir_version


def test_report_from_stripped_file_equals_report_from_full_proto(tmp_path):
    model = _model_with_weights()
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    full = inspect_model(model).to_dict()
    stripped = inspect_model(str(path)).to_dict()
    full["model"]["path"] = stripped["model"]["path"]
    assert stripped == full
    loaded = load_model(str(path))
    assert loaded.elided.tensors == 6
    # the weights are counted from their dims
    assert stripped["totals"]["params_by_dtype"]["float32"] >= 64 * 128 + 80 * 64


def test_small_shape_constant_still_folds(tmp_path):
    """Reshape's shape operand (3 int64s) keeps its payload: the reshape is still resolved."""
    model = _model_with_weights()
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    report = inspect_model(str(path))
    shape = next(t for t in report.node("reshape").inputs if t.name == "S")
    assert shape.value is not None and shape.value.tolist() == [2, 64, 64]


def test_elided_tensor_has_no_value_anywhere():
    stripped = strip_model(_model_with_weights())
    w = next(t for t in stripped.graph.initializer if t.name == "W")
    assert any(e.key == ELIDED_KEY and 64 * 128 * 4 < int(e.value) < 64 * 128 * 4 + 8 for e in w.metadata_props)
    report = inspect_model(stripped)
    assert all(t is None or t.value is None for n in report.nodes for t in n.inputs if t and t.name == "W")


def test_strip_model_agrees_with_the_wire_pass_on_initializers():
    model = _model_with_weights()
    direct = strip_model(model)
    wire = onnx.ModelProto()
    wire.ParseFromString(strip_payloads(model.SerializeToString())[0])
    assert list(direct.graph.initializer) == list(wire.graph.initializer)
    assert direct.graph.input == model.graph.input and direct.opset_import == model.opset_import
    assert len(direct.graph.node) == len(model.graph.node)


def test_packed_dims_are_read():
    """proto2 writes dims one varint field each; a packed encoding must work too."""
    dims = varint(100) + varint(100)
    payload = bytes(100 * 100 * 4)
    tensor = (b"\x0a" + varint(len(dims)) + dims + b"\x10\x01" + b"\x42\x01W"
              + b"\x4a" + varint(len(payload)) + payload)
    graph = b"\x2a" + varint(len(tensor)) + tensor
    model = b"\x08\x08" + b"\x3a" + varint(len(graph)) + graph
    stripped, elision = strip_payloads(model)
    parsed = onnx.ModelProto()
    parsed.ParseFromString(stripped)
    assert list(parsed.graph.initializer[0].dims) == [100, 100]
    assert is_elided(parsed.graph.initializer[0]) and elision.bytes == len(payload) + 4   # tag + length


def test_payload_contradicting_dims_is_dropped_too():
    """A tiny tensor carrying megabytes (hostile) must not be parsed into memory either."""
    tensor = TensorProto(name="T", data_type=TensorProto.FLOAT, dims=[2], raw_data=bytes(1 << 20))
    model = make_model([helper.make_node("Relu", ["T"], ["y"])], [], [("y", TensorProto.FLOAT, None)], [tensor])
    stripped, elision = strip_payloads(model.SerializeToString())
    assert elision.tensors == 1 and len(stripped) < 1000


@pytest.mark.parametrize("cut", [1, 7, 100, -3])
def test_malformed_bytes_are_handed_back_unchanged(cut):
    data = _model_with_weights().SerializeToString()
    broken = data[:cut]
    out, elision = strip_payloads(broken)
    assert out == broken and elision.tensors == 0


def test_bytes_and_proto_sources_agree():
    model = _model_with_weights()
    a = inspect_model(model.SerializeToString()).to_dict()
    b = inspect_model(model).to_dict()
    assert a == b
