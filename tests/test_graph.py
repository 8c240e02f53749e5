"""The node graph: a networkx DiGraph whose edges name the tensors handed on, a
topological order even when the file lists nodes out of order, and cycles named."""

import networkx as nx
import pytest
from onnx import TensorProto, helper
from truth import make_model

from onnxinspect import GraphError, inspect_model
from onnxinspect.graph import build_graph

F = TensorProto.FLOAT


def _diamond(reverse: bool):
    """x -> a (Relu) -> b, c (Neg, Abs) -> d (Add); optionally listed backwards."""
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="relu"),
             helper.make_node("Neg", ["a"], ["b"], name="neg"),
             helper.make_node("Abs", ["a"], ["c"], name="abs"),
             helper.make_node("Add", ["b", "c"], ["d"], name="add")]
    return make_model(nodes[::-1] if reverse else nodes, [("x", F, ["N", 4])], [("d", F, None)])


@pytest.mark.parametrize("reverse", [False, True])
def test_digraph_edges_carry_tensor_names_and_the_order_is_topological(reverse):
    model = _diamond(reverse)
    graph = build_graph(model.graph)
    digraph = graph.digraph
    assert isinstance(digraph, nx.DiGraph) and digraph.number_of_nodes() == 4
    names = {i: n.name for i, n in enumerate(graph.nodes)}
    labelled = {(names[u], names[v]): data["tensors"] for u, v, data in digraph.edges(data=True)}
    assert labelled == {("relu", "neg"): ["a"], ("relu", "abs"): ["a"], ("neg", "add"): ["b"],
                        ("abs", "add"): ["c"]}
    position = {names[i]: k for k, i in enumerate(graph.order)}
    assert all(position[u] < position[v] for u, v in labelled)
    assert [n.name for n in inspect_model(model).nodes][0] == "relu"


def test_two_tensors_between_the_same_nodes_are_one_edge_naming_both():
    nodes = [helper.make_node("Split", ["x"], ["p", "q"], axis=1, num_outputs=2, name="split"),
             helper.make_node("Add", ["p", "q"], ["y"], name="add")]
    model = make_model(nodes, [("x", F, [1, 4])], [("y", F, None)], opset=18)
    digraph = build_graph(model.graph).digraph
    assert [data["tensors"] for _, _, data in digraph.edges(data=True)] == [["p", "q"]]


def test_a_cycle_is_named_node_by_node():
    nodes = [helper.make_node("Relu", ["b"], ["a"], name="A"), helper.make_node("Relu", ["a"], ["b"], name="B")]
    model = make_model(nodes, [("x", F, [1])], [("a", F, None)])
    with pytest.raises(GraphError, match=r"graph has a cycle: 'A' \(Relu #0\) -> 'B' \(Relu #1\) -> 'A'"):
        inspect_model(model)
