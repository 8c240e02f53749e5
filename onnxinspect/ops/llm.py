"""Language-model building blocks of ai.onnx: RMSNormalization and RotaryEmbedding
(opset 23), CausalConvWithState and LinearAttention (opset 27), SwiGLU (opset 28).

Parameters: RMSNormalization's scale and CausalConvWithState's weight and bias are data
inputs, counted like any weight.  Never parameters (meta inputs): RotaryEmbedding's
cos / sin caches and position ids (precomputed tables, as in com.microsoft's
RotaryEmbedding) and the recurrent ``past_state`` of the stateful ops (a zero state an
exporter stores is not learned).

Cost conventions (no MACs unless said):

* RMSNormalization: 4 FLOPs per element (square, add, the scale by the inverse root, the
  multiply by ``scale``), as com.microsoft's SimplifiedLayerNormalization.
* RotaryEmbedding: 3 FLOPs per *rotated* element (``x·cos + rot(x)·sin``); with a partial
  ``rotary_embedding_dim`` the rest of each head passes through at no cost.
* SwiGLU: 2 FLOPs per element (the Swish, one activation as the Swish rule counts it,
  and the gating multiply).
* CausalConvWithState: a depthwise 1-D conv, MACs = B·C·L·k; FLOPs = 2·MACs + 1 per
  output element for the bias + 1 for the fused SiLU.
* LinearAttention, per token: MACs = Hq·dk·dv (the read-out qᵀS) + Hkv·dk·dv (the outer
  product k⊗v accumulated into S) + Hkv·dk·dv for the delta rules (the retrieval Sᵀk);
  FLOPs = 2·MACs + Hq·dv (the output scale) + Hkv·dk·dv for the gated rules (the decay of
  S) + 2·Hkv·dv for the delta rules (``v − Sᵀk``, times β).  ``chunk_size`` changes the
  schedule, not the arithmetic counted here.
"""

from __future__ import annotations

from typing import Sequence, Tuple

from ..dims import Dim, add, exact_div, format_count, is_int, mul, prod, sub
from ..dtypes import dtype_name
from .common import dims_text, normalize_axis
from .context import NodeContext, ShapeError
from .contrib import SIMPLIFIED_FLOPS
from .norm import per_element_cost
from .registry import register


