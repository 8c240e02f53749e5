"""Visit a graph's nodes in topological order, one rule per node.

For every node the walker gathers what is known about its inputs, runs the node's rule
(shapes, folded values, cost), and counts the parameters it consumes: constant weights
(initializers, Constant outputs, generator outputs such as ConstantOfShape) read through
a data slot.  Constants read through shape/axes/index slots, and integer constants
whose consumer is folded away (shape arithmetic), are not parameters.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Dict, Hashable, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from .. import ops  # noqa: F401  (registers every rule)
from ..decode import tensor_array
from ..dims import Dim, Expr, is_int, prod
from ..dtypes import INTEGER_TYPES, dtype_name
from ..errors import GraphError, InspectError
from ..graph import MAX_ELEMENTS, MAX_NESTING, build_graph
from ..load.payload import is_elided
from ..ops.context import NodeContext, ShapeError, Unknown
from ..ops.registry import OpRule, lookup
from ..proto import AttributeProto
from ..report import GraphWalk, NodeReport, iter_nodes
from ..tensors import FOLD_LIMIT, Shape, TensorInfo, info_from_type
from .functions import function_rule, index_functions
from .index_constants import uncount_index_constants
from .symbols import DataDependentSymbols

# If/Loop/Scan bodies and function calls nest at most this deep: a clear error
# beyond it instead of Python's RecursionError.  One limit for both checks: graph.py
# guards the nesting of the protobuf, the walker the expansion (recursive functions).
MAX_DEPTH = MAX_NESTING

_NO_OUTER: Mapping[str, TensorInfo] = MappingProxyType({})   # a top-level graph captures nothing


def initializer_info(tensor: Any) -> TensorInfo:
    shape = tuple(int(d) for d in tensor.dims)
    if prod(shape) <= FOLD_LIMIT:
        return _Initializer(tensor.name, dtype_name(tensor.data_type), shape, const=True, source=True,
                            tensor=tensor)
    return TensorInfo(tensor.name, dtype_name(tensor.data_type), shape, const=True, source=True)


class _Initializer(TensorInfo):
    """A small initializer whose value is decoded on first read: most are weights of
    which only the shape is asked (a 3x3 Conv kernel), and decoding each one up front
    cost 6 ms per thousand.  Until then it holds its TensorProto (and so the parsed model)."""

    def __init__(self, name: str, dtype: Optional[str], shape: Shape, *, const: bool = False,
                 source: bool = False, tensor: Optional[Any] = None) -> None:
        super().__init__(name, dtype, shape, const=const, source=source)
        if tensor is not None:
            self.__dict__["_tensor"] = tensor

    @property
    def value(self) -> Optional[np.ndarray]:
        state = self.__dict__
        tensor = state.pop("_tensor", None)
        if tensor is not None:
            state["_value"] = tensor_value(tensor)
        return state.get("_value")

    @value.setter
    def value(self, value: Optional[np.ndarray]) -> None:
        self.__dict__.pop("_tensor", None)
        self.__dict__["_value"] = value


def tensor_value(tensor: Any) -> Optional[np.ndarray]:
    """The tensor's values when they are embedded (never reads external files)."""
    if is_elided(tensor):
        return None
    return tensor_array(tensor)   # None for external data or a malformed payload


