"""Conv and ConvTranspose (and the shared core QLinearConv / ConvInteger reuse).

Parameters (as the article counts them): a Conv with ``Cin`` input maps, ``Cout``
output maps, ``group`` groups and a ``k1 x k2`` kernel learns
``(k1·k2·Cin/group + 1)·Cout`` numbers, the ``+ 1`` being the bias.

Cost (one multiply-accumulate = 1 MAC = 2 FLOPs):

* Conv: MACs = N · Cout · out_spatial · (Cin/group) · kernel volume; FLOPs = 2·MACs,
  plus one FLOP per output element for the bias when there is one.
* ConvTranspose scatters every *input* element through the kernel:
  MACs = N · Cin · in_spatial · (Cout/group) · kernel volume (input-based, not
  output-based: an output-based count is wrong by stride²), FLOPs = 2·MACs + bias.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from ..dims import Dim, format_count, format_dim, is_int, mul, prod
from .common import dims_text
from .context import NodeContext, ShapeError
from .registry import register
from .windows import SAME, WindowAttrs, axis_names, spatial_outputs, transpose_output, transpose_same_output


def _kernel(ctx: NodeContext, weight_shape: Sequence[Dim]) -> List[Dim]:
    kernel = ctx.attr("kernel_shape", None)
    if kernel:
        return list(kernel)
    return list(weight_shape[2:])


def _params_line(ctx: NodeContext, w_slot: int, b_slot: Optional[int], kernel: Sequence[Dim], group: int, cin: Dim,
                 cout: Dim, transpose: bool) -> None:
    """`(3·3·32/1 + 1)·64 = 18,496` for Conv, `2·2·512·256/1 + 256 = ...` for ConvTranspose."""
    weight = ctx.input(w_slot) if ctx.has_input(w_slot) else None
    bias = ctx.inputs[b_slot] if b_slot is not None and ctx.has_input(b_slot) else None
    has_w = weight is not None and weight.source
    has_b = bias is not None and bias.source
    total = sum(t.size for t in (weight, bias) if t is not None and t.source and is_int(t.size))
    k = dims_text(kernel)
    if not has_w and not has_b:
        ctx.explain("params", "0 here: the weights are computed by upstream nodes")
        return
    if not has_w:
        text = f"{format_dim(cout)} (bias only: the kernel is computed upstream)"
    elif transpose:
        text = f"{k}·{format_dim(cin)}·{format_dim(cout)}/{group}"
        text += f" + {format_dim(cout)}" if has_b else ""
    elif has_b:
        text = f"({k}·{format_dim(cin)}/{group} + 1)·{format_dim(cout)}"
    else:
        text = f"{k}·{format_dim(cin)}/{group}·{format_dim(cout)}"
    ctx.explain("params", f"{text} = {format_count(total)}")


def _check(ctx: NodeContext, x: Sequence[Dim], w: Sequence[Dim], op: str) -> int:
    if len(x) < 3 or len(w) != len(x):
        raise ShapeError(f"input rank {len(x)} and weight rank {len(w)} do not fit a {op}")
    group = int(ctx.attr("group", 1))
    if group <= 0:
        raise ShapeError(f"group must be positive, got {group}")
    return group


def _flops(macs: Dim, bias_flops: Dim) -> Dim:
    if macs is None or bias_flops is None:
        return None
    return mul(2, macs) + bias_flops


def conv_core(ctx: NodeContext, x_slot: int = 0, w_slot: int = 1, b_slot: Optional[int] = 2,
              dtype: Optional[str] = None) -> None:
    """The Conv rule on whichever slots hold X, W and B (QLinearConv moves them;
    ConvInteger has no B); ``dtype`` overrides the output type."""
    x = ctx.shape(x_slot)
    w = ctx.shape(w_slot)
    group = _check(ctx, x, w, ctx.op_type)
    spatial = len(x) - 2
    kernel = _kernel(ctx, w)
    attrs = WindowAttrs(ctx, kernel, spatial)
    cout, cin = w[0], x[1]
    if is_int(cin) and is_int(w[1]) and cin != w[1] * group:
        raise ShapeError(f"input has {cin} channels but the weight expects {w[1]}·{group}")
    if is_int(cout) and cout % group:
        raise ShapeError(f"{cout} output channels do not split into {group} groups")
    out_spatial, formulas = spatial_outputs(x[2:], attrs, ctx.explaining)
    out = (x[0], cout, *out_spatial)
    ctx.set_output(0, out, ctx.dtype(x_slot) if dtype is None else dtype)

    has_bias = b_slot is not None and ctx.has_input(b_slot)
    out_volume = prod(out)
    macs = mul(out_volume, w[1], prod(kernel))
    ctx.set_cost(macs=macs, flops=_flops(macs, out_volume if has_bias else 0))

    if ctx.explaining:
        _params_line(ctx, w_slot, b_slot, kernel, group, cin if cin is not None else mul(w[1], group),
                     cout, transpose=False)
        for formula in formulas:
            ctx.explain("shape", formula)
        names = "·".join(axis_names(spatial))
        ctx.explain("flops", f"MACs = N·Cout·{names}(output)·(Cin/group)·kernel = "
                             f"{dims_text([*out, w[1], *kernel])} = {format_count(macs)}; "
                             f"FLOPs = 2·MACs{' + bias' if has_bias else ''} = {format_count(ctx.flops)}")


@register("Conv")
def conv(ctx: NodeContext) -> None:
    conv_core(ctx)


def _transpose_spatial(ctx: NodeContext, x: Sequence[Dim], kernel: Sequence[Dim], attrs: WindowAttrs,
                       spatial: int) -> Tuple[List[Dim], List[str]]:
    names = axis_names(spatial)
    output_padding = list(ctx.attr("output_padding", None) or [0] * spatial)
    output_shape = ctx.attr("output_shape", None)
    if len(output_padding) != spatial:
        raise ShapeError(f"output_padding has {len(output_padding)} values, expected {spatial}")
    if output_shape:
        if len(output_shape) not in (spatial, spatial + 2):
            raise ShapeError(f"output_shape has {len(output_shape)} values, expected {spatial}")
        given: List[Dim] = list(output_shape[-spatial:])  # spatial >= 1 (_check): as many as names
        return given, [f"{n}: output_shape attribute gives {d}" for n, d in zip(names, given, strict=True)]
    pads = attrs.pads if attrs.auto_pad == "NOTSET" else [0] * (2 * spatial)
    out: List[Dim] = []
    formulas: List[str] = []
    for i, name in enumerate(names):
        if attrs.auto_pad in SAME:
            size, formula = transpose_same_output(x[2 + i], kernel[i], attrs.strides[i], attrs.dilations[i],
                                                  output_padding[i], attrs.auto_pad)
        else:
            size, formula = transpose_output(x[2 + i], kernel[i], attrs.strides[i], attrs.dilations[i],
                                             pads[i], pads[i + spatial], output_padding[i])
        out.append(size)
        formulas.append(f"{name}: {formula}")
    return out, formulas


@register("ConvTranspose")
def conv_transpose(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    w = ctx.shape(1)
    group = _check(ctx, x, w, "ConvTranspose")
    spatial = len(x) - 2
    kernel = _kernel(ctx, w)
    attrs = WindowAttrs(ctx, kernel, spatial)
    if is_int(x[1]) and is_int(w[0]) and x[1] != w[0]:
        raise ShapeError(f"input has {x[1]} channels but the weight expects {w[0]}")
    cout = mul(w[1], group)
    out_spatial, formulas = _transpose_spatial(ctx, x, kernel, attrs, spatial)
    out = (x[0], cout, *out_spatial)
    ctx.set_output(0, out)

    has_bias = ctx.has_input(2)
    macs = mul(prod(x), w[1], prod(kernel))
    ctx.set_cost(macs=macs, flops=_flops(macs, prod(out) if has_bias else 0))

    if ctx.explaining:
        _params_line(ctx, 1, 2, kernel, group, x[1] if x[1] is not None else w[0], cout, transpose=True)
        for formula in formulas:
            ctx.explain("shape", formula)
        names = "·".join(axis_names(spatial))
        ctx.explain("flops", f"MACs = N·Cin·{names}(input)·(Cout/group)·kernel = "
                             f"{dims_text([*x, w[1], *kernel])} = {format_count(macs)}; "
                             f"FLOPs = 2·MACs{' + bias' if has_bias else ''} = {format_count(ctx.flops)}")