@register("RMSNormalization")
def rms_normalization(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    axis = normalize_axis(int(ctx.attr("axis", -1)), len(x))
    ctx.set_output(0, x, ctx.dtype(1) or ctx.dtype(0))   # Y has the scale's type (V)
    if ctx.explaining:
        stash = dtype_name(int(ctx.attr("stash_type", 1)))
        ctx.explain("shape", f"root mean square over axes {axis}..{len(x) - 1}, computed in {stash}")
    per_element_cost(ctx, x, SIMPLIFIED_FLOPS, "square, mean, inverse root, scale")


def _heads(x: Sequence[Dim], num_heads: int) -> Tuple[Dim, Dim]:
    """(heads, head size) of RotaryEmbedding's 4-D ``(B, heads, S, head)`` or 3-D
    ``(B, S, heads·head)`` input."""
    if len(x) == 4:
        return x[1], x[3]
    if len(x) == 3:
        if num_heads <= 0:
            raise ShapeError("a 3-D input needs the num_heads attribute")
        return num_heads, exact_div(x[2], num_heads)
    raise ShapeError(f"input must be 3-D or 4-D, got rank {len(x)}")


@register("RotaryEmbedding", meta_inputs=(1, 2, 3))
def rotary_embedding(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    _, head = _heads(x, int(ctx.attr("num_heads", 0)))
    ctx.set_output(0, x)
    rotary = int(ctx.attr("rotary_embedding_dim", 0)) or head   # 0: the whole head
    if is_int(rotary) and is_int(head) and rotary > head:
        raise ShapeError(f"rotary_embedding_dim {rotary} exceeds the head size {head}")
    rotated = mul(prod(x), rotary) if rotary == head else mul(exact_div(prod(x), head), rotary)
    flops = mul(3, rotated)
    ctx.set_cost(macs=0 if flops is not None else None, flops=flops)
    if ctx.explaining:
        ctx.explain("flops", f"FLOPs = 3·rotated elements (x·cos + rot(x)·sin), {dims_text([rotary])} of each "
                             f"{dims_text([head])}-wide head = {format_count(flops)}")


@register("SwiGLU")
def swiglu(ctx: NodeContext) -> None:
    a = ctx.shape(0)
    b = ctx.shape_or_none(1)
    if b is not None and len(b) != len(a):
        raise ShapeError(f"A {a} and B {b} must have the same shape (no broadcasting)")
    ctx.set_output(0, a)
    per_element_cost(ctx, a, 2, "Swish of the gate, times the value")


@register("CausalConvWithState", meta_inputs=(3,))
def causal_conv_with_state(ctx: NodeContext) -> None:
    x, w = ctx.shape(0), ctx.shape(1)
    if len(x) != 3 or len(w) != 3:
        raise ShapeError(f"input (B, C, L) and weight (C, 1, k) must be 3-D, got {x} and {w}")
    batch, channels, length = x
    k = w[2]
    ctx.set_output(0, x)
    ctx.set_output(1, (batch, channels, sub(k, 1)))
    macs = mul(batch, channels, length, k)
    extra = (1 if ctx.has_input(2) else 0) + (1 if ctx.attr("activation", "none") in ("silu", "swish") else 0)
    flops = add(mul(2, macs), mul(extra, prod(x)))
    ctx.set_cost(macs=macs, flops=flops)
    if ctx.explaining:
        ctx.explain("shape", f"present_state keeps the last k − 1 = {dims_text([sub(k, 1)])} positions")
        ctx.explain("flops", f"MACs = B·C·L·k = {dims_text([batch, channels, length, k])} = {format_count(macs)}; "
                             f"FLOPs = 2·MACs + {extra}·B·C·L (bias, activation) = {format_count(flops)}")


@register("LinearAttention", meta_inputs=(3,))
def linear_attention(ctx: NodeContext) -> None:
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    if len(q) != 3 or len(k) != 3 or len(v) != 3:
        raise ShapeError("query, key and value must be 3-D (B, T, heads·size)")
    hq, hkv = int(ctx.attr("q_num_heads", 0)), int(ctx.attr("kv_num_heads", 0))
    if hq <= 0 or hkv <= 0 or hq % hkv:
        raise ShapeError(f"q_num_heads {hq} must be a positive multiple of kv_num_heads {hkv}")
    rule = ctx.attr("update_rule", "gated_delta")
    if rule not in ("linear", "gated", "delta", "gated_delta"):
        raise ShapeError(f"unknown update_rule {rule!r}")
    batch, tokens = q[0], q[1]
    dk, dv = exact_div(q[2], hq), exact_div(v[2], hkv)
    ctx.set_output(0, (batch, tokens, mul(hq, dv)))
    ctx.set_output(1, (batch, hkv, dk, dv), ctx.dtype(3) or ctx.dtype(0))
    delta = rule.endswith("delta")
    state = mul(hkv, dk, dv)
    macs = mul(batch, tokens, add(mul(hq, dk, dv), mul(2 if delta else 1, state)))
    per_token = add(mul(hq, dv), state if rule.startswith("gated") else 0, mul(2, hkv, dv) if delta else 0)
    flops = add(mul(2, macs), mul(batch, tokens, per_token))
    ctx.set_cost(macs=macs, flops=flops)
    if ctx.explaining:
        ctx.explain("flops", f"MACs = B·T·(Hq·dk·dv + {'2' if delta else '1'}·Hkv·dk·dv) ({rule}) = "
                             f"{format_count(macs)}; FLOPs = 2·MACs + scale"
                             f"{' + decay' if rule.startswith('gated') else ''}{' + β update' if delta else ''} "
                             f"= {format_count(flops)}")
