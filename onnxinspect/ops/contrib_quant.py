"""com.microsoft quantized ops: block-quantized weights (MatMulNBits, GatherBlockQuantized),
integer matmuls (DynamicQuantizeMatMul, MatMulIntegerToFloat, QGemm, QAttention) and the
QLinear forms of softmax, sigmoid, LeakyRelu, concat and the average pools.

Parameters.  A packed weight counts its *logical* elements: MatMulNBits' uint8 blob
``B (N, k_blocks, blob)`` holds K·N weights of ``bits`` each, GatherBlockQuantized's
uint8 ``data`` holds ``8 / bits`` weights per byte (``NodeContext.packed``; the stored
bytes stay what the file holds).  Scales, zero points and ``g_idx`` are quantization
metadata (``meta_inputs``): never parameters, their bytes reported apart
(analyse/precision.py).

Cost.  Each op costs what its float form costs: a matmul 2 FLOPs per MAC, the bias
1 per output element; the dequantisation of a weight is free (done once, or fused into
the kernel), a dynamic quantisation of the activation 4 FLOPs per element
(DynamicQuantizeLinear's convention), a rescale to float 2 per output element.
"""

from __future__ import annotations

from typing import Optional, Sequence

from ..dims import add, ceildiv, format_count, format_shape, is_int, mul, prod
from ..dtypes import element_bits
from .context import NodeContext, ShapeError
from .contrib import MS, channels_last
from .contrib import attention as ms_attention
from .contrib_llm import embed_layer_norm
from .elementwise import softmax, unary
from .linalg import gemm, matmul_dims
from .pool import global_pool, pool
from .quant import dequantize_linear, quantize_linear
from .registry import Rule, register
from .shape import concat

register("QuantizeLinear", domain=MS, meta_inputs=(1, 2))(quantize_linear)
register("DequantizeLinear", domain=MS, meta_inputs=(1, 2))(dequantize_linear)


def _packed_dtype(bits: int, signed: bool = False) -> str:
    return f"{'int' if signed else 'uint'}{bits}"


@register("MatMulNBits", domain=MS, meta_inputs=(2, 3, 4))
def matmul_nbits(ctx: NodeContext) -> None:
    """Y = A @ dequantize(B): A (..., K), B uint8 (N, ⌈K/block⌉, block·bits/8) -> (..., N)."""
    k, n = int(ctx.attr("K", 0)), int(ctx.attr("N", 0))
    bits, block = int(ctx.attr("bits", 4)), int(ctx.attr("block_size", 0))
    if k <= 0 or n <= 0 or bits not in (2, 4, 8) or block < 16 or block & (block - 1):
        raise ShapeError(f"needs positive K and N, bits 2/4/8 and a power-of-two block_size >= 16 "
                         f"(K={k}, N={n}, bits={bits}, block_size={block})")
    blocks, blob = ceildiv(k, block), block * bits // 8
    b = ctx.shape(1)
    expected = (n, blocks, blob)
    if prod(b) != prod(expected) or (len(b) == 3 and tuple(b) != expected):
        raise ShapeError(f"packed B {format_shape(b)} does not hold K={k} x N={n} at {bits} bits in "
                         f"blocks of {block}: expected {format_shape(expected)}")
    a = ctx.shape(0)
    if not a or (is_int(a[-1]) and a[-1] != k):
        raise ShapeError(f"A {format_shape(a)} does not end in K={k}")
    out = (*a[:-1], n)
    ctx.set_output(0, out)
    ctx.packed[1] = (k * n, _packed_dtype(bits))
    macs = mul(prod(a[:-1]), k, n)
    bias = prod(out) if ctx.has_input(5) else 0
    ctx.set_cost(macs=macs, flops=add(mul(2, macs), bias))
    if ctx.explaining:
        ctx.explain("params", f"K·N = {k}·{n} = {format_count(k * n)} {bits}-bit weights packed in "
                              f"B {format_shape(b)} (blocks of {block}; scales and zero points are metadata)")
        ctx.explain("shape", f"{format_shape(a)} @ (K={k}, N={n}) → {format_shape(out)}")
        ctx.explain("flops", f"MACs = rows·K·N = {format_count(macs)}; FLOPs = 2·MACs + bias = "
                             f"{format_count(ctx.flops)}")


@register("GatherBlockQuantized", domain=MS, meta_inputs=(1, 2, 3))
def gather_block_quantized(ctx: NodeContext) -> None:
    """A gather from a block-quantized table (a 4-bit embedding): ``data`` is int4/uint4,
    or uint8 packing ``8 / bits`` values per byte along its last axis."""
    data, indices = ctx.shape(0), ctx.shape(1)
    dtype = ctx.dtype(0)
    bits = int(ctx.attr("bits", 4)) if dtype == "uint8" else element_bits(dtype)
    if bits not in (4, 8) or not data:
        raise ShapeError(f"data must be int4/uint4 or uint8 packing 4 or 8 bits, got {dtype} with bits={bits}")
    per_byte = 8 // bits if dtype == "uint8" else 1
    logical = (*data[:-1], mul(data[-1], per_byte))
    axis = int(ctx.attr("gather_axis", 0))
    axis = axis + len(data) if axis < 0 else axis
    if not 0 <= axis < len(data):
        raise ShapeError(f"gather_axis {axis} is out of range for rank {len(data)}")
    out = (*logical[:axis], *indices, *logical[axis + 1:])
    ctx.set_output(0, out, ctx.dtype(2))
    size = prod(logical)
    if is_int(size):
        ctx.packed[0] = (size, _packed_dtype(bits, signed=dtype == "int4"))
    ctx.set_cost(flops=mul(2, prod(out)))   # dequantise what is gathered