class Walker:
    """Walks a model's graph; reusable for subgraph bodies through :meth:`walk`."""

    def __init__(self, opsets: Mapping[str, int], path: Optional[str] = None,
                 explaining: bool = False, functions: Iterable[Any] = (), depth: int = 0,
                 symbols: Optional[DataDependentSymbols] = None, enclosing: Optional[List[int]] = None) -> None:
        self.opsets = {("" if k == "ai.onnx" else k): v for k, v in opsets.items()}
        self.path = path
        self.explaining = explaining
        self.functions = index_functions(functions)  # model-local FunctionProtos
        self.depth = depth                            # nesting level of the graph being walked
        # The data-dependent sizes' symbols, shared by every body and function call.
        self.symbols = symbols if symbols is not None else DataDependentSymbols({})
        self.enclosing = enclosing if enclosing is not None else []   # indices of the nodes being visited

    def child(self, opsets: Mapping[str, int]) -> "Walker":
        """A walker for a function body: the function's own opsets, same nesting count."""
        return Walker({**self.opsets, **opsets}, self.path, self.explaining, self.functions, self.depth,
                      self.symbols, self.enclosing)

    def data_dependent(self, node: Any, key: Tuple[Hashable, ...], bound: Dim) -> Dim:
        """The symbol (or bound number) for a size of ``node`` known only at run time;
        ``key`` is what decides the size (input names, attributes): equal keys, one symbol."""
        where = tuple(self.enclosing)
        label = "/".join(f"#{i}" for i in where[:-1]) + ("/" if len(where) > 1 else "")
        label += node.name or f"#{where[-1]}"
        base = f"{node.op_type.lower()}_" + "_".join(str(i) for i in where)
        return self.symbols.get((where[:-1], node.domain, node.op_type, *key), base, label, node.op_type, bound,
                                where[:-1])

    def inner_bound(self, dim: Dim) -> Dim:
        """``dim``, or the bound of the data-dependent symbol it is when a node inside the
        bodies of the node being visited made it (outside them it is not visible)."""
        return self.symbols.inner_bound(dim, tuple(self.enclosing))

    def opset(self, domain: str) -> int:
        return self.opsets.get("" if domain == "ai.onnx" else domain, 0)

    def walk(self, graph: Any, inputs: Mapping[str, TensorInfo],
             outer: Mapping[str, TensorInfo] = _NO_OUTER) -> GraphWalk:
        """Walk ``graph`` given the infos of its inputs (and of outer-scope values)."""
        if self.depth >= MAX_DEPTH:
            raise GraphError(f"subgraphs or function calls nested more than {MAX_DEPTH} levels deep "
                             f"(graph {graph.name!r})", self.path)
        self.depth += 1
        try:
            return self._walk(graph, inputs, outer)
        finally:
            self.depth -= 1

    def _walk(self, graph: Any, inputs: Mapping[str, TensorInfo],
              outer: Mapping[str, TensorInfo]) -> GraphWalk:
        outer = dict(outer)
        model_graph = build_graph(graph, self.path, outer_names=outer.keys())
        tensors: Dict[str, TensorInfo] = dict(outer)
        for name, tensor in model_graph.initializers.items():
            tensors[name] = initializer_info(tensor)
        graph_inputs = []
        if self.depth == 1:   # a data-dependent symbol never takes an input's symbol's name
            self.symbols.reserve(str(s) for info in inputs.values() for d in info.shape or ()
                                 if isinstance(d, Expr) for s in d.symbols())
        for vi in model_graph.inputs:
            info = inputs.get(vi.name)
            if info is None:
                info = info_from_type(vi.name, vi.type)
            tensors[vi.name] = info
            graph_inputs.append(info)

        reports: List[NodeReport] = []
        warnings: List[str] = []
        nodes = model_graph.nodes
        for index in model_graph.order:
            node = nodes[index]
            report = self.visit(index, node, tensors)
            reports.append(report)
            warnings.extend(report.warnings)

        uncount_index_constants(reports, (vi.name for vi in graph.output))
        consumers: Dict[str, List[NodeReport]] = {}
        for report in reports:
            for user in iter_nodes([report]) if report.subgraphs else (report,):
                for name in user.param_inputs:
                    consumers.setdefault(name, []).append(user)
        for name, users in consumers.items():
            if len(users) > 1 and self.depth == 1:  # marked once, across every nested body
                for report in users:
                    report.shared_params.append(name)

        outputs = [tensors.get(vi.name) or TensorInfo(vi.name, None, None) for vi in graph.output]
        return GraphWalk(reports, tensors, graph_inputs, outputs, warnings)

    def visit(self, index: int, node: Any, tensors: Dict[str, TensorInfo]) -> NodeReport:
        inputs = [tensors.get(name) if name else None for name in node.input]
        ctx = NodeContext(node, self.opset(node.domain), inputs, self, self.explaining, scope=tensors)
        rule = lookup(node.domain, node.op_type) or function_rule(self.functions, node)
        label = node.name or f"#{index}"
        if rule is None:
            ctx.warn(f"node {label}: no shape rule for {node.domain or 'ai.onnx'}::{node.op_type}; "
                     f"outputs unknown")
        else:
            self.enclosing.append(index)
            try:
                rule.infer(ctx)
            except Unknown:
                pass
            except ShapeError as exc:
                ctx.warn(f"node {label} ({node.op_type}): {exc}")
            except InspectError:
                raise  # e.g. a subgraph nested too deep: the model cannot be inspected
            except Exception as exc:  # a rule bug must not stop the inspection
                ctx.warn(f"node {label} ({node.op_type}): rule failed: {type(exc).__name__}: {exc}")
            finally:
                self.enclosing.pop()

        outputs = []
        const = all(i is None or i.const for i in inputs) and not _has_subgraph(node)
        for i, name in enumerate(ctx.output_names):
            info = ctx.outputs[i]
            if info is None:
                info = TensorInfo(name, None, None)
            info.const = const and info.shape is not None
            info.source = bool(rule is not None and rule.generator and info.const)
            if name:
                tensors[name] = info
            outputs.append(info)

        report = NodeReport(index, node.name, node.op_type, node.domain, inputs, outputs,
                            macs=ctx.macs, flops=ctx.flops, known_op=rule is not None,
                            explanations=ctx.explanations, warnings=ctx.warnings,
                            subgraphs=ctx.subgraphs, attribute_params=ctx.attribute_held,
                            name_scopes=_name_scopes(node) if node.metadata_props else None)
        self._count_params(report, rule, outputs)
        report.params += sum(held.count for held in ctx.attribute_held)  # learned values in attributes
        if ctx.packed:
            _count_packed(report, ctx.packed)
        return report

    def _count_params(self, report: NodeReport, rule: Optional[OpRule], outputs: List[TensorInfo]) -> None:
        meta = rule.meta_inputs if rule is not None else frozenset()
        folded = bool(outputs) and all(o.value is not None for o in outputs)
        # A value known although it is not constant comes from a Shape: float scales
        # multiplied into it (interpolate's Cast -> Mul -> Floor) are shape arithmetic too
        # (through a data slot: Shape-derived *indices* do not make a gathered table one).
        from_shapes = folded and any(i is not None and not i.const and i.value is not None
                                     and slot not in meta for slot, i in enumerate(report.inputs))
        seen = set()
        for slot, info in enumerate(report.inputs):
            if info is None or not info.source or slot in meta or info.name in seen:
                continue
            if folded and (info.dtype in INTEGER_TYPES or from_shapes):
                continue  # constant folded into shape arithmetic
            if info.dtype == "bool":
                continue  # a mask (a causal triangle, a padding pattern): nothing learns a bool
            if rule is not None and rule.scalar_literals and _is_literal(info.shape, outputs):
                continue  # an epsilon, a scale, a counter's + 1, a -inf fill
            count = info.size
            if not is_int(count):
                report.warnings.append(
                    f"node {report.name or report.index}: weight {info.name!r} has unknown size")
                continue
            if count > MAX_ELEMENTS:  # no such tensor can exist: a hostile or corrupt shape
                raise GraphError(f"weight {info.name!r} read by node {report.name or f'#{report.index}'} has "
                                 f"more elements than an int64 can count", self.path)
            seen.add(info.name)
            report.params += count
            report.param_inputs.append(info.name)


