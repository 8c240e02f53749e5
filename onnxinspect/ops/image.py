"""Image ops: Col2Im (opset 18), DeformConv (19, 22), MaxUnpool (9, 11, 22), ImageDecoder (20).
The later versions of each only widen the types.

Meta inputs (never parameters): Col2Im's image and block shapes, MaxUnpool's indices and
output shape, DeformConv's offsets and mask (computed from the input by an upstream conv),
ImageDecoder's encoded stream (an image a model embeds is data, not a weight).
DeformConv's weight and bias are parameters.

Cost conventions:

* Col2Im: 1 FLOP per input element (each column entry is added into the image).
* DeformConv: the Conv's MACs plus 4 MACs per sampled value (bilinear interpolation of
  the 4 neighbours), N·C·out_spatial·kernel samples; FLOPs = 2·MACs + 1 per sample for
  the mask + 1 per output element for the bias.
* MaxUnpool: 0 (a scatter: data movement).
* ImageDecoder: unknown -- the work depends on the codec and on the image, and the
  decoded height and width are known only at run time (unknown dims).
"""

from __future__ import annotations

from typing import List

from ..dims import Dim, add, exact_div, format_count, mul, prod, sub
from .common import as_dim, dims_text
from .context import NodeContext, ShapeError
from .registry import register
from .windows import WindowAttrs, axis_names, spatial_outputs


def _dims_operand(ctx: NodeContext, i: int) -> List[Dim]:
    """A folded 1-D shape operand as dims; unknown dims, as many as the operand's
    length, when it is not folded."""
    value = ctx.value(i)
    if value is not None:
        return [as_dim(v) for v in value.reshape(-1).tolist()]
    shape = ctx.shape(i)
    if len(shape) != 1 or not isinstance(shape[0], int):
        raise ShapeError(f"input {i} must be a 1-D shape of known length")
    return [None] * shape[0]


@register("Col2Im", meta_inputs=(1, 2))
def col2im(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    if len(x) != 3:
        raise ShapeError(f"input must be (N, C·∏block, L), got rank {len(x)}")
    image, block = _dims_operand(ctx, 1), _dims_operand(ctx, 2)
    if len(image) != len(block):
        raise ShapeError(f"image_shape has {len(image)} dims, block_shape {len(block)}")
    channels = exact_div(x[1], prod(block))
    ctx.set_output(0, (x[0], channels, *image))
    flops = prod(x)
    ctx.set_cost(macs=0 if flops is not None else None, flops=flops)
    if ctx.explaining:
        ctx.explain("shape", f"C = {dims_text([x[1]])}/∏block = {dims_text([channels])}")


@register("DeformConv", meta_inputs=(2, 4))
def deform_conv(ctx: NodeContext) -> None:
    x, w = ctx.shape(0), ctx.shape(1)
    if len(x) < 3 or len(w) != len(x):
        raise ShapeError(f"input rank {len(x)} and weight rank {len(w)} do not fit a DeformConv")
    spatial = len(x) - 2
    kernel: List[Dim] = list(ctx.attr("kernel_shape", None) or w[2:])
    attrs = WindowAttrs(ctx, kernel, spatial)
    out_spatial, formulas = spatial_outputs(x[2:], attrs, ctx.explaining)
    out = (x[0], w[0], *out_spatial)
    ctx.set_output(0, out)
    volume = prod(kernel)
    samples = mul(x[0], x[1], prod(out_spatial), volume)
    macs = add(mul(prod(out), w[1], volume), mul(4, samples))
    extra = add(samples if ctx.has_input(4) else 0, prod(out) if ctx.has_input(3) else 0)
    flops = add(mul(2, macs), extra)
    ctx.set_cost(macs=macs, flops=flops)
    if ctx.explaining:
        for formula in formulas:
            ctx.explain("shape", formula)
        ctx.explain("flops", f"MACs = N·Cout·{'·'.join(axis_names(spatial))}(output)·(Cin/group)·kernel + "
                             f"4·samples (bilinear), samples = N·Cin·output·kernel = {format_count(samples)}: "
                             f"{format_count(macs)}; FLOPs = 2·MACs + mask + bias = {format_count(flops)}")


@register("MaxUnpool", meta_inputs=(1, 2))
def max_unpool(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    kernel = ctx.attr("kernel_shape", None)
    if not kernel or len(x) != len(kernel) + 2:
        raise ShapeError(f"input rank {len(x)} does not fit kernel_shape {kernel}")
    spatial = len(kernel)
    if ctx.has_input(2):
        given = _dims_operand(ctx, 2)
        if len(given) != len(x):
            raise ShapeError(f"output_shape has {len(given)} dims, the input {len(x)}")
        ctx.set_output(0, given)
    else:
        strides = list(ctx.attr("strides", None) or [1] * spatial)
        pads = list(ctx.attr("pads", None) or [0] * (2 * spatial))
        sizes = [add(mul(sub(x[2 + i], 1), strides[i]), kernel[i] - pads[i] - pads[i + spatial])
                 for i in range(spatial)]
        ctx.set_output(0, (x[0], x[1], *sizes))
        if ctx.explaining:
            for i, name in enumerate(axis_names(spatial)):
                ctx.explain("shape", f"{name}: ({dims_text([x[2 + i]])} − 1)·{strides[i]} + {kernel[i]} − "
                                     f"{pads[i]} − {pads[i + spatial]} = {dims_text([sizes[i]])}")
    ctx.set_cost(flops=0)


@register("ImageDecoder", meta_inputs=(0,))
def image_decoder(ctx: NodeContext) -> None:
    channels = 1 if ctx.attr("pixel_format", "RGB") == "Grayscale" else 3
    ctx.set_output(0, (None, None, channels), "uint8")
    ctx.set_cost(None, None)
    if ctx.explaining:
        ctx.explain("shape", "height and width are read from the encoded stream at run time")
