"""Quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearConv,
ConvInteger (QLinearMatMul and MatMulInteger live with MatMul in linalg.py).

Parameters: the integer weight a DequantizeLinear reads IS a parameter, counted at
that DequantizeLinear (a QLinearConv / ConvInteger counts its own integer weight and
bias).  Scales and zero points are quantization metadata: they sit in ``meta_inputs``
and are never parameters.  The dequantized float tensor is derived, so the Conv or
MatMul reading it counts nothing more.  A float weight quantized inside the graph
(``W -> QuantizeLinear -> DequantizeLinear``) counts once, at the QuantizeLinear.

Cost: Quantize / Dequantize 2 FLOPs per element (scale, zero-point shift; rounding
and saturation free), DynamicQuantizeLinear 4 (a min/max pass, then quantize).
QLinearConv / ConvInteger cost what a Conv of the same shapes costs.
"""

from __future__ import annotations

from typing import Sequence

from ..dims import Dim, ceildiv, format_count, format_shape, is_int, mul, prod
from ..dtypes import dtype_name
from .common import normalize_axis
from .context import NodeContext, ShapeError
from .conv import conv_core
from .registry import register


def _check_scale(ctx: NodeContext, x: Sequence[Dim]) -> str:
    """Validate the scale's shape against ``axis`` / ``block_size``; name the granularity."""
    scale = ctx.shape_or_none(1)
    if scale is None or prod(scale) == 1 and len(scale) <= 1:
        return "per-tensor"
    axis = normalize_axis(int(ctx.attr("axis", 1)), len(x))
    block = int(ctx.attr("block_size", 0))
    if block > 0:
        expected = tuple(ceildiv(d, block) if i == axis else d for i, d in enumerate(x))
        granularity = f"blocks of {block} along axis {axis}"
    else:
        expected = (x[axis],)
        granularity = f"per-axis {axis}"
    if len(scale) != len(expected) or any(
            is_int(s) and is_int(e) and s != e for s, e in zip(scale, expected, strict=True)):
        raise ShapeError(f"scale {format_shape(scale)} does not fit {granularity} of {format_shape(x)}")
    return granularity


def _elementwise_cost(ctx: NodeContext, x: Sequence[Dim], per: int) -> None:
    flops = mul(per, prod(x))
    ctx.set_cost(flops=flops)


@register("QuantizeLinear", meta_inputs=(1, 2))
def quantize_linear(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    granularity = _check_scale(ctx, x)
    dtype = ctx.dtype(2) if ctx.has_input(2) else dtype_name(int(ctx.attr("output_dtype", 0))) or "uint8"
    ctx.set_output(0, x, dtype)
    _elementwise_cost(ctx, x, 2)
    if ctx.explaining:
        ctx.explain("shape", f"{granularity} quantization to {dtype}: shape unchanged {format_shape(x)}")


@register("DequantizeLinear", meta_inputs=(1, 2))
def dequantize_linear(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    granularity = _check_scale(ctx, x)
    dtype = dtype_name(int(ctx.attr("output_dtype", 0))) or ctx.dtype(1) or "float32"
    ctx.set_output(0, x, dtype)
    _elementwise_cost(ctx, x, 2)
    if ctx.explaining:
        weight = ctx.input(0)
        if weight.source:
            ctx.explain("params", f"{weight.dtype} weight {format_shape(x)} = {format_count(weight.size)} "
                                  f"(scale and zero point are metadata, not parameters)")
        ctx.explain("shape", f"{granularity} dequantization to {dtype}: shape unchanged {format_shape(x)}")


@register("DynamicQuantizeLinear")
def dynamic_quantize_linear(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    ctx.set_output(0, x, "uint8")
    ctx.set_output(1, (), "float32")  # y_scale
    ctx.set_output(2, (), "uint8")    # y_zero_point
    _elementwise_cost(ctx, x, 4)


@register("QLinearConv", meta_inputs=(1, 2, 4, 5, 6, 7))
def qlinear_conv(ctx: NodeContext) -> None:
    conv_core(ctx, x_slot=0, w_slot=3, b_slot=8, dtype=ctx.dtype(7) or ctx.dtype(0))


@register("ConvInteger", meta_inputs=(2, 3))
def conv_integer(ctx: NodeContext) -> None:
    conv_core(ctx, x_slot=0, w_slot=1, b_slot=None, dtype="int32")
