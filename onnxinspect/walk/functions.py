"""Model-local functions (``ModelProto.functions``): a call is walked through its body.

A node whose (domain, op_type[, overload]) names a function of the model and that has
no registered rule is expanded: the body is walked with the caller's input infos bound
to the formal inputs and the caller's attributes substituted for ``ref_attr_name``
references (the function's defaults otherwise).  The body's nodes are reported under
``NodeReport.subgraphs["function"]``; weights the caller passes in are counted where
the body consumes them, constants made inside the body likewise, never at the call.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ..ops.context import NodeContext, ShapeError
from ..ops.registry import OpRule, normal_domain
from ..proto import AttributeProto, GraphProto, NodeProto, ValueInfoProto
from ..report import body_cost

FunctionKey = Tuple[str, str, str]


def index_functions(functions: Iterable[Any]) -> Dict[FunctionKey, Any]:
    if isinstance(functions, Mapping):
        return dict(functions)
    return {(normal_domain(f.domain), f.name, f.overload): f for f in functions}


def function_rule(functions: Mapping[FunctionKey, Any],
                  node: Any) -> Optional[OpRule]:
    """The expansion rule for ``node`` when it calls a model-local function."""
    if not functions:
        return None
    function = functions.get((normal_domain(node.domain), node.op_type, node.overload))
    if function is None:
        return None
    # Every slot is "meta" for the call itself: the body's consumers count the weights.
    return OpRule(node.domain, node.op_type, partial(expand, function),
                  meta_inputs=frozenset(range(len(node.input))))


def expand(function: Any, ctx: NodeContext) -> None:
    body = GraphProto(name=function.name, node=bind_attributes(function.node, ctx.node, function),
                      input=[ValueInfoProto(name=name) for name in function.input],
                      output=[ValueInfoProto(name=name) for name in function.output])
    inputs = {formal: info for formal, info in zip(function.input, ctx.inputs, strict=False) if info is not None}
    if ctx.walker is None:   # only the walker expands calls (function_rule); never a bare context
        raise ShapeError("no walker to expand a function call with")
    walker = ctx.walker.child({normal_domain(o.domain): o.version for o in function.opset_import})
    walk = walker.walk(body, inputs)
    ctx.subgraphs["function"] = walk.nodes
    ctx.warnings.extend(walk.warnings)
    for i, info in enumerate(walk.outputs):
        ctx.set_output(i, info.shape, info.dtype, info.value)
    macs, flops = body_cost(walk.nodes)
    ctx.set_cost(macs=macs, flops=flops)
    if ctx.explaining:
        ctx.explain("flops", f"sum over the {len(walk.nodes)} nodes of function "
                             f"{function.domain or 'ai.onnx'}::{function.name}")


def bind_attributes(nodes: Iterable[Any], caller: Any, function: Any) -> List[Any]:
    """Copies of ``nodes`` with every ``ref_attr_name`` replaced by the caller's attribute
    (or the function's default); references to absent attributes are dropped."""
    given = {a.name: a for a in function.attribute_proto}
    given.update((a.name, a) for a in caller.attribute)
    return [_bind_node(node, given) for node in nodes]


def _bind_node(node: Any, given: Mapping[str, Any]) -> Any:
    copy = NodeProto()
    copy.CopyFrom(node)
    del copy.attribute[:]
    for attr in node.attribute:
        source = given.get(attr.ref_attr_name) if attr.ref_attr_name else attr
        if source is None:
            continue
        value = copy.attribute.add()
        value.CopyFrom(source)
        value.name = attr.name
        if value.type == AttributeProto.GRAPH:
            _bind_graph(value.g, given)
        elif value.type == AttributeProto.GRAPHS:
            for graph in value.graphs:
                _bind_graph(graph, given)
    return copy


def _bind_graph(graph: Any, given: Mapping[str, Any]) -> None:
    nodes = [_bind_node(n, given) for n in graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
