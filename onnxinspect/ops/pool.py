"""Pools: MaxPool, AveragePool, LpPool, their Global forms, MaxRoiPool and RoiAlign.

Cost convention: one FLOP per window element per output element (a compare for max,
an add for average, a power-and-add for Lp), so a pool costs kernel volume × output
elements and a global pool costs one FLOP per input element.  Pools have no MACs.
``count_include_pad`` changes values, never shapes.  MaxRoiPool windows depend on the
ROI values, so its cost is unknown; RoiAlign costs 4 FLOPs (a bilinear sample) per
sampling point, ``sampling_ratio²`` points per output bin (unknown when adaptive).
"""

from __future__ import annotations

from ..dims import Dim, format_count, is_int, mul, prod
from .common import dims_text
from .context import NodeContext, ShapeError
from .registry import register
from .windows import SAME, WindowAttrs, spatial_outputs


@register("MaxPool", "AveragePool", "LpPool")
def pool(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    kernel = ctx.attr("kernel_shape", None)
    if not kernel:
        raise ShapeError("kernel_shape is required")
    spatial = len(kernel)
    if len(x) != spatial + 2:
        raise ShapeError(f"input rank {len(x)} does not fit a {spatial}-D kernel")
    attrs = WindowAttrs(ctx, kernel, spatial)
    if attrs.auto_pad in SAME and any(d > 1 and k > 1 for d, k in zip(attrs.dilations, kernel, strict=True)):
        ctx.warn(f"node {ctx.node.name or ctx.node.output[0]} ({ctx.op_type}): dilated {attrs.auto_pad} "
                 f"pool; the spec (followed "
                 f"here) gives ⌈input/stride⌉, onnxruntime pads for the undilated kernel and "
                 f"produces a smaller output")
    out_spatial, formulas = spatial_outputs(x[2:], attrs, ctx.explaining)
    out = (x[0], x[1], *out_spatial)
    ctx.set_output(0, out)
    ctx.set_output(1, out, "int64")  # MaxPool's Indices
    volume = prod(kernel)
    flops = mul(volume, prod(out))
    ctx.set_cost(macs=0 if flops is not None else None, flops=flops)
    if ctx.explaining:
        for formula in formulas:
            ctx.explain("shape", formula)
        ctx.explain("flops", f"FLOPs = kernel·output = {dims_text([*kernel, *out])} = {format_count(flops)}")


@register("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    if len(x) < 2:
        raise ShapeError(f"input rank {len(x)} has no channel axis")
    ctx.set_output(0, (x[0], x[1]) + (1,) * (len(x) - 2))
    flops = prod(x)
    ctx.set_cost(macs=0 if flops is not None else None, flops=flops)
    if ctx.explaining:
        ctx.explain("shape", f"every spatial axis pools to 1: {dims_text(x[2:], '×')} → "
                             f"{'×'.join('1' for _ in x[2:])}")
        ctx.explain("flops", f"FLOPs = input elements = {format_count(flops)}")


def _rois(ctx: NodeContext, columns: int) -> Dim:
    rois = ctx.shape(1)
    if len(rois) != 2 or (is_int(rois[1]) and rois[1] != columns):
        raise ShapeError(f"rois must be (num_rois, {columns}), got {rois}")
    return rois[0]


@register("MaxRoiPool", meta_inputs=(1,))
def max_roi_pool(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    pooled = ctx.attr("pooled_shape", None)
    if not pooled or len(pooled) != 2 or len(x) != 4:
        raise ShapeError("MaxRoiPool needs a 4-D input and a 2-value pooled_shape")
    ctx.set_output(0, (_rois(ctx, 5), x[1], *pooled))
    # No cost: each window's size depends on the ROI values.


@register("RoiAlign", meta_inputs=(1, 2))
def roi_align(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    if len(x) != 4:
        raise ShapeError(f"RoiAlign needs a 4-D input, got rank {len(x)}")
    out = (_rois(ctx, 4), x[1], int(ctx.attr("output_height", 1)), int(ctx.attr("output_width", 1)))
    ctx.set_output(0, out)
    ratio = int(ctx.attr("sampling_ratio", 0))
    if ratio > 0:  # adaptive sampling (0) depends on the ROI sizes: cost unknown
        ctx.set_cost(macs=0, flops=mul(4, ratio * ratio, prod(out)))
