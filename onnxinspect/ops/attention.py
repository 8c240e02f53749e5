"""ai.onnx Attention (opset 23): scaled dot-product attention on projected Q, K, V.

torch's dynamo exporter writes it for ``F.scaled_dot_product_attention`` (and
``nn.MultiheadAttention``) from opset 23.  Q, K, V are 4-D ``(B, heads, seq, head
size)`` or 3-D ``(B, seq, heads·head size)`` with ``q_num_heads`` / ``kv_num_heads``
attributes; the output Y has Q's rank.  With a past key/value cache the keys span
T = past + kv_seq positions.

Cost, as com.microsoft MultiHeadAttention's: MACs = B·Hq·Sq·T·(Dk + Dv) (Q·Kᵀ and
P·V), FLOPs = 2·MACs + 3·B·Hq·Sq·T (softmax).  The mask (slot 3) and the opset-24
``nonpad_kv_seqlen`` (slot 6) are never parameters.
"""

from __future__ import annotations

from typing import Tuple

from ..dims import Dim, add, exact_div, format_count, mul
from .context import NodeContext, ShapeError
from .registry import register


def _split(shape: Tuple[Dim, ...], heads: int, name: str) -> Tuple[Dim, ...]:
    """(B, heads, seq, head size) of a 3-D or 4-D Q/K/V."""
    if len(shape) == 4:
        return shape
    if len(shape) == 3:
        if heads <= 0:
            raise ShapeError(f"3-D {name} needs a positive num_heads attribute")
        return shape[0], heads, shape[1], exact_div(shape[2], heads)
    raise ShapeError(f"{name} must be 3-D or 4-D, got rank {len(shape)}")


@register("Attention", meta_inputs=(3, 6))
def attention(ctx: NodeContext) -> None:
    q_shape, k_shape, v_shape = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    b, hq, sq, dk = _split(q_shape, int(ctx.attr("q_num_heads", 0)), "Q")
    _, hkv, skv, _ = _split(k_shape, int(ctx.attr("kv_num_heads", 0)), "K")
    dv = _split(v_shape, int(ctx.attr("kv_num_heads", 0)), "V")[3]
    past = ctx.shape_or_none(4) if ctx.has_input(4) else None
    total = skv if past is None else add(past[2], skv)
    ctx.set_output(0, (b, hq, sq, dv) if len(q_shape) == 4 else (b, sq, mul(hq, dv)))
    ctx.set_output(1, (b, hkv, total, dk))
    ctx.set_output(2, (b, hkv, total, dv))
    ctx.set_output(3, (b, hq, sq, total))
    macs = mul(b, hq, sq, total, add(dk, dv))
    ctx.set_cost(macs=macs, flops=add(mul(2, macs), mul(3, b, hq, sq, total)))
    if ctx.explaining:
        ctx.explain("flops", f"MACs = B·Hq·Sq·T·(Dk + Dv) = {format_count(macs)}; FLOPs = 2·MACs "
                             f"+ softmax (3 per score) = {format_count(ctx.flops)}")
