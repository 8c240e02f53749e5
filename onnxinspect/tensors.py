"""What the walker knows about one value: dtype, shape, and (when folded) its value.

Most values are tensors (:class:`TensorInfo`, ``kind == "tensor"``, a class attribute: a
tensor pays nothing for the other kinds).  ONNX also has sequences of tensors, maps
(ai.onnx.ml) and optionals; their infos are the subclasses below, with ``shape`` None
(they have no tensor shape) and ``dtype`` their elements' (or values') dtype, so a rule
that reads ``ctx.dtype(i)`` of a sequence gets what ``SequenceAt`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .dims import Dim, prod, shape_to_json, sym, to_json
from .dtypes import dtype_name

Shape = Optional[Tuple[Dim, ...]]

# Values are only kept (folded) for tensors this small: enough for every shape,
# axes, pads, scales or indices tensor; never a weight payload.
FOLD_LIMIT = 4096


@dataclass
class TensorInfo:
    name: str
    dtype: Optional[str]
    shape: Shape
    value: Optional[np.ndarray] = None   # folded value; dtype=object when it holds symbols
    const: bool = False                  # computed from constants only
    source: bool = False                 # a constant weight: initializer, Constant, generator op
    kind: ClassVar[str] = "tensor"       # "sequence" | "map" | "optional" in the subclasses

    @property
    def rank(self) -> Optional[int]:
        return None if self.shape is None else len(self.shape)

    @property
    def size(self) -> Dim:
        return None if self.shape is None else prod(self.shape)

    def to_dict(self) -> Dict[str, Any]:
        # A tensor is written once per reader: its shape's JSON is kept with the shape it came from.
        shape = self.shape
        cached = self.__dict__.get("_shape_json")
        if cached is None or cached[0] is not shape:
            cached = self._shape_json = (shape, shape_to_json(shape))
        dims = cached[1]
        return {"name": self.name, "dtype": self.dtype, "shape": None if dims is None else list(dims),
                "type": "tensor"}

    def type_dict(self) -> Dict[str, Any]:
        """The JSON of this value's type alone (what a sequence or optional holds)."""
        out = self.to_dict()
        del out["name"]
        return out


def _type_json(info: Optional[TensorInfo]) -> Optional[Dict[str, Any]]:
    return None if info is None else info.type_dict()


@dataclass
class SequenceInfo(TensorInfo):
    """A sequence of tensors: ``elem`` is a type every element fits (dims that differ
    between elements unknown), ``length`` an int, a symbolic dim or None, ``items`` each
    position's info when the length is an int and the positions are told apart."""

    kind: ClassVar[str] = "sequence"
    elem: Optional[TensorInfo] = None
    length: Dim = None
    items: Optional[Tuple[TensorInfo, ...]] = None

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": None, "type": "sequence",
                "elem": _type_json(self.elem),
                "length": to_json(self.length)}


@dataclass
class OptionalInfo(TensorInfo):
    """An optional: ``elem`` the type it holds (a tensor or a sequence), ``present``
    whether it holds one (None: not known before run time)."""

    kind: ClassVar[str] = "optional"
    elem: Optional[TensorInfo] = None
    present: Optional[bool] = None

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": None, "type": "optional",
                "elem": _type_json(self.elem)}


@dataclass
class MapInfo(TensorInfo):
    """A map (ai.onnx.ml): ``key`` the key dtype, ``elem`` the values' type; ``dtype``
    is the values' dtype; ``entries`` its number of entries when known (ZipMap's: one per class)."""

    kind: ClassVar[str] = "map"
    key: Optional[str] = None
    elem: Optional[TensorInfo] = None
    entries: Dim = None

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.name, "dtype": self.dtype, "shape": None, "type": "map",
                               "key": self.key, "elem": _type_json(self.elem)}
        if self.entries is not None:
            out["entries"] = to_json(self.entries)
        return out


def merge_shapes(a: Shape, b: Shape) -> Shape:
    """The shape both ``a`` and ``b`` fit: equal dims kept, the others unknown."""
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else None for x, y in zip(a, b, strict=False))


def merge_infos(infos: Sequence[TensorInfo]) -> Optional[TensorInfo]:
    """One tensor type every one of ``infos`` fits (None for none): a sequence's ``elem``."""
    if not infos:
        return None
    dtype, shape = infos[0].dtype, infos[0].shape
    for info in infos[1:]:
        dtype = dtype if dtype == info.dtype else None
        shape = merge_shapes(shape, info.shape)
    return TensorInfo("", dtype, shape)


def sequence_of(name: str, items: Sequence[TensorInfo], elem: Optional[TensorInfo] = None) -> SequenceInfo:
    """A sequence of known length whose positions are ``items``; ``elem`` is the element
    type when the sequence has no items to take it from (an empty sequence's declared dtype)."""
    merged = merge_infos(items) if items else elem
    return SequenceInfo(name, merged.dtype if merged else None, None, elem=merged, length=len(items),
                        items=tuple(TensorInfo("", i.dtype, i.shape, i.value) for i in items))


def sequence_like(name: str, elem: Optional[TensorInfo], length: Dim) -> SequenceInfo:
    """A sequence whose positions are not told apart: all fit ``elem``."""
    return SequenceInfo(name, elem.dtype if elem else None, None, elem=elem, length=length)


def shape_from_type(type_proto: Any) -> Tuple[Optional[str], Shape]:
    """(dtype, shape) of a ValueInfo's ``TypeProto``; unnamed dynamic dims are unknown.
    A sequence, map or optional has its elements' dtype and no shape (:func:`info_from_type`
    reads the rest)."""
    if not type_proto.HasField("tensor_type"):
        elem = _elem_type(type_proto)
        return (None, None) if elem is None else (shape_from_type(elem)[0], None)
    tensor_type = type_proto.tensor_type
    dtype = dtype_name(tensor_type.elem_type)
    if not tensor_type.HasField("shape"):
        return dtype, None
    dims: List[Dim] = []
    for d in tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.dim_param:
            dims.append(sym(d.dim_param))
        else:
            dims.append(None)
    return dtype, tuple(dims)


def _elem_type(type_proto: Any) -> Any:
    """The TypeProto a sequence, optional or map holds (a map: its values), or None."""
    for field, attr in (("sequence_type", "elem_type"), ("optional_type", "elem_type"),
                        ("map_type", "value_type")):
        if type_proto.HasField(field):
            inner = getattr(type_proto, field)
            return getattr(inner, attr) if inner.HasField(attr) else None
    return None


def info_from_type(name: str, type_proto: Any) -> TensorInfo:
    """The info of a declared value (graph or body input) of any kind: a tensor, a sequence
    (length unknown), an optional (presence unknown) or a map."""
    if type_proto.HasField("tensor_type") or not any(
            type_proto.HasField(f) for f in ("sequence_type", "optional_type", "map_type")):
        dtype, shape = shape_from_type(type_proto)
        return TensorInfo(name, dtype, shape)
    inner = _elem_type(type_proto)
    elem = None if inner is None else info_from_type("", inner)
    dtype = elem.dtype if elem is not None else None
    if type_proto.HasField("sequence_type"):
        return SequenceInfo(name, dtype, None, elem=elem)
    if type_proto.HasField("optional_type"):
        return OptionalInfo(name, dtype, None, elem=elem)
    return MapInfo(name, dtype, None, key=dtype_name(type_proto.map_type.key_type), elem=elem)
