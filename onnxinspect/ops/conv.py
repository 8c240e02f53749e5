"""Conv and ConvTranspose.

Parameters (as the article counts them): a Conv with ``Cin`` input maps, ``Cout``
output maps, ``group`` groups and a ``k1 x k2`` kernel learns
``(k1·k2·Cin/group + 1)·Cout`` numbers, the ``+ 1`` being the bias.
Cost: MACs = N · Cout · out_spatial · (Cin/group) · kernel volume, plus one FLOP per
output element for the bias.  ConvTranspose scatters every *input* element through
the kernel: MACs = N · Cin · in_spatial · (Cout/group) · kernel volume.
"""

from __future__ import annotations

from ..context import NodeContext, ShapeError
from ..dims import Dim, format_count, format_dim, is_int, mul, prod
from .registry import register
from .windows import WindowAttrs, axis_names, spatial_outputs, transpose_output


def _kernel(ctx: NodeContext, weight_shape) -> list:
    kernel = ctx.attr("kernel_shape", None)
    if kernel:
        return list(kernel)
    return list(weight_shape[2:])


def _bias_text(ctx: NodeContext, cout: Dim) -> str:
    return f" + {format_dim(cout)}" if ctx.has_input(2) else ""


def _params_line(ctx: NodeContext, factors, group: int, cout: Dim, cin: Dim, transpose: bool) -> None:
    """`(3·3·32/1 + 1)·64 = 18,496` for Conv, `2·2·512·256/1 + 256 = ...` for ConvTranspose."""
    weight = ctx.input(1)
    bias = ctx.inputs[2] if ctx.has_input(2) else None
    counted = [t for t in (weight, bias) if t is not None and t.source]
    total = sum(prod(t.shape) for t in counted if is_int(prod(t.shape)))
    kernel = "·".join(format_dim(k) for k in factors)
    if not counted:
        ctx.explain("params", "0 here: the weights are computed by upstream nodes")
        return
    if transpose:
        text = f"{kernel}·{format_dim(cin)}·{format_dim(cout)}/{group}{_bias_text(ctx, cout)}"
    elif bias is not None:
        text = f"({kernel}·{format_dim(cin)}/{group} + 1)·{format_dim(cout)}"
    else:
        text = f"{kernel}·{format_dim(cin)}/{group}·{format_dim(cout)}"
    ctx.explain("params", f"{text} = {format_count(total)}")


@register("Conv")
def conv(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    w = ctx.shape(1)
    if len(x) < 3 or len(w) != len(x):
        raise ShapeError(f"input rank {len(x)} and weight rank {len(w)} do not fit a Conv")
    group = int(ctx.attr("group", 1))
    spatial = len(x) - 2
    kernel = _kernel(ctx, w)
    attrs = WindowAttrs(ctx, kernel, spatial)
    cout = w[0]
    cin = x[1]
    if is_int(cin) and is_int(w[1]) and cin != w[1] * group:
        raise ShapeError(f"input has {cin} channels but weight expects {w[1]}·{group}")
    out_spatial, formulas = spatial_outputs(ctx, x[2:], attrs)
    out = (x[0], cout, *out_spatial)
    ctx.set_output(0, out)

    out_volume = prod(out)
    macs = mul(out_volume, w[1], prod(kernel))
    bias_flops = out_volume if ctx.has_input(2) else 0
    ctx.set_cost(macs=macs, flops=None if macs is None else mul(2, macs) + bias_flops)

    if ctx.explaining:
        _params_line(ctx, kernel, group, cout, cin, transpose=False)
        for formula in formulas:
            ctx.explain("shape", formula)
        bias = " + bias" if ctx.has_input(2) else ""
        ctx.explain("flops", f"MACs = N·Cout·{'·'.join(axis_names(spatial))}·(Cin/group)·kernel = "
                             f"{'·'.join(format_dim(d) for d in out)}·{format_dim(w[1])}·"
                             f"{'·'.join(format_dim(k) for k in kernel)} = {format_count(macs)}; "
                             f"FLOPs = 2·MACs{bias} = {format_count(ctx.flops)}")


@register("ConvTranspose")
def conv_transpose(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    w = ctx.shape(1)
    if len(x) < 3 or len(w) != len(x):
        raise ShapeError(f"input rank {len(x)} and weight rank {len(w)} do not fit a ConvTranspose")
    group = int(ctx.attr("group", 1))
    spatial = len(x) - 2
    kernel = _kernel(ctx, w)
    attrs = WindowAttrs(ctx, kernel, spatial)
    cout = mul(w[1], group)
    output_padding = list(ctx.attr("output_padding", None) or [0] * spatial)
    output_shape = ctx.attr("output_shape", None)
    names = axis_names(spatial)
    formulas = []
    if output_shape:
        out_spatial = list(output_shape[-spatial:])
        formulas = [f"{n}: output_shape attribute gives {d}" for n, d in zip(names, out_spatial)]
    elif attrs.auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out_spatial = [mul(x[2 + i], attrs.strides[i]) for i in range(spatial)]
        formulas = [f"{n}: {format_dim(x[2 + i])}·{attrs.strides[i]} = {format_dim(out_spatial[i])} "
                    f"({attrs.auto_pad}: output = input·stride)" for i, n in enumerate(names)]
    else:
        pads = attrs.pads if attrs.auto_pad != "VALID" else [0] * (2 * spatial)
        out_spatial = []
        for i, name in enumerate(names):
            size, formula = transpose_output(x[2 + i], kernel[i], attrs.strides[i], attrs.dilations[i],
                                             pads[i], pads[i + spatial], output_padding[i])
            out_spatial.append(size)
            formulas.append(f"{name}: {formula}")
    out = (x[0], cout, *out_spatial)
    ctx.set_output(0, out)

    macs = mul(prod(x), w[1], prod(kernel))
    bias_flops = prod(out) if ctx.has_input(2) else 0
    ctx.set_cost(macs=macs, flops=None if macs is None or bias_flops is None else mul(2, macs) + bias_flops)

    if ctx.explaining:
        _params_line(ctx, kernel, group, cout, x[1], transpose=True)
        for formula in formulas:
            ctx.explain("shape", formula)
        ctx.explain("flops", f"MACs = N·Cin·{'·'.join(names)}(input)·(Cout/group)·kernel = "
                             f"{'·'.join(format_dim(d) for d in x)}·{format_dim(w[1])}·"
                             f"{'·'.join(format_dim(k) for k in kernel)} = {format_count(macs)}")
