"""Write the small models the documentation's samples inspect (docs/*.md).

    python tools/make_sample_models.py cnn /tmp/cnn.onnx          # the classic CNN
    python tools/make_sample_models.py mystery /tmp/mystery.onnx  # the same, with an op nobody knows
    python tools/make_sample_models.py loop /tmp/loop.onnx        # a Loop and an If

Built with onnx.helper and fixed seeds (no TensorFlow, no torch), so the same command
always writes the same model.  tests/test_docs.py runs these commands for the samples.
"""

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def _model(graph: onnx.GraphProto, domains=None) -> onnx.ModelProto:
    opsets = [helper.make_opsetid("", 17)] + [helper.make_opsetid(d, 1) for d in domains or ()]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="make_sample_models")
    model.ir_version = 8
    return model


def classic_cnn(mystery: bool = False, batch="N") -> onnx.ModelProto:
    """Conv(8, 3x3) -> Relu -> MaxPool 2 -> Conv(16, 3x3) -> Relu -> MaxPool 2 -> Flatten ->
    Gemm(10) on a (batch, 1, 28, 28) input: the article's Conv/Pool/Flatten/Dense CNN.
    ``mystery`` puts an op nobody has a rule for between the second Relu and its pool.
    (The tests build their classic CNN here too.)"""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name) for name, shape in
               [("w1", (8, 1, 3, 3)), ("b1", (8,)), ("w2", (16, 8, 3, 3)), ("b2", (16,)),
                ("fc_w", (10, 400)), ("fc_b", (10,))]]
    r2 = "m" if mystery else "r2"
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2"),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("MaxPool", [r2], ["p2"], kernel_shape=[2, 2], strides=[2, 2], name="pool2"),
             helper.make_node("Flatten", ["p2"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"], transB=1, name="fc")]
    if mystery:
        nodes.insert(5, helper.make_node("Mystery", ["r2"], ["m"], name="mystery", domain="example.org"))
    graph = helper.make_graph(nodes, "classic_cnn", [helper.make_tensor_value_info("x", F, [batch, 1, 28, 28])],
                              [helper.make_tensor_value_info("y", F, None)], weights)
    return _model(graph, ["example.org"] if mystery else None)


def loop_and_if() -> onnx.ModelProto:
    """What tf2onnx makes of ``tf.while_loop`` (3 passes of ``x = relu(x @ w)``, a counter
    ``i + 1 < 3``, M = INT64_MAX) followed by ``tf.cond(reduce_sum(x) > 0, x * 2, x - 1)``.
    The 4x4 weight is carried through the loop, as tf2onnx carries it."""
    i64, b = TensorProto.INT64, TensorProto.BOOL
    rng = np.random.default_rng(0)

    def scalar(name, value, dtype):
        return numpy_helper.from_array(np.array(value, dtype), name)

    body = helper.make_graph(
        [helper.make_node("Add", ["i", "one"], ["i_next"], name="while/add"),
         helper.make_node("MatMul", ["x", "w"], ["xw"], name="while/MatMul"),
         helper.make_node("Relu", ["xw"], ["x_next"], name="while/Relu"),
         helper.make_node("Identity", ["w"], ["w_next"], name="while/Identity"),
         helper.make_node("Less", ["i_next", "limit"], ["go_on"], name="while/Less")],
        "while_body",
        [helper.make_tensor_value_info("iteration", i64, []), helper.make_tensor_value_info("cond_in", b, []),
         helper.make_tensor_value_info("i", i64, []), helper.make_tensor_value_info("x", F, None),
         helper.make_tensor_value_info("w", F, None)],
        [helper.make_tensor_value_info("go_on", b, []), helper.make_tensor_value_info("i_next", i64, []),
         helper.make_tensor_value_info("x_next", F, None), helper.make_tensor_value_info("w_next", F, None)],
        [scalar("one", 1, np.int64), scalar("limit", 3, np.int64)])
    then_branch = helper.make_graph([helper.make_node("Mul", ["x_final", "two"], ["doubled"], name="cond/mul")],
                                    "then", [], [helper.make_tensor_value_info("doubled", F, None)],
                                    [scalar("two", 2.0, np.float32)])
    else_branch = helper.make_graph([helper.make_node("Sub", ["x_final", "one_f"], ["less"], name="cond/sub")],
                                    "else", [], [helper.make_tensor_value_info("less", F, None)],
                                    [scalar("one_f", 1.0, np.float32)])
    nodes = [helper.make_node("Loop", ["M", "cond", "i0", "x", "w"], ["i_final", "x_final", "w_final"],
                              body=body, name="while_loop"),
             helper.make_node("ReduceSum", ["x_final"], ["total"], keepdims=0, name="Sum"),
             helper.make_node("Greater", ["total", "zero"], ["positive"], name="Greater"),
             helper.make_node("If", ["positive"], ["y"], then_branch=then_branch, else_branch=else_branch,
                              name="cond")]
    graph = helper.make_graph(
        nodes, "loop_and_if", [helper.make_tensor_value_info("x", F, ["B", 4])],
        [helper.make_tensor_value_info("y", F, None)],
        [scalar("M", 2**63 - 1, np.int64), scalar("cond", True, np.bool_), scalar("i0", 0, np.int64),
         numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), "w"),
         scalar("zero", 0.0, np.float32)])
    return _model(graph)


MODELS = {"cnn": classic_cnn, "mystery": lambda: classic_cnn(mystery=True), "loop": loop_and_if}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("output", help="the .onnx file to write")
    args = parser.parse_args(argv)
    onnx.save(MODELS[args.model](), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
