"""Normalisations: BatchNormalization, Instance/Layer/Group normalisation, LRN, MVN.

Parameters: every constant scale, bias, running mean and running variance counts
(Keras also counts BatchNorm's moving statistics, as non-trainable parameters).

Cost convention (FLOPs per input element; no MACs):

* BatchNormalization at inference: 2 (the folded scale and shift).
* Normalisations that compute their statistics -- Layer/Instance/Group norm,
  MeanVarianceNormalization, BatchNormalization in training mode: 5 (one add for the
  mean, square and add for the variance, the fused scale and shift); the per-group
  square roots and divisions are ignored.
* LRN: ``2·size + 3`` (square and add over the window, then scale, power, divide).
"""

from __future__ import annotations

from typing import Sequence

from ..dims import Dim, format_count, format_dim, format_shape, is_int, mul, prod, sum_dims
from ..dtypes import dtype_name
from .common import dims_text, normalize_axis
from .context import NodeContext, ShapeError
from .registry import register

STATISTICS_FLOPS = 5


def per_element_cost(ctx: NodeContext, x: Sequence[Dim], per: int, why: str) -> None:
    """``per`` FLOPs for each element of ``x`` (no multiply-accumulates), with the formula."""
    flops = mul(per, prod(x))
    ctx.set_cost(flops=flops)
    if ctx.explaining:
        ctx.explain("flops", f"FLOPs = {per}·elements ({why}) = {dims_text([per, *x])} = "
                             f"{format_count(flops)}")


@register("BatchNormalization")
def batch_norm(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    if len(x) < 2:
        raise ShapeError(f"input rank {len(x)} has no channel axis")
    ctx.set_output(0, x)
    stats = ctx.shape_or_none(1) or (x[1],)  # (C,); (C, D1, ...) with the old spatial=0
    for i in range(1, len(ctx.outputs)):  # running / saved mean and variance
        ctx.set_output(i, stats, ctx.dtype(3) or ctx.dtype(0))
    training = any(ctx.node.output[1:]) or bool(ctx.attr("training_mode", 0))
    if ctx.opset < 7 and ctx.attr("is_test", 0):
        training = False
    if ctx.explaining:
        weights = [t for t in ctx.inputs[1:5] if t is not None and t.source and is_int(t.size)]
        if weights:
            ctx.explain("params", f"{len(weights)}·C = {len(weights)}·{format_dim(x[1])} = "
                                  f"{format_count(sum_dims(t.size for t in weights))} (scale γ, bias β, "
                                  f"running mean and variance)")
    if training:
        per_element_cost(ctx, x, STATISTICS_FLOPS, "training: batch statistics, then scale and shift")
    else:
        per_element_cost(ctx, x, 2, "scale and shift")


@register("InstanceNormalization", "GroupNormalization", "MeanVarianceNormalization")
def statistics_norm(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    if ctx.op_type != "MeanVarianceNormalization" and len(x) < 2:
        raise ShapeError(f"input rank {len(x)} has no channel axis")
    ctx.set_output(0, x)
    per_element_cost(ctx, x, STATISTICS_FLOPS, "mean, variance, scale and shift")


@register("LayerNormalization")
def layer_norm(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    axis = normalize_axis(int(ctx.attr("axis", -1)), len(x))
    ctx.set_output(0, x)
    stats = tuple(x[:axis]) + (1,) * (len(x) - axis)
    stash = dtype_name(int(ctx.attr("stash_type", 1)))
    ctx.set_output(1, stats, stash)  # Mean
    ctx.set_output(2, stats, stash)  # InvStdDev
    if ctx.explaining:
        ctx.explain("shape", f"statistics over axes {axis}..{len(x) - 1}: Mean and InvStdDev are "
                             f"{format_shape(stats)}")
    per_element_cost(ctx, x, STATISTICS_FLOPS, "mean, variance, scale and shift")


@register("LRN")
def lrn(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    size = int(ctx.attr("size", 0))
    if size <= 0:
        raise ShapeError("LRN needs a positive size")
    ctx.set_output(0, x)
    per_element_cost(ctx, x, 2 * size + 3, f"2·size + 3 with size {size}")