@register("DynamicQuantizeMatMul", domain=MS, meta_inputs=(2, 3))
def dynamic_quantize_matmul(ctx: NodeContext) -> None:
    """A float, B int8 weights: A is quantised on the fly (4 FLOPs per element), the
    integer product rescaled to float (2 per output) and the bias added."""
    _integer_matmul(ctx, quantize=True, bias_slot=4)


@register("MatMulIntegerToFloat", domain=MS, meta_inputs=(2, 3, 4, 5))
def matmul_integer_to_float(ctx: NodeContext) -> None:
    _integer_matmul(ctx, quantize=False, bias_slot=6, dtype=ctx.dtype(2))


def _integer_matmul(ctx: NodeContext, quantize: bool, bias_slot: int, dtype: Optional[str] = None) -> None:
    a, b = ctx.shape(0), ctx.shape(1)
    out, batch, m, k, n = matmul_dims(a, b)
    ctx.set_output(0, out, dtype or ctx.dtype(0))
    macs = mul(prod(batch), m, n, k)
    extra = mul(2 + int(ctx.has_input(bias_slot)), prod(out))   # rescale, bias
    ctx.set_cost(macs=macs, flops=add(mul(2, macs), extra, mul(4, prod(a)) if quantize else 0))


def _with_inputs(ctx: NodeContext, slots: Sequence[int], rule: Rule, dtype: Optional[str]) -> None:
    """Run the float ``rule`` on the node's data inputs alone (its scales and zero points
    set aside), then give the outputs the quantized dtype."""
    saved = ctx.inputs
    ctx.inputs = [saved[i] if i < len(saved) else None for i in slots]
    try:
        rule(ctx)
    finally:
        ctx.inputs = saved
    for out in ctx.outputs:
        if out is not None:
            out.dtype = dtype


# QLinear unary ops: X, X_scale, X_zero_point, Y_scale, Y_zero_point.
QLINEAR_UNARY_META = (1, 2, 3, 4)


@register("QLinearSigmoid", "QLinearLeakyRelu", domain=MS, meta_inputs=QLINEAR_UNARY_META)
def qlinear_activation(ctx: NodeContext) -> None:
    _with_inputs(ctx, (0,), unary, ctx.dtype(4) or ctx.dtype(0))


@register("QLinearSoftmax", domain=MS, meta_inputs=QLINEAR_UNARY_META)
def qlinear_softmax(ctx: NodeContext) -> None:
    _with_inputs(ctx, (0,), softmax, ctx.dtype(4) or ctx.dtype(0))


@register("QLinearAveragePool", domain=MS, meta_inputs=QLINEAR_UNARY_META)
def qlinear_average_pool(ctx: NodeContext) -> None:
    _quantized_pool(ctx, pool)


@register("QLinearGlobalAveragePool", domain=MS, meta_inputs=QLINEAR_UNARY_META)
def qlinear_global_average_pool(ctx: NodeContext) -> None:
    _quantized_pool(ctx, global_pool)


def _quantized_pool(ctx: NodeContext, rule: Rule) -> None:
    dtype = ctx.dtype(4) or ctx.dtype(0)
    if ctx.attr("channels_last", 0):
        _with_inputs(ctx, (0,), lambda c: channels_last(c, rule), dtype)
    else:
        _with_inputs(ctx, (0,), rule, dtype)


@register("QLinearConcat", domain=MS, meta_inputs=(i for i in range(3 * 256) if i % 3 != 2))
def qlinear_concat(ctx: NodeContext) -> None:
    """Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input."""
    _with_inputs(ctx, range(2, ctx.n_inputs, 3), concat, ctx.dtype(1) or ctx.dtype(2))


@register("QGemm", domain=MS, meta_inputs=(1, 2, 4, 5, 7, 8))
def qgemm(ctx: NodeContext) -> None:
    """A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp: Gemm on (A, B, C); the output
    is quantized when y_scale is given, float otherwise."""
    dtype = (ctx.dtype(8) or ctx.dtype(0)) if ctx.has_input(7) else "float32"
    _with_inputs(ctx, (0, 3, 6), gemm, dtype)


@register("QAttention", domain=MS, meta_inputs=(3, 4, 5, 6, 7))
def qattention(ctx: NodeContext) -> None:
    """Attention with int8 input and weights: input, weight, bias, input_scale,
    weight_scale, mask_index, input_zero_point, weight_zero_point, past."""
    _with_inputs(ctx, (0, 1, 2, 5, 8), ms_attention, ctx.dtype(2) or ctx.dtype(3) or "float32")


@register("QEmbedLayerNormalization", domain=MS, meta_inputs=(0, 1, 7, *range(8, 18)))
def qembed_layer_norm(ctx: NodeContext) -> None:
    """EmbedLayerNormalization on uint8 tables, gamma and beta: ids, segments, the five
    quantized tensors, the mask, then their scales and zero points; float output."""
    _with_inputs(ctx, range(8), embed_layer_norm, ctx.dtype(8) or "float32")
    if len(ctx.outputs) > 1 and ctx.outputs[1] is not None:
        ctx.outputs[1].dtype = "int32"
