"""What the walker knows about one tensor: dtype, shape, and (when folded) its value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import numpy as np

from .dims import Dim, prod, shape_to_json, sym
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

    @property
    def rank(self) -> Optional[int]:
        return None if self.shape is None else len(self.shape)

    @property
    def size(self) -> Dim:
        return None if self.shape is None else prod(self.shape)

    def to_dict(self) -> dict[str, Any]:
        # A tensor is written once per reader: its shape's JSON is kept with the shape it came from.
        shape = self.shape
        cached = self.__dict__.get("_shape_json")
        if cached is None or cached[0] is not shape:
            cached = self._shape_json = (shape, shape_to_json(shape))
        dims = cached[1]
        return {"name": self.name, "dtype": self.dtype, "shape": None if dims is None else list(dims)}


def shape_from_type(type_proto: Any) -> Tuple[Optional[str], Shape]:
    """(dtype, shape) of a ValueInfo's ``TypeProto``; unnamed dynamic dims are unknown."""
    if not type_proto.HasField("tensor_type"):
        return None, None
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
