"""Small helpers shared by the rule families: broadcasting, axes, folding."""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from ..context import ShapeError
from ..dims import Dim, is_int


def normalize_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"axis {axis} out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def broadcast_dims(a: Dim, b: Dim) -> Dim:
    """Numpy broadcasting of two dims; unknown stays unknown unless the other is > 1."""
    if a == 1:
        return b
    if b == 1:
        return a
    if a is None:
        return b if is_int(b) else None
    if b is None:
        return a if is_int(a) else None
    if a == b:
        return a
    if is_int(a) and is_int(b):
        raise ShapeError(f"cannot broadcast dims {a} and {b}")
    # A symbol against a fixed size > 1: the model only runs if they agree.
    if is_int(a):
        return a
    if is_int(b):
        return b
    return None


def broadcast(shapes: Sequence[Optional[tuple]]) -> Optional[tuple]:
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    out: List[Dim] = [1] * rank
    for shape in shapes:
        padded = (1,) * (rank - len(shape)) + tuple(shape)
        out = [broadcast_dims(x, y) for x, y in zip(out, padded)]
    return tuple(out)


def as_dim(v) -> Dim:
    """A folded scalar as a dim: numpy ints become Python ints."""
    if isinstance(v, (np.integer, np.bool_)):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def dims_from_value(value: Optional[np.ndarray]) -> Optional[tuple]:
    """A 1-D folded shape tensor as a tuple of dims (``-1`` and ``0`` kept as-is)."""
    if value is None:
        return None
    return tuple(as_dim(v) for v in np.asarray(value).reshape(-1).tolist())


def is_symbolic(value: np.ndarray) -> bool:
    return value.dtype == object
