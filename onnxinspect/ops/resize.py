"""Pad, Resize and Upsample: ops whose output size is the input size changed per axis.

``pads``, ``roi``, ``scales``, ``sizes`` and Pad's ``constant_value`` are meta inputs:
the fill value is a setting, not a learned weight.

FLOPs: Pad and nearest-neighbour resizing only copy (0).  Linear interpolation over
``k`` resized axes blends ``2^k`` neighbours per output element (``2^k`` multiplies,
``2^k - 1`` adds: ``2^(k+1) - 1`` FLOPs); cubic blends ``4^k`` (``2·4^k - 1``).
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence

from ..dims import Dim, add, floordiv, format_dim, format_shape, is_int, mul, prod
from .common import as_dim, axes_operand, normalize_axes
from .context import NodeContext, ShapeError, Unknown
from .registry import register


@register("Pad", meta_inputs=(1, 2, 3))
def pad(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    rank = len(x)
    pads: List[Dim]
    if ctx.opset < 11:
        pads = list(ctx.attr("pads", None) or ctx.attr("paddings", None) or [])
        axes = list(range(rank))
    else:
        pads = axes_operand(ctx, 1, "pads", since=11) or []
        requested = axes_operand(ctx, 3, since=18) if ctx.opset >= 18 else None
        axes = list(range(rank)) if requested is None else normalize_axes(requested, rank)
    if len(pads) != 2 * len(axes):
        raise ShapeError(f"{len(pads)} pads for {len(axes)} axes")
    out = list(x)
    for i, axis in enumerate(axes):
        size = out[axis] = add(x[axis], pads[i], pads[i + len(axes)])
        if is_int(size) and size < 0:
            raise ShapeError(f"pads {pads} make axis {axis} negative")
    ctx.set_output(0, out)
    ctx.set_cost(flops=0)
    if ctx.explaining:
        ctx.explain("shape", f"{format_shape(x)} + pads {pads} → {format_shape(out)}")


def _present(ctx: NodeContext, i: int) -> Optional[List[Any]]:
    """Input ``i``'s folded value as a flat list; ``None`` when absent or empty."""
    if not ctx.has_input(i):
        return None
    value = ctx.value(i)
    if value is None:
        if ctx.shape_or_none(i) == (0,):
            return None
        raise Unknown(f"input {i} is not a known constant")
    return None if value.size == 0 else value.reshape(-1).tolist()


def scaled(dim: Dim, scale: float) -> Dim:
    """``floor(dim · scale)``; a symbolic dim for whole-number scales and exact ``1/k``."""
    if is_int(dim):
        return int(math.floor(dim * scale + 1e-9))
    if dim is None or scale <= 0:
        return None
    if float(scale).is_integer():
        return mul(dim, int(scale))
    k = round(1 / scale)
    return floordiv(dim, k) if k > 1 and 1 / k == scale else None


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


@register("Resize", meta_inputs=(1, 2, 3))
def resize(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    rank = len(x)
    if ctx.opset < 11:
        scales, sizes = _present(ctx, 1), None
    else:
        scales, sizes = _present(ctx, 2), _present(ctx, 3)
    axes = ctx.attr("axes", None)
    axes = list(range(rank)) if not axes else normalize_axes(axes, rank)
    out = list(x)
    if sizes is not None:
        if len(sizes) != len(axes):
            raise ShapeError(f"{len(sizes)} sizes for {len(axes)} axes")
        sizes = [as_dim(s) for s in sizes]
        policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
        if policy in ("not_larger", "not_smaller") and all(is_int(x[a]) for a in axes):
            ratios = [s / x[a] for s, a in zip(sizes, axes, strict=False)]
            scale = min(ratios) if policy == "not_larger" else max(ratios)
            sizes = [_round_half_up(scale * x[a]) for a in axes]
        elif policy != "stretch":
            raise Unknown("aspect-ratio policy on symbolic dims")
        for a, s in zip(axes, sizes, strict=False):
            out[a] = s
        how = f"sizes [{', '.join(format_dim(s) for s in sizes)}]"
    elif scales is not None:
        if len(scales) != len(axes):
            raise ShapeError(f"{len(scales)} scales for {len(axes)} axes")
        for a, s in zip(axes, scales, strict=False):
            out[a] = scaled(x[a], float(s))
        how = "⌊dim·scale⌋ with scales " + ", ".join(f"{float(s):g}" for s in scales)
    else:
        raise ShapeError("Resize needs scales or sizes")
    ctx.set_output(0, out)
    _resize_cost(ctx, x, out, ctx.attr("mode", "nearest"))
    if ctx.explaining:
        ctx.explain("shape", f"{format_shape(x)} → {format_shape(out)} ({how})")


@register("Upsample", meta_inputs=(1,))
def upsample(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    if ctx.opset < 9:
        scales = ctx.attr("scales", None)
        if scales is None:  # Upsample-1: height_scale / width_scale on NCHW
            scales = [1.0, 1.0, ctx.attr("height_scale", 1.0), ctx.attr("width_scale", 1.0)]
    else:
        scales = _present(ctx, 1)
    if scales is None or len(scales) != len(x):
        raise ShapeError(f"Upsample needs {len(x)} scales")
    out = [scaled(d, float(s)) for d, s in zip(x, scales, strict=False)]
    ctx.set_output(0, out)
    _resize_cost(ctx, x, out, ctx.attr("mode", "nearest"))


def _resize_cost(ctx: NodeContext, x: Sequence[Dim], out: Sequence[Dim], mode: str) -> None:
    if mode == "nearest":
        ctx.set_cost(flops=0)
        return
    if any(d is None for d in (*x, *out)):
        return
    k = sum(1 for a, b in zip(x, out, strict=False) if a != b)
    base = 4 if mode == "cubic" else 2
    per_element = 2 * base ** k - 1 if k else 0
    ctx.set_cost(flops=mul(per_element, prod(out)))
