"""Reductions: the ten Reduce* ops, ArgMax/ArgMin, TopK, CumSum.

FLOPs convention: one per *input* element for every reduction (each element is
accumulated or compared once; the final divide of ReduceMean and the square/exp of
ReduceSumSquare/ReduceLogSumExp are not counted separately), for ArgMax/ArgMin,
for TopK (one selection pass) and for CumSum / CumProd (one add or multiply per element).
A folded reduction (``numel = ReduceProd(Shape(x))``) is shape arithmetic and costs 0.
Axes / K / CumSum's axis are meta inputs.
"""

from __future__ import annotations

from functools import reduce as fold
from typing import Any, Callable, Collection, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from ..dims import Dim, add, format_shape, is_int, mul, prod
from .common import axes_operand, dims_from_value, normalize_axes, normalize_axis, tidy
from .context import NodeContext, ShapeError
from .registry import register

_REDUCE = ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
           "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")

# Folding shape vectors: numel = ReduceProd(Shape(x)) and friends.
_NUMERIC: Dict[str, Callable[..., Any]] = {"ReduceSum": np.sum, "ReduceProd": np.prod, "ReduceMax": np.max,
                                           "ReduceMin": np.min}
_SYMBOLIC: Dict[str, Tuple[Callable[[Dim, Dim], Dim], Dim]] = {"ReduceSum": (add, 0), "ReduceProd": (mul, 1)}


def reduced_shape(x: Sequence[Dim], axes: Collection[int], keepdims: bool) -> Tuple[Dim, ...]:
    return tuple(1 if i in axes else d for i, d in enumerate(x) if keepdims or i not in axes)


@register(*_REDUCE, meta_inputs=(1,))
def reduce_op(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    since = 13 if ctx.op_type == "ReduceSum" else 18
    requested: Optional[Sequence[Dim]] = axes_operand(ctx, 1, since=since)
    keepdims = bool(ctx.attr("keepdims", 1))
    if requested is None:
        if ctx.attr("noop_with_empty_axes", 0):
            ctx.set_output(0, x, value=ctx.value(0))
            ctx.set_cost(flops=0)
            return
        requested = range(len(x))
    axes = normalize_axes(requested, len(x))
    out = reduced_shape(x, axes, keepdims)
    ctx.set_output(0, out, value=_fold(ctx, axes, keepdims, out))
    folded = ctx.outputs[0] is not None and ctx.outputs[0].value is not None
    ctx.set_cost(flops=0 if folded else prod(x))
    if ctx.explaining:
        ctx.explain("shape", f"{format_shape(x)} reduced over axes {sorted(axes)}"
                             f"{' (kept as 1)' if keepdims else ''} → {format_shape(out)}")


# What a fold gives: an array, a numpy scalar (a numeric reduction to 0-d), or None.
_Folded = Union[npt.NDArray[Any], np.generic, None]


def _fold(ctx: NodeContext, axes: List[int], keepdims: bool, out: Sequence[Dim]) -> _Folded:
    value = ctx.value(0)
    if value is None or ctx.op_type not in _NUMERIC:
        return None
    if value.dtype != object:
        if value.size == 0:
            return None  # the empty-set identity of Max/Min is dtype-specific; keep the shape only
        reduced: _Folded = _NUMERIC[ctx.op_type](value, axis=tuple(axes), keepdims=keepdims)
        return reduced
    symbolic = _SYMBOLIC.get(ctx.op_type)
    sizes = [d for d in out if is_int(d)]
    if symbolic is None or len(sizes) != len(out):
        return None
    combine, start = symbolic
    kept = [i for i in range(value.ndim) if i not in axes]
    rows = np.transpose(value, kept + list(axes)).reshape(-1, int(prod(value.shape[a] for a in axes)))
    return tidy(np.array([fold(combine, row.tolist(), start) for row in rows], dtype=object)
                .reshape(sizes))


@register("ArgMax", "ArgMin")
def arg_reduce(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    axis = normalize_axis(int(ctx.attr("axis", 0)), len(x))
    out = reduced_shape(x, [axis], bool(ctx.attr("keepdims", 1)))
    ctx.set_output(0, out, "int64")
    ctx.set_cost(flops=prod(x))


@register("TopK", meta_inputs=(1,))
def top_k(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    axis = normalize_axis(int(ctx.attr("axis", -1)), len(x))
    if ctx.opset < 10:
        k = ctx.attr("k", None)
    else:
        values = dims_from_value(ctx.value(1))
        k = values[0] if values else None
    size = x[axis]
    if is_int(k) and is_int(size) and k > size:
        raise ShapeError(f"K = {k} exceeds axis size {size}")
    if k is None:   # K computed at run time: one symbol per K tensor, at most the axis size
        k = ctx.data_dependent(size, ctx.node.input[1])
    out = list(x)
    out[axis] = k
    ctx.set_output(0, out)
    ctx.set_output(1, out, "int64")
    ctx.set_cost(flops=prod(x))


@register("CumSum", "CumProd", meta_inputs=(1,))
def cum_sum(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    ctx.set_output(0, x)
    ctx.set_cost(flops=prod(x))
