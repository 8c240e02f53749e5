"""The error catalogue: every broken or hostile model yields one InspectError naming the
problem (the CLI side, one stderr line and the exit code, is tests/test_cli_errors.py).

``BAD_MODELS`` is shared with the CLI tests: name -> (bytes builder, exit code, message
pattern).  The expected messages are the problems as a person would state them
(a cycle names its nodes, a dangling reference names the tensor).
"""

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from truth import make_model, varint

from onnxinspect import GraphError, InspectError, ModelLoadError, inspect_model

F = TensorProto.FLOAT


def _field(number: int, payload: bytes) -> bytes:
    return varint((number << 3) | 2) + varint(len(payload)) + payload


def conv_model() -> onnx.ModelProto:
    """A small valid model (also the seed of the mutation tests)."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "B")
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), "S")
    return make_model(
        [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], name="conv"),
         helper.make_node("Relu", ["c"], ["r"], name="relu"),
         helper.make_node("Reshape", ["r", "S"], ["y"], name="flatten")],
        [("x", F, [1, 3, 16, 16])], [("y", F, None)], [w, b, shape])


def _relu_chain(nodes, inputs=(("x", F, [2, 3]),), inits=()):
    return make_model(nodes, list(inputs), [("y", F, None)], list(inits)).SerializeToString()


def _cycle():
    return _relu_chain([helper.make_node("Relu", ["b"], ["a"], name="A"),
                        helper.make_node("Relu", ["a"], ["b"], name="B"),
                        helper.make_node("Add", ["x", "b"], ["y"], name="C")])


def _no_opset():
    model = conv_model()
    del model.opset_import[:]
    return model.SerializeToString()


def _no_ir_version():
    model = conv_model()
    model.ir_version = 0
    return model.SerializeToString()


def _tf_graphdef():
    """A TensorFlow GraphDef: NodeDef {name, op} messages in field 1, versions in 4."""
    node = _field(1, b"input") + _field(2, b"Placeholder")
    return _field(1, node) + _field(1, _field(1, b"out") + _field(2, b"Identity")) + _field(4, b"\x08\x1b")


def _nested_if_bytes(levels: int) -> bytes:
    """``levels`` If nodes each inside the last one's then_branch, written as raw bytes
    (protobuf itself refuses to build this many levels)."""
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "leaf", [],
                              [helper.make_tensor_value_info("t", F, [1])]).SerializeToString()
    for level in range(levels):
        attr = onnx.AttributeProto(name="then_branch", type=onnx.AttributeProto.GRAPH).SerializeToString()
        node = onnx.NodeProto(op_type="If", input=["c"], output=["t"]).SerializeToString()
        node += _field(5, attr + _field(6, graph))
        graph = onnx.GraphProto(name=f"g{level}").SerializeToString() + _field(1, node)
    header = onnx.ModelProto(ir_version=8, opset_import=[helper.make_opsetid("", 17)]).SerializeToString()
    return header + _field(7, graph)


def _initializer(dims):
    tensor = TensorProto(name="W", data_type=F, dims=dims)
    return _relu_chain([helper.make_node("Add", ["x", "W"], ["y"])], inits=[tensor])


# name -> (bytes, exit code, message pattern)
BAD_MODELS = {
    "empty": (lambda: b"", 1, r"(file is|model bytes are) empty"),
    "random bytes": (lambda: np.random.default_rng(1).bytes(4096), 1,
                     r"not a valid ONNX protobuf|not an ONNX model"),
    "text": (lambda: b"name,shape\nx,1x3\n" * 20, 1, r"not a valid ONNX protobuf|not an ONNX model"),
    "truncated": (lambda: conv_model().SerializeToString()[:700], 1, r"not a valid ONNX protobuf"),
    "png": (lambda: b"\x89PNG\r\n\x1a\n" + bytes(200), 1, r"looks like a PNG image"),
    "zip": (lambda: b"PK\x03\x04" + bytes(200), 1, r"looks like a zip archive"),
    "hdf5": (lambda: b"\x89HDF\r\n\x1a\n" + bytes(200), 1, r"looks like an HDF5 file"),
    "tf graphdef": (_tf_graphdef, 1, r"not an ONNX model \(a protobuf without a graph\)"),
    "onnx tensor, not a model": (lambda: numpy_helper.from_array(np.ones(3, np.float32), "t").SerializeToString(),
                                 1, r"not an ONNX model|not a valid ONNX protobuf"),
    "no ir_version": (_no_ir_version, 1, r"no ir_version"),
    "no opset_import": (_no_opset, 1, r"no opset_import"),
    "dangling reference": (lambda: _relu_chain([helper.make_node("Relu", ["nope"], ["y"], name="r")]), 1,
                           r"node 'r' \(Relu #0\) reads undefined tensor 'nope'"),
    "cycle": (_cycle, 1, r"graph has a cycle: .*'[AB]' \(Relu #\d\) -> '[AB]' \(Relu #\d\)"),
    "tensor produced twice": (lambda: _relu_chain([helper.make_node("Relu", ["x"], ["y"], name="r1"),
                                                   helper.make_node("Relu", ["x"], ["y"], name="r2")]), 1,
                              r"tensor 'y' is produced twice, by nodes 'r1' .* and 'r2'"),
    "output overwrites input": (lambda: _relu_chain([helper.make_node("Relu", ["x"], ["x"], name="r")]), 1,
                                r"overwrites graph input or initializer 'x'"),
    "graph output never produced": (lambda: _relu_chain([helper.make_node("Relu", ["x"], ["z"])]), 1,
                                    r"graph output 'y' is never produced"),
    "duplicate initializer": (lambda: _relu_chain(
        [helper.make_node("Add", ["x", "W"], ["y"])],
        inits=[numpy_helper.from_array(np.ones(3, np.float32), "W")] * 2), 1, r"initializer 'W' is defined twice"),
    "negative input dim": (lambda: _relu_chain([helper.make_node("Relu", ["x"], ["y"])], inputs=[("x", F, [-1, 3])]),
                           1, r"input 'x' has negative dimension -1 at axis 0; override it with --input x="),
    "negative initializer dim": (lambda: _initializer([3, -2]), 1,
                                 r"initializer 'W' has negative dimension -2 at axis 1"),
    "initializer past int64": (lambda: _initializer([1 << 62, 1 << 62]), 1,
                               r"initializer 'W' has more elements than an int64 can count"),
    "input past int64": (lambda: _relu_chain([helper.make_node("Relu", ["x"], ["y"])],
                                             inputs=[("x", F, [1 << 40, 1 << 40])]), 1,
                         r"input 'x' has more elements than an int64 can count"),
    "generated weight past int64": (lambda: _relu_chain(
        [helper.make_node("ConstantOfShape", ["s"], ["W"]), helper.make_node("Add", ["x", "W"], ["y"])],
        inits=[numpy_helper.from_array(np.array([1 << 62, 1 << 62], np.int64), "s")]), 1,
        r"weight 'W' read by node #1 has more elements than an int64 can count"),
    "subgraphs nested past protobuf's limit": (lambda: _nested_if_bytes(40), 1,
                                               r"nested deeper than protobuf allows"),
}


@pytest.mark.parametrize("name", list(BAD_MODELS))
def test_bad_model_raises_one_clear_error(name):
    build, code, pattern = BAD_MODELS[name]
    with pytest.raises(InspectError) as info:
        inspect_model(build())
    assert info.value.exit_code == code
    assert re.search(pattern, info.value.reason), info.value.reason
    assert "\n" not in info.value.message


def test_path_errors_name_the_file(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        inspect_model(str(tmp_path / "missing.onnx"))
    with pytest.raises(ModelLoadError, match="is a directory"):
        inspect_model(str(tmp_path))
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelLoadError) as info:
        inspect_model(str(empty))
    assert info.value.path == str(empty) and info.value.message == f"{empty}: file is empty"


def test_in_memory_nesting_beyond_the_guard_is_a_clear_error():
    """An in-memory ModelProto can nest deeper than a file can: the guard, not RecursionError."""
    model = make_model([], [("x", F, [1]), ("c", TensorProto.BOOL, [])], [("t", F, None)])
    graph = model.graph
    for _ in range(500):
        node = graph.node.add(op_type="If", input=["c"], output=["t"])
        graph = node.attribute.add(name="then_branch", type=onnx.AttributeProto.GRAPH).g
        graph.output.add(name="t")
    graph.node.add(op_type="Identity", input=["x"], output=["t"])
    with pytest.raises(GraphError, match=r"nested more than 64 levels"):
        inspect_model(model)


def test_unknown_op_is_not_an_error():
    model = make_model([helper.make_node("Frobnicate", ["x"], ["y"], domain="example.com", name="f")],
                       [("x", F, [2, 3])], [("y", F, None)], domains={"example.com": 1})
    report = inspect_model(model)
    assert report.node("f").outputs[0].shape is None and report.node("f").flops is None
    assert any("no shape rule for example.com::Frobnicate" in w for w in report.warnings)


def test_huge_but_countable_dims_stay_exact_and_fast():
    """Dims near the int64 limit: products are exact Python ints, nothing materialised."""
    big = (1 << 31) - 1
    model = make_model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Flatten", ["r"], ["y"])],
                       [("x", F, [big, big])], [("y", F, None)])
    report = inspect_model(model)
    assert report.outputs[0].shape == (big, big)
    assert report.totals.flops >= big * big   # Relu: at least one op per element
