"""Small helpers shared by the rule families: broadcasting, axes, folding."""

from __future__ import annotations

from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union, cast, overload

import numpy as np
import numpy.typing as npt

from ..dims import Dim, format_dim, is_int
from ..tensors import Shape
from .context import NodeContext, ShapeError, Unknown


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


@overload
def broadcast(shapes: Sequence[Sequence[Dim]]) -> Tuple[Dim, ...]: ...
@overload
def broadcast(shapes: Sequence[Optional[Sequence[Dim]]]) -> Shape: ...
def broadcast(shapes: Sequence[Optional[Sequence[Dim]]]) -> Shape:
    """Numpy broadcasting of shapes; ``None`` (unknown) when any of them is."""
    if any(s is None for s in shapes):
        return None
    known = cast(Sequence[Sequence[Dim]], shapes)  # (none is None: checked above)
    if known and all(s == known[0] for s in known):
        return tuple(known[0])  # what the pairwise rule gives for equal shapes, without the loop
    rank = max((len(s) for s in known), default=0)
    out: List[Dim] = [1] * rank
    for shape in known:
        padded: Tuple[Dim, ...] = (1,) * (rank - len(shape)) + tuple(shape)
        out = [broadcast_dims(x, y) for x, y in zip(out, padded, strict=True)]  # both of length rank
    return tuple(out)


def as_dim(v: object) -> Dim:
    """A folded scalar as a dim: numpy ints become Python ints."""
    if isinstance(v, (np.integer, np.bool_)):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return cast(Dim, v)  # an int, Expr or None as it is (a non-integral float passes through too)


def dims_from_value(value: Optional[npt.NDArray[Any]]) -> Shape:
    """A 1-D folded shape tensor as a tuple of dims (``-1`` and ``0`` kept as-is)."""
    if value is None:
        return None
    return tuple(as_dim(v) for v in np.asarray(value).reshape(-1).tolist())


def normalize_axes(axes: Sequence[Dim], rank: int) -> List[int]:
    """Non-negative, duplicate-checked axes.  (A folded operand holds dims: ``int()``
    raises ``TypeError`` on a symbolic or unknown one.)"""
    out = [normalize_axis(int(a), rank) for a in axes]  # type: ignore[arg-type]  # see the docstring
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated axis in {list(axes)}")
    return out


def axes_operand(ctx: NodeContext, input_index: int, attr: str = "axes", since: int = 13) -> Optional[List[Dim]]:
    """Axes (or split, pads, ...) given as an attribute before opset ``since`` and as
    input ``input_index`` from then on; ``None`` when absent or empty.

    Raises :class:`Unknown` when the input is present but not a known constant.
    """
    if ctx.opset < since or not ctx.has_input(input_index):
        # (from ``since`` on tolerated too: some exporters keep the attribute form)
        values = ctx.attr(attr, None)
        return None if values is None or len(values) == 0 else [int(v) for v in values]
    value = ctx.value(input_index)
    if value is None:
        shape = ctx.shape_or_none(input_index)
        if shape is not None and shape == (0,):
            return None
        raise Unknown(f"{attr} operand is not a known constant")
    if value.size == 0:
        return None
    return [as_dim(v) for v in value.reshape(-1).tolist()]


def fold_array(items: Union[npt.NDArray[Any], Iterable[object]],
               shape: Union[int, Sequence[int], None] = None) -> npt.NDArray[Any]:
    """Folded dims as a value: int64, or dtype=object when any item is symbolic."""
    flat = [as_dim(v) for v in (items.reshape(-1).tolist() if isinstance(items, np.ndarray) else items)]
    if any(v is None for v in flat):
        raise ValueError("unknown dim in a folded value")
    if all(is_int(v) for v in flat):
        out: npt.NDArray[Any] = np.array(flat, dtype=np.int64)
    else:
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
    return out if shape is None else out.reshape(shape)


def tidy(value: object) -> Optional[npt.NDArray[Any]]:
    """An object array whose items all turned out to be ints becomes int64; a bare item
    (numpy indexing an object array returns the ``Expr`` itself) becomes a 0-d array."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        array: npt.NDArray[Any] = value
    else:
        array = np.empty((), dtype=object)
        array[()] = value
    if array.dtype != object:
        return array
    try:
        return fold_array(array, array.shape)
    except (ValueError, TypeError):
        return None


def merge_dims(dims: Sequence[Dim]) -> Dim:
    """Dims that must agree (Concat's non-axis dims): the most specific one."""
    known = [d for d in dims if d is not None]
    for d in known:
        if is_int(d):
            return d
    return known[0] if known else None


def dim_text(d: Dim) -> str:
    """A dim inside a formula: ``N + 1`` in parentheses, so ``2·(N + 1)`` reads right."""
    text = format_dim(d)
    return f"({text})" if " " in text else text


def dims_text(dims: Sequence[Dim], sep: str = "·") -> str:
    return sep.join(dim_text(d) for d in dims)


def explain_value(ctx: NodeContext) -> None:
    """Under ``--explain``, show a folded shape value (``value = [N, -1]``): how a
    Reshape / Expand / Resize target was assembled."""
    out = ctx.outputs[0] if ctx.outputs else None
    if not ctx.explaining or out is None or out.value is None or out.value.size > 8:
        return
    items = [format_dim(as_dim(v)) for v in out.value.reshape(-1).tolist()]
    ctx.explain("shape", f"value = {items[0] if out.value.ndim == 0 else '[' + ', '.join(items) + ']'}")


# Folded values that rearranging ops carry on: shape vectors (int64 / int32), masks,
# float scales, symbolic dims.  Small int8 / uint8 payloads are quantized weights: moving
# them is not shape arithmetic, and folding would hide them from the parameter count.
_SHAPE_KINDS = frozenset({np.dtype(np.int64), np.dtype(np.int32), np.dtype(bool), np.dtype(object)})


def shape_like(value: Optional[npt.NDArray[Any]]) -> Optional[npt.NDArray[Any]]:
    """``value`` when a data-movement rule may fold it, else ``None``."""
    if value is None:
        return None
    return value if value.dtype in _SHAPE_KINDS or np.issubdtype(value.dtype, np.floating) else None
