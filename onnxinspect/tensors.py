"""What the walker knows about one tensor: dtype, shape, and (when folded) its value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from .dims import Dim, prod, shape_to_json

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

    def to_dict(self) -> dict:
        # A tensor is written once per reader: its shape's JSON is kept with the shape it came from.
        shape = self.shape
        cached = self.__dict__.get("_shape_json")
        if cached is None or cached[0] is not shape:
            cached = self._shape_json = (shape, shape_to_json(shape))
        dims = cached[1]
        return {"name": self.name, "dtype": self.dtype, "shape": None if dims is None else list(dims)}
