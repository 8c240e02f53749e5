"""com.microsoft contrib ops: onnxruntime's fused kernels and transformer blocks.

Each fused op reuses the rule of the standard op it fuses (Conv, Gemm, MatMul,
LayerNormalization, QLinearConv, the Gelu activation) and adds the fused part's cost:
one FLOP per output element for an activation, for a residual (``Z``/``skip``) add and
for a bias add.  The quantized forms cost what their float forms cost; their scales and
zero points are metadata (never parameters), as in the standard QLinear ops.

Attention (QKV projection + scaled dot-product attention), per batch B, query length
S, key length T (past + S), heads N, hidden sizes Dq/Dk/Dv and input width D:
MACs = B·S·D·(Dq+Dk+Dv) (projection) + B·S·T·(Dq+Dv) (Q·Kᵀ and P·V over all heads);
FLOPs = 2·MACs + B·S·(Dq+Dk+Dv) (projection bias) + 3·B·N·S·T (softmax).
MultiHeadAttention takes projected Q/K/V: MACs = B·S·T·(Dq+Dv), FLOPs = 2·MACs + 3·B·N·S·T.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence, Tuple

from ..dims import Dim, add, exact_div, format_count, is_int, mul, prod
from .common import broadcast, normalize_axis
from .context import NodeContext, ShapeError
from .conv import conv_core
from .elementwise import unary
from .linalg import gemm, matmul_dims
from .norm import STATISTICS_FLOPS, layer_norm
from .quant import qlinear_conv
from .registry import Rule, register

MS = "com.microsoft"
QUANT_META = (1, 2, 4, 5, 6, 7)  # scales and zero points of QLinearAdd / QLinearMul / QLinearConv
SIMPLIFIED_FLOPS = STATISTICS_FLOPS - 1  # RMS normalisation: no mean to subtract


def _add_flops(ctx: NodeContext, per_element: int) -> None:
    """Add ``per_element`` FLOPs per output element (the fused part of a fused op)."""
    out = ctx.outputs[0]
    if not per_element or ctx.flops is None or out is None or out.shape is None:
        return
    ctx.flops = add(ctx.flops, mul(per_element, prod(out.shape)))  # (the volume is known when flops are)


def _activation(ctx: NodeContext) -> int:
    return 1 if ctx.attr("activation", None) else 0


@register("FusedConv", domain=MS)
def fused_conv(ctx: NodeContext) -> None:
    conv_core(ctx)
    _add_flops(ctx, _activation(ctx) + int(ctx.has_input(3)))


@register("FusedGemm", domain=MS)
def fused_gemm(ctx: NodeContext) -> None:
    gemm(ctx)
    _add_flops(ctx, _activation(ctx))


def _batch_transposed(shape: Tuple[Dim, ...], trans_batch: bool, trans: bool) -> Tuple[Dim, ...]:
    """FusedMatMul's view of an operand: ``transBatch`` moves the first dim next to the
    last (``[b0, b1.., M, K] -> [b1.., M, b0, K]``), then ``trans`` swaps the last two."""
    if trans_batch and len(shape) >= 3:
        shape = (*shape[1:-1], shape[0], shape[-1])
    if trans and len(shape) >= 2:
        shape = (*shape[:-2], shape[-1], shape[-2])
    return shape


@register("FusedMatMul", domain=MS)
def fused_matmul(ctx: NodeContext) -> None:
    a = _batch_transposed(ctx.shape(0), bool(ctx.attr("transBatchA", 0)), bool(ctx.attr("transA", 0)))
    b = _batch_transposed(ctx.shape(1), bool(ctx.attr("transBatchB", 0)), bool(ctx.attr("transB", 0)))
    out, batch, m, k, n = matmul_dims(a, b)
    ctx.set_output(0, out)
    ctx.set_cost(macs=mul(prod(batch), m, n, k))
    _add_flops(ctx, int(float(ctx.attr("alpha", 1.0)) != 1.0))


register("Gelu", "QuickGelu", domain=MS)(unary)


@register("BiasGelu", "FastGelu", "BiasAdd", domain=MS)
def bias_activation(ctx: NodeContext) -> None:
    """An element-wise op over broadcast inputs: one FLOP per element for each extra
    input (bias, skip) added, plus one for the Gelu."""
    shapes = [ctx.shape_or_none(i) for i in range(ctx.n_inputs) if ctx.has_input(i)]
    shape = broadcast(shapes)
    ctx.set_output(0, shape)
    if shape is not None:
        gelu = 0 if ctx.op_type == "BiasAdd" else 1
        ctx.set_cost(macs=0, flops=mul(len(shapes) - 1 + gelu, prod(shape)))


register("LayerNormalization", domain=MS)(layer_norm)


@register("SimplifiedLayerNormalization")
@register("SimplifiedLayerNormalization", domain=MS)
def simplified_layer_norm(ctx: NodeContext) -> None:
    """RMS normalisation (onnxruntime registers it in the ONNX domain): Y and InvStdDev."""
    x = ctx.shape(0)
    axis = normalize_axis(int(ctx.attr("axis", -1)), len(x))
    ctx.set_output(0, x)
    ctx.set_output(1, tuple(x[:axis]) + (1,) * (len(x) - axis), "float32")
    ctx.set_cost(macs=0, flops=mul(SIMPLIFIED_FLOPS, prod(x)))


@register("SkipLayerNormalization", "SkipSimplifiedLayerNormalization", domain=MS)
def skip_layer_norm(ctx: NodeContext) -> None:
    """LayerNorm(input + skip [+ bias]) over the last axis; output 3 is the sum itself."""
    x = ctx.shape(0)
    skip = ctx.shape(1)
    if len(skip) not in (2, 3) or (is_int(skip[-1]) and is_int(x[-1]) and skip[-1] != x[-1]):
        raise ShapeError(f"skip {skip} does not fit input {x}")
    simplified = ctx.op_type.startswith("SkipSimplified")
    bias_slot = 3 if simplified else 4
    stats = tuple(x[:-1]) + (1,)
    ctx.set_output(0, x)
    ctx.set_output(1, stats, "float32")  # mean
    ctx.set_output(2, stats, "float32")  # inv_std_var
    ctx.set_output(3, x)                 # input + skip + bias
    per = (SIMPLIFIED_FLOPS if simplified else STATISTICS_FLOPS) + 1 + int(ctx.has_input(bias_slot))
    ctx.set_cost(macs=0, flops=mul(per, prod(x)))


@register("QLinearAdd", "QLinearMul", domain=MS, meta_inputs=QUANT_META)
def qlinear_binary(ctx: NodeContext) -> None:
    shape = broadcast([ctx.shape_or_none(0), ctx.shape_or_none(3)])
    ctx.set_output(0, shape, ctx.dtype(7) or ctx.dtype(0))
    if shape is not None:
        ctx.set_cost(macs=0, flops=prod(shape))


def channels_last(ctx: NodeContext, rule: Rule) -> None:
    """Run a channels-first ``rule`` on an NHWC input and give its output back as NHWC."""
    x = ctx.input(0)
    shape = ctx.shape(0)
    if len(shape) < 3:
        raise ShapeError(f"channels-last input needs rank >= 3, got {len(shape)}")
    ctx.inputs[0] = replace(x, shape=(shape[0], shape[-1], *shape[1:-1]))
    try:
        rule(ctx)
    finally:
        ctx.inputs[0] = x
    out = ctx.outputs[0]
    if out is not None and out.shape is not None:
        out.shape = (out.shape[0], *out.shape[2:], out.shape[1])


@register("NhwcConv", domain=MS)
def nhwc_conv(ctx: NodeContext) -> None:
    channels_last(ctx, conv_core)


@register("QLinearConv", domain=MS, meta_inputs=QUANT_META)
def qlinear_conv_ms(ctx: NodeContext) -> None:
    if ctx.attr("channels_last", 0):
        channels_last(ctx, qlinear_conv)
    else:
        qlinear_conv(ctx)


@register("RotaryEmbedding", domain=MS, meta_inputs=(1, 2, 3))
def rotary_embedding(ctx: NodeContext) -> None:
    """Rotates pairs of the input by position: 3 FLOPs per element (x·cos + rot(x)·sin).
    The cos / sin caches are precomputed tables, not learned weights: meta inputs."""
    x = ctx.shape(0)
    ctx.set_output(0, x)
    ctx.set_cost(macs=0, flops=mul(3, prod(x)))


@register("Attention", domain=MS, meta_inputs=(3, 6))
def attention(ctx: NodeContext) -> None:
    x, w = ctx.shape(0), ctx.shape(1)
    if len(x) != 3 or len(w) != 2:
        raise ShapeError(f"Attention needs input (B, S, D) and weights (D, 3·D), got {x} and {w}")
    heads = int(ctx.attr("num_heads", 0))
    sizes = ctx.attr("qkv_hidden_sizes", None)
    dq, dk, dv = sizes if sizes else (exact_div(w[1], 3),) * 3
    b, s = x[0], x[1]
    ctx.set_output(0, (b, s, dv))
    past = ctx.shape_or_none(4)
    total = s if past is None or len(past) != 5 else add(past[3], s)
    if heads > 0:
        ctx.set_output(1, (2, b, heads, total, exact_div(dk, heads)))
    projection = add(dq, dk, dv)
    macs = add(mul(b, s, x[2], projection), mul(b, s, total, add(dq, dv)))
    softmax = mul(3, b, heads, s, total) if heads > 0 else None
    bias = mul(b, s, projection) if ctx.has_input(2) else 0
    _attention_cost(ctx, macs, [bias, softmax])


@register("MultiHeadAttention", domain=MS, meta_inputs=(4, 8, 9))
def multi_head_attention(ctx: NodeContext) -> None:
    q = ctx.shape(0)
    heads = int(ctx.attr("num_heads", 0))
    if heads <= 0:
        raise ShapeError("num_heads must be positive")
    key, value = ctx.shape_or_none(1), ctx.shape_or_none(2)
    b, s = q[0], q[1]
    if len(q) == 5:                      # packed QKV (B, S, N, 3, H)
        dq = dv = mul(q[2], q[4])
        length = s
    elif key is not None and len(key) == 5:  # packed KV (B, L, N, 2, H)
        dq, dv, length = q[2], mul(key[2], key[4]), key[1]
    elif key is not None and value is not None:
        dq = q[2]
        dv = value[2] if len(value) == 3 else mul(value[1], value[3])
        length = key[1] if len(key) == 3 else key[2]
    else:
        raise ShapeError("query needs key and value (or packed QKV / KV)")
    ctx.set_output(0, (b, s, dv))
    past = ctx.shape_or_none(6)
    total = length if past is None or len(past) != 4 else add(past[2], length)
    ctx.set_output(1, (b, heads, total, exact_div(dq, heads)))
    ctx.set_output(2, (b, heads, total, exact_div(dv, heads)))
    macs = mul(b, s, total, add(dq, dv))
    _attention_cost(ctx, macs, [mul(3, b, heads, s, total)])


def _attention_cost(ctx: NodeContext, macs: Dim, extra: Sequence[Dim]) -> None:
    flops = None if macs is None or any(e is None for e in extra) else add(mul(2, macs), *extra)
    ctx.set_cost(macs=macs if flops is not None else None, flops=flops)
    if ctx.explaining:
        ctx.explain("flops", f"MACs = projection + Q·Kᵀ + P·V = {format_count(macs)}; FLOPs = 2·MACs "
                             f"+ bias + softmax (3 per score) = {format_count(flops)}")
