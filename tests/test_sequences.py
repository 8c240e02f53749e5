"""Sequences, optionals and maps as values: declared types read from graph inputs, their
JSON (``type``, ``elem``, ``length``) and the table's ``seq<...> × n`` cell."""

import json

from onnx import TensorProto, helper

from onnxinspect import inspect_model
from onnxinspect.render.json import render_json
from onnxinspect.render.rows import io_line


def _model(inputs, nodes=(), outputs=None, opset=18):
    graph = helper.make_graph(list(nodes), "g", inputs, outputs or inputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=9)


def test_declared_sequence_optional_and_map_inputs():
    seq = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, ["N", 3])
    opt = helper.make_value_info("o", helper.make_optional_type_proto(
        helper.make_tensor_type_proto(TensorProto.INT64, [2])))
    mp = helper.make_value_info("m", helper.make_map_type_proto(
        TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))
    report = inspect_model(_model([seq, opt, mp]))
    s, o, m = (t.to_dict() for t in report.inputs)
    assert s == {"name": "s", "dtype": "float32", "shape": None, "type": "sequence",
                 "elem": {"dtype": "float32", "shape": ["N", 3], "type": "tensor"}, "length": None}
    assert o == {"name": "o", "dtype": "int64", "shape": None, "type": "optional",
                 "elem": {"dtype": "int64", "shape": [2], "type": "tensor"}}
    assert m == {"name": "m", "dtype": "float32", "shape": None, "type": "map", "key": "int64",
                 "elem": {"dtype": "float32", "shape": [], "type": "tensor"}}
    assert [io_line(t) for t in report.inputs] == [
        "s: seq<float32 (N, 3)> × ?", "o: opt<int64 (2)>", "m: map<int64, float32 ()>"]
    assert render_json(report) == json.dumps(report.to_dict(), separators=(",", ":"), ensure_ascii=False)


def test_every_tensor_entry_says_it_is_a_tensor():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    report = inspect_model(_model([x], [helper.make_node("Relu", ["x"], ["y"])], [y]))
    assert report.to_dict()["nodes"][0]["outputs"] == [
        {"name": "y", "dtype": "float32", "shape": [2], "type": "tensor"}]
