"""Ops that only rearrange elements: Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
Concat, Split, Expand, Tile, DepthToSpace, SpaceToDepth.

They cost no FLOPs.  Each folds its value when the input's value is known, so the
shape arithmetic PyTorch exports (``Shape -> Gather -> Unsqueeze -> Concat -> Reshape``)
stays exact, with symbolic dims (``N``) carried as ``dtype=object`` items.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

from ..dims import Dim, ceildiv, exact_div, floordiv, format_dim, format_shape, is_int, mul, prod, sub
from .common import (
    axes_operand,
    broadcast,
    dims_from_value,
    dims_text,
    explain_value,
    merge_dims,
    normalize_axes,
    normalize_axis,
    shape_like,
    tidy,
)
from .context import NodeContext, ShapeError, Unknown
from .registry import register


def _ints(dims: Sequence[Dim]) -> Optional[List[int]]:
    """``dims`` as a shape numpy takes when every one is a known int, else None."""
    ints = [d for d in dims if is_int(d)]
    return ints if len(ints) == len(dims) else None


def _moved(ctx: NodeContext, i: int, fn: Callable[[npt.NDArray[Any]], Any]) -> Optional[npt.NDArray[Any]]:
    """Apply a numpy rearrangement to input ``i``'s folded value, if it has one."""
    value = shape_like(ctx.value(i))
    if value is None:
        return None
    try:
        return tidy(np.asarray(fn(value)))
    except (ValueError, IndexError, TypeError):
        return None


