"""Indexing ops: Slice, Gather, GatherElements, GatherND, the Scatter family (with
TensorScatter, the KV-cache update), Compress.

Indices, starts/ends/axes/steps are meta inputs (never parameters); Gather's data
input is not, so an embedding table read by Gather counts as the layer's weights.
All are data movement: zero FLOPs.  Gather and Slice fold small values, which is how
``Shape -> Gather`` picks a (possibly symbolic) dim out of a shape vector.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Union

import numpy as np

from ..dims import Dim, Expr, ceildiv, format_dim, is_int, min_dim, prod, sub
from .common import axes_operand, dims_from_value, explain_value, normalize_axes, normalize_axis, shape_like, tidy
from .context import NodeContext, ShapeError, Unknown
from .registry import register

# Ends at or beyond this mean "to the end" (exporters write INT_MAX or INT64_MAX).
HUGE = 2 ** 31 - 1


def slice_length(dim: Dim, start: Dim, end: Dim, step: int) -> Dim:
    """Elements that ``x[start:end:step]`` keeps from an axis of size ``dim``.

    Integer dims follow numpy/ONNX clamping exactly.  For a symbolic dim the bounds are
    taken to lie inside the axis (``x[:, 1:]`` of ``N`` is ``N - 1``, ``x[:, :3]`` is 3);
    a count that shrinks as the dim grows (``x[-2:3]``) is unknown.
    """
    if step == 0:
        raise ShapeError("slice step cannot be 0")
    if is_int(dim) and is_int(start) and is_int(end):
        # The spec's clamping (not Python's: a start below the axis with a negative step
        # clamps to 0 and still takes element 0).
        start, end = (b + dim if b < 0 else b for b in (start, end))
        if step > 0:
            start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        else:
            start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
        return max(0, -((start - end) // step))
    if dim is None or start is None or end is None:
        return None
    if step > 0:
        first = _position(dim, start, past_end=dim)
        stop = _position(dim, end, past_end=dim, before_start=0)
    else:
        first = _position(dim, start, past_end=sub(dim, 1))
        stop = _position(dim, end, past_end=sub(dim, 1), before_start=-1)
        first, stop, step = stop, first, -step  # count the same elements walking forwards
    if is_int(stop) and not is_int(first):
        return None  # the dim moves the first element, not the last: the count shrinks with it
    length = ceildiv(sub(stop, first), step)
    return max(0, length) if is_int(length) else length


def _position(dim: Union[int, Expr], bound: Dim, past_end: Dim, before_start: int = 0) -> Dim:
    if not is_int(bound):
        return bound
    if bound >= HUGE:
        return past_end
    if bound <= -HUGE:
        return before_start
    return dim + bound if bound < 0 else bound


@register("Slice", meta_inputs=(1, 2, 3, 4))
def slice_(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    starts: Optional[Sequence[Dim]]
    ends: Optional[Sequence[Dim]]
    axes: Optional[Sequence[Dim]]
    steps: Optional[Sequence[Dim]]
    if ctx.opset < 10:
        starts, ends = ctx.attr("starts", []), ctx.attr("ends", [])
        axes, steps = ctx.attr("axes", None), None
    else:
        starts, ends = dims_from_value(ctx.value(1)), dims_from_value(ctx.value(2))
        if starts is None or ends is None:
            ctx.set_output(0, [None] * len(x))
            raise Unknown("starts / ends not known")
        axes = axes_operand(ctx, 3, since=10)
        steps = axes_operand(ctx, 4, "steps", since=10)
    sliced = normalize_axes(axes if axes is not None else range(len(starts)), len(x))
    steps = steps or [1] * len(starts)
    if not len(starts) == len(ends) == len(sliced) == len(steps):
        raise ShapeError("starts, ends, axes and steps differ in length")
    int_steps = [s for s in steps if is_int(s)]
    if len(int_steps) != len(steps):
        raise Unknown("symbolic steps")
    out = list(x)
    index: Optional[List[slice]] = [slice(None)] * len(x)
    for axis, start, end, step in zip(sliced, starts, ends, int_steps, strict=False):
        out[axis] = slice_length(x[axis], start, end, step)
        if index is not None and is_int(start) and is_int(end):
            index[axis] = slice(start, end, step)
        else:
            index = None  # symbolic bounds: the shape is known, the value is not
    value = shape_like(ctx.value(0))
    if value is not None and index is not None:
        value = tidy(value[tuple(index)])
        if value is not None and tuple(value.shape) != tuple(out):
            value = None
    else:
        value = None
    ctx.set_output(0, out, value=value)
    explain_value(ctx)
    if ctx.explaining and value is None:
        for axis, start, end, step in zip(sliced, starts, ends, int_steps, strict=False):
            ctx.explain("shape", f"axis {axis}: {format_dim(x[axis])}[{format_dim(start)}:{format_dim(end)}"
                                 f":{step}] keeps {format_dim(out[axis])}")


@register("Gather", meta_inputs=(1,))
def gather(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    data = ctx.shape(0)
    indices = ctx.shape(1)
    axis = normalize_axis(int(ctx.attr("axis", 0)), len(data))
    out = (*data[:axis], *indices, *data[axis + 1:])
    value = None
    index = ctx.value(1)
    # Fold picks out of shape vectors (rank <= 1); a gathered table is data, not shape arithmetic.
    table = shape_like(ctx.value(0))
    if len(data) <= 1 and table is not None and index is not None and index.dtype != object:
        try:
            value = tidy(np.take(table, index.astype(np.int64), axis=axis))
        except (IndexError, TypeError, ValueError):
            raise ShapeError("index out of range") from None
    ctx.set_output(0, out, value=value)
    explain_value(ctx)


@register("GatherElements", meta_inputs=(1,))
def gather_elements(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    data, indices = ctx.shape(0), ctx.shape(1)
    if len(data) != len(indices):
        raise ShapeError(f"data rank {len(data)} != indices rank {len(indices)}")
    ctx.set_output(0, indices)


@register("GatherND", meta_inputs=(1,))
def gather_nd(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    data, indices = ctx.shape(0), ctx.shape(1)
    batch = int(ctx.attr("batch_dims", 0))
    depth = indices[-1] if indices else None
    if not is_int(depth):
        raise Unknown("index depth not known")
    if batch + depth > len(data):
        raise ShapeError(f"index depth {depth} + batch_dims {batch} exceeds data rank {len(data)}")
    ctx.set_output(0, (*indices[:-1], *data[batch + depth:]))


@register("TensorScatter", meta_inputs=(2,))
@register("ScatterND", "ScatterElements", "Scatter", meta_inputs=(1,))
def scatter(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    ctx.set_output(0, ctx.shape(0))


@register("Compress", meta_inputs=(1,))
def compress(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    condition = ctx.value(1)
    kept: Dim = None if condition is None else int(np.count_nonzero(condition))
    axis = ctx.attr("axis", None)
    size = prod(x) if axis is None else x[normalize_axis(int(axis), len(x))]
    if kept is None:   # a run-time condition: at most the slices (elements) it selects from
        length = ctx.shape_or_none(1)
        bound = size if length is None or len(length) != 1 else min_dim(size, length[0])
        kept = ctx.data_dependent(size if bound is None else bound, ctx.node.input[1], size)
    if axis is None:
        ctx.set_output(0, (kept,))
    else:
        out = list(x)
        out[normalize_axis(int(axis), len(x))] = kept
        ctx.set_output(0, out)
