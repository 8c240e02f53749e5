"""The graph as networkx sees it: one vertex per node, one edge per producer -> consumer
pair (naming the tensors it hands on).

Building it also validates the references: every tensor a node reads must be a graph
input, an initializer, an outer-scope value (inside If/Loop/Scan bodies) or the output
of exactly one node, and the node graph must be acyclic.  Declared shapes must be
countable (no negative dims, fewer than 2**63 elements) and subgraphs nest at most
:data:`MAX_NESTING` levels, so nothing downstream can hang or recurse without bound.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .dims import Dim, is_int
from .errors import GraphError
from .proto import AttributeProto

if TYPE_CHECKING:
    import networkx as nx

MAX_NESTING = 64                 # subgraph levels, as the walker's MAX_DEPTH (a file allows ~33)
MAX_ELEMENTS = (1 << 63) - 1     # what an int64 can count


@dataclass
class ModelGraph:
    proto: Any
    nodes: Sequence[Any]
    initializers: Dict[str, Any]
    inputs: List[Any]          # user inputs only (initializers removed)
    outputs: List[Any]
    producer: Dict[str, int]                    # tensor name -> index of the node making it
    edges: List[Tuple[int, int, str]]           # (producer, consumer, tensor), one per read
    order: List[int]                            # node indices in topological order

    @cached_property
    def digraph(self) -> nx.DiGraph:
        """The node graph as a networkx ``DiGraph``, built on first use (importing
        networkx takes longer than inspecting a small model)."""
        return _digraph(len(self.nodes), self.edges)


def build_graph(graph: Any, path: Optional[str] = None,
                outer_names: Iterable[str] = ()) -> ModelGraph:
    nodes = graph.node
    initializers = {}
    for tensor in graph.initializer:
        if tensor.name in initializers:
            raise GraphError(f"initializer {tensor.name!r} is defined twice", path)
        check_shape(f"initializer {tensor.name!r}", tuple(tensor.dims), path)
        initializers[tensor.name] = tensor
    for sparse in graph.sparse_initializer:
        check_shape(f"sparse initializer {sparse.values.name!r}", tuple(sparse.dims), path)
        initializers.setdefault(sparse.values.name, sparse.values)
    inputs = [vi for vi in graph.input if vi.name not in initializers]
    input_names = [vi.name for vi in inputs]
    _check_unique("graph input", input_names, path)
    known = set(outer_names)
    known.update(initializers)
    known.update(input_names)

    producer: Dict[str, int] = {}
    for index, node in enumerate(nodes):
        if type(node.op_type) is not str or type(node.name) is not str or type(node.domain) is not str:
            raise GraphError(f"node #{index} has a name, op_type or domain that is not valid UTF-8", path)
        for name in node.output:
            if not name:
                continue
            if name in producer:
                other = nodes[producer[name]]
                raise GraphError(
                    f"tensor {name!r} is produced twice, by nodes "
                    f"{_label(other, producer[name])} and {_label(node, index)}", path)
            if name in initializers or name in input_names:
                raise GraphError(
                    f"node {_label(node, index)} overwrites graph input or initializer {name!r}", path)
            producer[name] = index

    _check_text("tensor name", itertools.chain(known, producer, (vi.name for vi in graph.output)), path)
    edges = []
    in_order = True
    for index, node in enumerate(nodes):
        for name in _reads(node, path):
            source = producer.get(name)
            if source is None:
                if name not in known:
                    raise GraphError(
                        f"node {_label(node, index)} reads undefined tensor {name!r}", path)
                continue
            if source >= index:
                in_order = False
            edges.append((source, index, name))

    for output in graph.output:
        if output.name not in producer and output.name not in known:
            raise GraphError(f"graph output {output.name!r} is never produced", path)

    if in_order:
        order = list(range(len(nodes)))
    else:
        import networkx as nx

        digraph = _digraph(len(nodes), edges)
        try:
            order = list(nx.topological_sort(digraph))
        except nx.NetworkXUnfeasible:
            cycle = nx.find_cycle(digraph)
            names = " -> ".join(_label(nodes[a], a) for a, _ in cycle)
            raise GraphError(f"graph has a cycle: {names} -> {_label(nodes[cycle[0][0]], cycle[0][0])}",
                             path) from None
    return ModelGraph(graph, nodes, initializers, inputs, list(graph.output), producer, edges, order)


def _digraph(count: int, edges: List[Tuple[int, int, str]]) -> nx.DiGraph:
    """Vertices are node indices; an edge carries the names of the tensors it hands on."""
    import networkx as nx

    digraph = nx.DiGraph()
    digraph.add_nodes_from(range(count))
    for source, target, tensor in edges:
        if digraph.has_edge(source, target):
            digraph[source][target]["tensors"].append(tensor)
        else:
            digraph.add_edge(source, target, tensors=[tensor])
    return digraph


def check_shape(what: str, shape: Sequence[Dim], path: Optional[str] = None) -> None:
    """Reject negative dims and element counts beyond int64 (a hostile or corrupt file)."""
    count = 1
    for axis, dim in enumerate(shape):
        if not is_int(dim):
            continue
        if dim < 0:
            raise GraphError(f"{what} has negative dimension {dim} at axis {axis}", path)
        count *= dim
        if count > MAX_ELEMENTS:
            raise GraphError(f"{what} has more elements than an int64 can count "
                             f"(dims {list(shape)})", path)


def _check_text(what: str, names: Iterable[object], path: Optional[str]) -> None:
    """protobuf hands back invalid UTF-8 strings as bytes: refuse them here, once."""
    for name in names:
        if type(name) is not str:
            raise GraphError(f"{what} {name!r} is not valid UTF-8", path)


def _check_unique(what: str, names: List[str], path: Optional[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise GraphError(f"{what} {name!r} is listed twice", path)
        seen.add(name)


def _reads(node: Any, path: Optional[str], depth: int = 0) -> List[str]:
    """Tensor names a node reads, including outer-scope names its subgraphs capture."""
    names = [n for n in node.input if n]
    for attr in node.attribute:
        if attr.type == AttributeProto.GRAPH:
            names.extend(captured_names(attr.g, path, depth + 1))
        elif attr.type == AttributeProto.GRAPHS:
            for sub in attr.graphs:
                names.extend(captured_names(sub, path, depth + 1))
    return names


def captured_names(graph: Any, path: Optional[str] = None, depth: int = 1) -> List[str]:
    """Names a subgraph reads from the enclosing scope (``depth``: its nesting level)."""
    if depth >= MAX_NESTING:
        raise GraphError(f"subgraphs nested more than {MAX_NESTING} levels deep "
                         f"(graph {graph.name!r})", path)
    local = {t.name for t in graph.initializer}
    local.update(vi.name for vi in graph.input)
    for node in graph.node:
        local.update(node.output)
    captured = []
    for node in graph.node:
        for name in _reads(node, path, depth):
            if name and name not in local:
                captured.append(name)
    return captured


def _label(node: Any, index: int) -> str:
    return f"{node.name!r} ({node.op_type} #{index})" if node.name else f"#{index} ({node.op_type})"