@register("Reshape", meta_inputs=(1,))
def reshape(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape_or_none(0)
    target: Optional[Tuple[Dim, ...]]
    if ctx.opset < 5:
        target = tuple(ctx.attr("shape", []))
    else:
        target = dims_from_value(ctx.value(1))
    if target is None:
        length = ctx.shape(1)
        if len(length) != 1 or not is_int(length[0]):
            raise Unknown("target shape not known")
        ctx.set_output(0, (None,) * length[0])
        raise Unknown("target shape not known")
    allowzero = bool(ctx.attr("allowzero", 0))
    out: List[Dim] = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if x is None or i >= len(x):
                raise Unknown("0 copies an input dim that is not known")
            d = x[i]
        out.append(d)
    if sum(1 for d in out if d == -1) > 1:
        raise ShapeError(f"more than one -1 in shape {list(target)}")
    if -1 in out:
        axis = out.index(-1)
        rest = [d for d in out if d != -1]
        total = None if x is None else prod(x)
        out[axis] = exact_div(total, prod(rest))
        if ctx.explaining and x is not None:
            ctx.explain("shape", f"-1 = {dims_text(x)} / {dims_text(rest) or 1} = {format_dim(out[axis])}")
    elif x is not None and all(is_int(d) for d in (*x, *out)) and prod(x) != prod(out):
        raise ShapeError(f"cannot reshape {format_shape(x)} ({prod(x)} elements) into {list(out)}")
    sizes = _ints(out)
    value = None if sizes is None else _moved(ctx, 0, lambda v: v.reshape(sizes))
    ctx.set_output(0, out, value=value)


@register("Flatten")
def flatten(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    axis = int(ctx.attr("axis", 1))
    axis = axis + len(x) if axis < 0 else axis
    if not 0 <= axis <= len(x):
        raise ShapeError(f"axis {axis} out of range for rank {len(x)}")
    out = (prod(x[:axis]), prod(x[axis:]))
    sizes = _ints(out)
    value = None if sizes is None else _moved(ctx, 0, lambda v: v.reshape(sizes))
    ctx.set_output(0, out, value=value)
    if ctx.explaining:
        lead = dims_text(x[:axis]) or "1"
        ctx.explain("shape", f"{format_shape(x)} → ({lead}, {dims_text(x[axis:]) or '1'}) = {format_shape(out)}")


@register("Transpose")
def transpose(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    perm = ctx.attr("perm", None)
    perm = list(range(len(x)))[::-1] if not perm else normalize_axes(perm, len(x))
    if len(perm) != len(x):
        raise ShapeError(f"perm {perm} does not fit rank {len(x)}")
    ctx.set_output(0, [x[p] for p in perm], value=_moved(ctx, 0, lambda v: np.transpose(v, perm)))


@register("Squeeze", meta_inputs=(1,))
def squeeze(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    requested: Optional[Sequence[Dim]] = axes_operand(ctx, 1)
    if requested is None:
        if any(not is_int(d) for d in x):
            raise Unknown("Squeeze without axes on a non-numeric dim")
        requested = [i for i, d in enumerate(x) if d == 1]
    axes = normalize_axes(requested, len(x))
    for a in axes:
        if is_int(x[a]) and x[a] != 1:
            raise ShapeError(f"cannot squeeze axis {a} of size {x[a]}")
    out = [d for i, d in enumerate(x) if i not in axes]
    sizes = _ints(out)
    ctx.set_output(0, out, value=None if sizes is None else _moved(ctx, 0, lambda v: v.reshape(sizes)))


@register("Unsqueeze", meta_inputs=(1,))
def unsqueeze(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    requested = axes_operand(ctx, 1)
    if requested is None:
        raise ShapeError("Unsqueeze needs axes")
    rank = len(x) + len(requested)
    axes = normalize_axes(requested, rank)
    rest = iter(x)
    out = [1 if i in axes else next(rest) for i in range(rank)]
    sizes = _ints(out)
    value = None if sizes is None else _moved(ctx, 0, lambda v: v.reshape(sizes))
    ctx.set_output(0, out, value=value)
    explain_value(ctx)


@register("Concat")
def concat(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    shapes = [ctx.shape(i) for i in range(ctx.n_inputs) if ctx.has_input(i)]
    ranks = {len(s) for s in shapes}
    if len(ranks) != 1:
        raise ShapeError(f"inputs of different ranks: {sorted(ranks)}")
    rank = ranks.pop()
    axis = normalize_axis(int(ctx.attr("axis", 0)), rank)
    out: List[Dim] = []
    for i in range(rank):
        column = [s[i] for s in shapes]
        if i == axis:
            total = column[0]
            for d in column[1:]:
                total = None if total is None or d is None else total + d
            out.append(total)
        else:
            agreed = [d for d in column if is_int(d)]
            if len(set(agreed)) > 1:
                raise ShapeError(f"dim {i} differs between inputs: {agreed}")
            out.append(merge_dims(column))
    values = [shape_like(ctx.value(i)) for i in range(ctx.n_inputs) if ctx.has_input(i)]
    known = [v for v in values if v is not None]
    value = None
    if len(known) == len(values):
        symbolic = any(v.dtype == object for v in known)
        value = tidy(np.concatenate([v.astype(object) if symbolic else v for v in known], axis=axis))
    ctx.set_output(0, out, value=value)
    explain_value(ctx)
    if ctx.explaining and len(shapes) > 1 and value is None:
        ctx.explain("shape", f"axis {axis}: {' + '.join(format_dim(s[axis]) for s in shapes)} "
                             f"= {format_dim(out[axis])}")


@register("Split", meta_inputs=(1,))
def split(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    axis = normalize_axis(int(ctx.attr("axis", 0)), len(x))
    dim = x[axis]
    count = len(ctx.node.output)
    sizes: Optional[List[Dim]] = axes_operand(ctx, 1, "split")
    if sizes is None and ctx.has_attr("num_outputs"):
        parts = int(ctx.attr("num_outputs"))
        chunk = ceildiv(dim, parts)  # opset 18: chunks of ⌈dim/n⌉, the last one smaller
        sizes = [chunk] * (parts - 1) + [sub(dim, mul(chunk, parts - 1))]
    elif sizes is None:
        if is_int(dim) and dim % count:
            raise ShapeError(f"dim {dim} does not split into {count} equal parts")
        sizes = [floordiv(dim, count)] * count
    if len(sizes) != count:
        raise ShapeError(f"{len(sizes)} split sizes for {count} outputs")
    int_sizes = _ints(sizes)
    if is_int(dim) and int_sizes is not None and sum(int_sizes) != dim:
        raise ShapeError(f"split sizes {sizes} do not add up to {dim}")
    start: Dim = 0
    for i, size in enumerate(sizes):
        shape = list(x)
        shape[axis] = size
        value = None
        if is_int(start) and is_int(size):
            value = _moved(ctx, 0, functools.partial(np.take, indices=range(start, start + size), axis=axis))
        ctx.set_output(i, shape, value=value)
        start = None if start is None or size is None else start + size
    if ctx.explaining:
        ctx.explain("shape", f"axis {axis}: {format_dim(dim)} = {' + '.join(format_dim(s) for s in sizes)}")


@register("Expand", meta_inputs=(1,), scalar_literals=True)
def expand(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    target: Optional[Tuple[Dim, ...]] = dims_from_value(ctx.value(1))
    if target is None:
        length = ctx.shape(1)
        if len(length) != 1 or not is_int(length[0]):
            raise Unknown("target shape not known")
        target = (None,) * length[0]
    out = broadcast([x, target])
    sizes = None if out is None else _ints(out)  # (out is None only when an input shape is)
    value = None
    if sizes is not None:
        value = _moved(ctx, 0, lambda v: np.broadcast_to(v, sizes).copy())
    ctx.set_output(0, out, value=value)


@register("Tile", meta_inputs=(1, 2))
def tile(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    repeats: Optional[Sequence[Dim]] = dims_from_value(ctx.value(1))
    if ctx.opset < 6:  # Tile-1: input 1 is the tile count of the single axis input 2
        axis = dims_from_value(ctx.value(2))
        if repeats is None or axis is None:
            raise Unknown("tiles / axis not known")
        tiled = axis[0]
        if not is_int(tiled):
            raise ShapeError(f"Tile axis {format_dim(tiled)} is not an integer")
        repeats = [repeats[0] if i == normalize_axis(tiled, len(x)) else 1 for i in range(len(x))]
    if repeats is None:
        ctx.set_output(0, [d if d == 0 else None for d in x])
        raise Unknown("repeats not known")
    if len(repeats) != len(x):
        raise ShapeError(f"{len(repeats)} repeats for rank {len(x)}")
    out = [mul(d, r) for d, r in zip(x, repeats, strict=False)]
    reps = _ints(repeats)
    value = None if reps is None else _moved(ctx, 0, lambda v: np.tile(v, reps))
    ctx.set_output(0, out, value=value)


@register("DepthToSpace", "SpaceToDepth")
def depth_space(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    if len(x) != 4:
        raise ShapeError(f"{ctx.op_type} needs a 4-D input, got rank {len(x)}")
    b = int(ctx.attr("blocksize", 1))
    n, c, h, w = x
    if ctx.op_type == "DepthToSpace":
        out = (n, exact_div(c, b * b), mul(h, b), mul(w, b))
    else:
        out = (n, mul(c, b * b), exact_div(h, b), exact_div(w, b))
    for before, after in zip(x, out, strict=False):
        if before is not None and after is None:
            raise ShapeError(f"{format_shape(x)} is not divisible by blocksize {b}")
    ctx.set_output(0, out)
