"""The interface between the walker and one operator rule.

A rule sees the node's inputs (dtype, shape, folded value), its attributes and the
opset, and answers with output tensors, a cost (MACs / FLOPs) and, when the user asked
for ``--explain``, the formulas behind its numbers.  Rules raise :class:`Unknown` when
they cannot say (an input shape is unknown); the walker then reports null shapes.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Dict, Hashable, List, Mapping, Optional, Protocol, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from ..decode import attribute_value
from ..dims import Dim
from ..proto import AttributeProto
from ..report import AttributeParams, GraphWalk, NodeReport
from ..tensors import FOLD_LIMIT, Shape, TensorInfo


class _Same(Enum):
    """The type of :data:`_SAME`, ``set_output``'s "input 0's dtype" default."""

    SAME = "same"


_SAME = _Same.SAME
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

    def child(self, opsets: Mapping[str, int]) -> "SubgraphWalker":
        """A walker for a function body with the function's own opsets."""
        ...

    def data_dependent(self, node: Any, key: Tuple[Hashable, ...], bound: Dim) -> Dim:
        """The named symbol for a size of ``node`` known only at run time."""
        ...

    def inner_bound(self, dim: Dim) -> Dim:
        """``dim``, or its bound when it is a data-dependent symbol made inside the bodies
        of the node being visited."""
        ...


class NodeContext:
    __slots__ = ("node", "opset", "inputs", "outputs", "output_names", "macs", "flops", "explaining",
                 "explanations", "warnings", "walker", "subgraphs", "scope", "packed", "attribute_held",
                 "_attrs")

    def __init__(self, node: Any, opset: int, inputs: List[Optional[TensorInfo]],
                 walker: Optional[SubgraphWalker] = None, explaining: bool = False,
                 scope: Optional[Dict[str, TensorInfo]] = None) -> None:
        self.node = node
        self.opset = opset
        self.inputs = inputs
        self.output_names: List[str] = list(node.output)   # read once: every rule sets outputs
        self.outputs: List[Optional[TensorInfo]] = [None] * len(self.output_names)
        self.macs: Dim = None
        self.flops: Dim = None
        self.explaining = explaining
        self.explanations: List[Tuple[str, str]] = []
        self.warnings: List[str] = []
        self.walker = walker
        self.subgraphs: Dict[str, List[NodeReport]] = {}
        # Every tensor visible where the node sits (outer scopes included): what an
        # If/Loop/Scan body may capture.
        self.scope: Dict[str, TensorInfo] = scope if scope is not None else {}
        # Packed quantized weights (MatMulNBits' B, GatherBlockQuantized's data): input
        # slot -> (logical element count, logical dtype); the walker counts the logical
        # elements as the parameters and keeps the stored bytes (analyse/precision.py).
        self.packed: Dict[int, Tuple[int, str]] = {}
        self.attribute_held: List[AttributeParams] = []   # learned values kept in attributes (ai.onnx.ml)
        self._attrs: Optional[Dict[str, Any]] = None

    # -- inputs ----------------------------------------------------------------
    @property
    def op_type(self) -> str:
        op_type: str = self.node.op_type  # (the node is an untyped protobuf message)
        return op_type

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    def has_input(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i] is not None

    def _input_or_none(self, i: int) -> Optional[TensorInfo]:
        return self.inputs[i] if i < len(self.inputs) else None

    def input(self, i: int) -> TensorInfo:
        tensor = self._input_or_none(i)
        if tensor is None:
            raise ShapeError(f"input {i} is missing")
        return tensor

    def shape(self, i: int) -> Tuple[Dim, ...]:
        """Input ``i``'s shape, raising :class:`Unknown` when it is not known (so never None)."""
        shape = self.input(i).shape
        if shape is None:
            raise Unknown(f"input {i} has an unknown shape")
        return shape

    def shape_or_none(self, i: int) -> Shape:
        tensor = self._input_or_none(i)
        return None if tensor is None else tensor.shape

    def dtype(self, i: int) -> Optional[str]:
        tensor = self._input_or_none(i)
        return None if tensor is None else tensor.dtype

    def value(self, i: int) -> Optional[npt.NDArray[Any]]:
        """Folded value of input ``i`` (ints, or objects holding symbolic dims), or None."""
        tensor = self._input_or_none(i)
        return None if tensor is None else tensor.value

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
    def set_output(self, i: int, shape: Optional[Sequence[Dim]], dtype: Union[str, None, _Same] = _SAME,
                   value: object = None) -> None:
        """Record output ``i``; ``dtype`` defaults to input 0's dtype.  ``value`` is
        anything ``np.asarray`` takes (an array, a list of dims, a scalar)."""
        if i >= len(self.outputs) or not self.output_names[i]:
            return
        if dtype is _SAME:
            dtype = self.dtype(0)
        out_shape: Shape = None if shape is None else tuple(shape)
        folded: Optional[npt.NDArray[Any]] = None
        if value is not None:
            folded = np.asarray(value)
            if folded.size > FOLD_LIMIT:
                folded = None
            elif out_shape is None:
                out_shape = tuple(int(d) for d in folded.shape)
        self.outputs[i] = TensorInfo(self.output_names[i], dtype, out_shape, folded)

    def set_info(self, i: int, info: TensorInfo) -> None:
        """Record output ``i`` as ``info`` under the output's name: how a sequence, optional
        or map is produced (``set_output`` makes tensors)."""
        if i < len(self.outputs) and self.output_names[i]:
            info.name = self.output_names[i]
            self.outputs[i] = info

    def set_cost(self, macs: Dim = None, flops: Dim = None) -> None:
        """MACs (multiply-accumulates) and FLOPs; FLOPs default to 2 per MAC, and an op
        of known FLOPs but no multiply-accumulates has 0 MACs (``None`` means unknown)."""
        if flops is None and macs is not None:
            flops = 2 * macs
        if macs is None and flops is not None:
            macs = 0
        self.macs = macs
        self.flops = flops

    def attribute_params(self, attribute: str, count: int, dtype: str, what: str) -> None:
        """Report ``count`` learned values of ``dtype`` that the node holds in ``attribute``
        (``what`` says what they are: "thresholds", "coefficients"); the walker adds them
        to the node's parameters, named ``<node>.<attribute>``."""
        if count <= 0:
            return
        label = self.node.name or self.op_type
        self.attribute_held.append(AttributeParams(f"{label}.{attribute}", dtype, count, what))
        if self.explaining:
            self.explain("params", f"{attribute}: {count:,} {dtype} ({what})")

    def data_dependent(self, bound: Dim, *key: Hashable) -> Dim:
        """A size known only at run time (NonZero's count, a run-time K): a fresh named
        symbol (or the number ``--dim`` bound it to), the same for every node with the same
        op and ``key`` (what decides the size: input names, attributes) in the same scope.
        ``bound`` is its upper bound (None: none).  Unknown (None) without a walker."""
        if self.walker is None:
            return None
        return self.walker.data_dependent(self.node, key, bound)

    def inner_bound(self, dim: Dim) -> Dim:
        """``dim``, or its bound when it is a data-dependent symbol made inside this node's
        bodies (not visible outside them)."""
        return dim if self.walker is None else self.walker.inner_bound(dim)

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

