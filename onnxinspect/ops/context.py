"""The interface between the walker and one operator rule.

A rule sees the node's inputs (dtype, shape, folded value), its attributes and the
opset, and answers with output tensors, a cost (MACs / FLOPs) and, when the user asked
for ``--explain``, the formulas behind its numbers.  Rules raise :class:`Unknown` when
they cannot say (an input shape is unknown); the walker then reports null shapes.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Protocol

import numpy as np

from ..decode import attribute_value
from ..dims import Dim
from ..proto import AttributeProto
from ..report import GraphWalk, NodeReport
from ..tensors import FOLD_LIMIT, Shape, TensorInfo

_SAME = object()
_INT, _INTS = AttributeProto.INT, AttributeProto.INTS


class Unknown(Exception):
    """The rule cannot infer this node's outputs (not an error in the model)."""


class ShapeError(Exception):
    """The inputs contradict the operator's definition (reported as a warning)."""


class SubgraphWalker(Protocol):
    """What a rule may ask of the walker that runs it: walk a subgraph body.  (The walker
    implements it; rules never import the walker, so the dependency points one way.)"""

    explaining: bool

    def walk(self, graph: Any, inputs: Mapping[str, TensorInfo],
             outer: Mapping[str, TensorInfo] = ...) -> GraphWalk: ...


class NodeContext:
    __slots__ = ("node", "opset", "inputs", "outputs", "output_names", "macs", "flops", "explaining",
                 "explanations", "warnings", "walker", "subgraphs", "scope", "_attrs")

    def __init__(self, node: Any, opset: int, inputs: List[Optional[TensorInfo]],
                 walker: Optional[SubgraphWalker] = None, explaining: bool = False, scope: Optional[Dict[str, TensorInfo]] = None):
        self.node = node
        self.opset = opset
        self.inputs = inputs
        self.output_names: List[str] = list(node.output)   # read once: every rule sets outputs
        self.outputs: List[Optional[TensorInfo]] = [None] * len(self.output_names)
        self.macs: Dim = None
        self.flops: Dim = None
        self.explaining = explaining
        self.explanations: List[tuple] = []
        self.warnings: List[str] = []
        self.walker = walker
        self.subgraphs: Dict[str, List[NodeReport]] = {}
        # Every tensor visible where the node sits (outer scopes included): what an
        # If/Loop/Scan body may capture.
        self.scope: Dict[str, TensorInfo] = scope if scope is not None else {}
        self._attrs: Optional[Dict[str, Any]] = None

    # -- inputs ----------------------------------------------------------------
    @property
    def op_type(self) -> str:
        return self.node.op_type

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    def has_input(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i] is not None

    def input(self, i: int) -> TensorInfo:
        if not self.has_input(i):
            raise ShapeError(f"input {i} is missing")
        return self.inputs[i]

    def shape(self, i: int) -> Shape:
        """Input ``i``'s shape, raising :class:`Unknown` when it is not known."""
        shape = self.input(i).shape
        if shape is None:
            raise Unknown(f"input {i} has an unknown shape")
        return shape

    def shape_or_none(self, i: int) -> Shape:
        return self.inputs[i].shape if self.has_input(i) else None

    def dtype(self, i: int) -> Optional[str]:
        return self.inputs[i].dtype if self.has_input(i) else None

    def value(self, i: int) -> Optional[np.ndarray]:
        """Folded value of input ``i`` (ints, or objects holding symbolic dims), or None."""
        return self.inputs[i].value if self.has_input(i) else None

    # -- attributes --------------------------------------------------------------
    def attr(self, name: str, default: Any = None) -> Any:
        if self._attrs is None:
            self._attrs = {a.name: a for a in self.node.attribute}
        proto = self._attrs.get(name)
        if proto is None:
            return default
        if proto.ref_attr_name and not proto.type:
            return default
        kind = proto.type
        if kind == _INTS and not proto.ref_attr_name:  # the common case, read directly
            return list(proto.ints)
        if kind == _INT and not proto.ref_attr_name:
            return proto.i
        value = attribute_value(proto)
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            return [v.decode("utf-8", "replace") for v in value]
        return value

    def has_attr(self, name: str) -> bool:
        return any(a.name == name for a in self.node.attribute)

    # -- outputs -----------------------------------------------------------------
    def set_output(self, i: int, shape: Shape, dtype: Any = _SAME, value=None) -> None:
        """Record output ``i``; ``dtype`` defaults to input 0's dtype."""
        if i >= len(self.outputs) or not self.output_names[i]:
            return
        if dtype is _SAME:
            dtype = self.dtype(0)
        if shape is not None:
            shape = tuple(shape)
        if value is not None:
            value = np.asarray(value)
            if value.size > FOLD_LIMIT:
                value = None
            elif shape is None:
                shape = tuple(int(d) for d in value.shape)
        self.outputs[i] = TensorInfo(self.output_names[i], dtype, shape, value)

    def set_cost(self, macs: Dim = None, flops: Dim = None) -> None:
        """MACs (multiply-accumulates) and FLOPs; FLOPs default to 2 per MAC, and an op
        of known FLOPs but no multiply-accumulates has 0 MACs (``None`` means unknown)."""
        if flops is None and macs is not None:
            flops = 2 * macs
        if macs is None and flops is not None:
            macs = 0
        self.macs = macs
        self.flops = flops

    def walk_subgraph(self, graph: Any, inputs: Mapping[str, TensorInfo]) -> GraphWalk:
        """Walk an If/Loop/Scan body with ``inputs`` bound to its formal inputs; every
        tensor visible at this node is visible inside."""
        if self.walker is None:
            raise ShapeError("no walker to walk a subgraph with")
        return self.walker.walk(graph, inputs, outer=self.scope)

    def explain(self, kind: str, text: str) -> None:
        """Add one formula line; ``kind`` is 'params', 'shape' or 'flops'."""
        self.explanations.append((kind, text))

    def warn(self, message: str) -> None:
        self.warnings.append(message)