def _count_packed(report: NodeReport, packed: Mapping[int, Tuple[int, str]]) -> None:
    """A packed quantized weight counts its logical elements (K·N of a MatMulNBits'
    uint8 blob), not its stored bytes: the rule said which slots hold such weights."""
    for slot, (logical, dtype) in packed.items():
        info = report.inputs[slot] if slot < len(report.inputs) else None
        if info is None or info.name not in report.param_inputs or not is_int(info.size):
            continue
        report.params += logical - info.size
        report.packed_params[info.name] = (logical, dtype)


def _is_literal(shape: Shape, outputs: List[TensorInfo]) -> bool:
    """A constant operand of arithmetic that is a literal, not a weight: 0-d, or one
    element (torch writes its scalars as ``[x]``: attention's 1/sqrt(d), masking's
    -inf) stretched over the output.  A one-element weight the output does not stretch,
    ``Linear(k, 1)``'s bias added to ``(B, T, 1)``, stays a weight."""
    if shape == ():
        return True
    if shape is None or any(d != 1 for d in shape):   # (a weight's shape is always known)
        return False
    out = outputs[0].shape if outputs else None
    return out is not None and len(out) >= len(shape) and any(
        d != 1 for d in out[len(out) - len(shape):])


def _name_scopes(node: Any) -> Optional[str]:
    """torch's dynamo exporter names nodes ``node_Conv_12`` and keeps the module path in
    metadata; the layer view reads it (only this entry is kept: the others hold stack traces)."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            scopes: str = prop.value
            return scopes
    return None


def _has_subgraph(node: Any) -> bool:
    return any(a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) for a in node.attribute)

