"""com.microsoft transformer ops for LLMs and diffusion models: GroupQueryAttention,
SparseAttention, DecoderMaskedMultiHeadAttention, PackedAttention, PackedMultiHeadAttention,
EmbedLayerNormalization, GemmFastGelu, GroupNorm, SkipGroupNorm, BiasSplitGelu, MoE, QMoE.

GroupQueryAttention (onnxruntime-genai's attention), inputs query, key, value,
past_key, past_value, seqlens_k, total_sequence_length, cos_cache, sin_cache,
position_ids, attention_bias, head_sink.  ``num_heads`` query heads share
``kv_num_heads`` key/value heads (which must divide them); with key and value omitted
the query is packed QKV of width ``(num_heads + 2·kv_num_heads)·head_size``.  The
present cache spans the total sequence length: the folded ``total_sequence_length``
when known (the past buffer's length if that is longer), else past + new tokens.
Per batch B, new tokens S, attended keys L (T, or ``local_window_size`` + 1 when that
is smaller), head size H: MACs = B·N·S·L·2H (Q·Kᵀ and P·V), FLOPs = 2·MACs + 3·B·N·S·L
(softmax) + 3 per rotated Q and K element when ``do_rotary``.  seqlens_k, the total
length, the cos/sin caches, position ids and the attention bias are never parameters.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

from ..dims import Dim, add, exact_div, format_count, format_dim, format_shape, is_int, mul, prod, sum_dims
from .common import as_dim, broadcast
from .context import NodeContext, ShapeError
from .contrib import MS
from .linalg import matmul_dims
from .norm import STATISTICS_FLOPS
from .registry import register


def _scalar(ctx: NodeContext, i: int) -> Dim:
    """A folded one-element input (a length) as a dim, or None."""
    value = ctx.value(i) if ctx.has_input(i) else None
    if value is None or value.size != 1:
        return None
    return as_dim(value.reshape(-1)[0])


def _longer(total: Dim, buffer: Dim) -> Dim:
    """The present's length: the longer of the total length and the past buffer; the total
    when symbols leave that open (onnxruntime's CPU kernel sizes the present by it)."""
    if is_int(total) and is_int(buffer):
        return max(total, buffer)
    return buffer if total is None else total


@register("GroupQueryAttention", domain=MS, meta_inputs=(5, 6, 7, 8, 9, 10))
def group_query_attention(ctx: NodeContext) -> None:
    heads, kv_heads = int(ctx.attr("num_heads", 0)), int(ctx.attr("kv_num_heads", 0))
    if heads <= 0 or kv_heads <= 0 or heads % kv_heads:
        raise ShapeError(f"kv_num_heads {kv_heads} must be positive and divide num_heads {heads}")
    q = ctx.shape(0)
    if len(q) != 3:
        raise ShapeError(f"query must be (batch, sequence, hidden), got {format_shape(q)}")
    b, s = q[0], q[1]
    packed = not ctx.has_input(1)
    head = exact_div(q[2], heads + 2 * kv_heads) if packed else exact_div(q[2], heads)
    if head is None and is_int(q[2]):
        raise ShapeError(f"query width {q[2]} is not a multiple of the "
                         f"{heads + 2 * kv_heads if packed else heads} heads")
    past = ctx.shape_or_none(3) if ctx.has_input(3) else None
    total = _scalar(ctx, 6)
    if past is not None and len(past) == 4:
        length = _longer(total, past[2]) if total is not None else add(past[2], s)
    else:
        length = total if total is not None else s
    ctx.set_output(0, (b, s, mul(heads, head)))
    ctx.set_output(1, (b, kv_heads, length, head), ctx.dtype(3) or ctx.dtype(0))
    ctx.set_output(2, (b, kv_heads, length, head), ctx.dtype(4) or ctx.dtype(0))
    window = int(ctx.attr("local_window_size", -1))
    attended = length
    if window > 0 and (not is_int(length) or length > window + 1):
        attended = window + 1
    macs = mul(b, heads, s, attended, 2, head)
    rotary = mul(3, b, s, head, heads + kv_heads) if ctx.attr("do_rotary", 0) else 0
    flops = add(mul(2, macs), mul(3, b, heads, s, attended), rotary)
    ctx.set_cost(macs=macs, flops=flops)
    if ctx.explaining:
        ctx.explain("shape", f"{heads} query heads share {kv_heads} KV heads of size {head}; present "
                             f"cache ({format_shape((b, kv_heads, length, head))})")
        ctx.explain("flops", f"MACs = B·N·S·L·2H = {format_count(macs)} (L = {attended} keys); FLOPs = 2·MACs "
                             f"+ softmax (3 per score) + rotary = {format_count(flops)}")


@register("SparseAttention", domain=MS, meta_inputs=(5, 6, 7, 8, 9, 10))
def sparse_attention(ctx: NodeContext) -> None:
    """Block-sparse attention (Phi-3-small): query (B, S, N·H) with key and value, or
    packed QKV; past_key / past_value (B, kv_num_heads, max_cache, H) are buffers the
    present shares (same shape).  Attended keys L: the densest block row of the folded
    CSR ``block_row_indices`` (nonzero blocks · ``sparse_block_size``, among the rows the
    folded ``total_sequence_length`` T reaches), at most T; T (else the buffer's length)
    when the mask is not folded.  MACs = B·N·S·L·2H, an upper bound (a causal row attends
    fewer); FLOPs as GroupQueryAttention's."""
    heads, kv_heads = int(ctx.attr("num_heads", 0)), int(ctx.attr("kv_num_heads", 0))
    block = int(ctx.attr("sparse_block_size", 0))
    if heads <= 0 or kv_heads <= 0 or heads % kv_heads or block <= 0:
        raise ShapeError(f"kv_num_heads {kv_heads} must be positive and divide num_heads {heads}, "
                         f"sparse_block_size {block} positive")
    q, past = ctx.shape(0), ctx.shape(3)
    if len(q) != 3 or len(past) != 4:
        raise ShapeError(f"query must be (batch, sequence, hidden) and past_key 4-D, got {format_shape(q)} "
                         f"and {format_shape(past)}")
    b, s = q[0], q[1]
    head = past[3]
    ctx.set_output(0, (b, s, mul(heads, head)))
    ctx.set_output(1, past, ctx.dtype(3))
    ctx.set_output(2, ctx.shape_or_none(4) or past, ctx.dtype(4) or ctx.dtype(3))
    total = _scalar(ctx, 7)
    attended: Dim = total if total is not None else past[2]
    rows = ctx.value(5)
    if rows is not None and rows.dtype != object and rows.ndim == 2 and rows.shape[1] > 1:
        reached = rows.shape[1] - 1 if not is_int(total) else max(1, min(rows.shape[1] - 1, -(-total // block)))
        densest = int((rows[:, 1:reached + 1] - rows[:, :reached]).max()) * block
        attended = densest if not is_int(attended) else min(densest, attended)
    macs = mul(b, heads, s, attended, 2, head)
    rotary = mul(3, b, s, head, heads + kv_heads) if ctx.attr("do_rotary", 0) else 0
    ctx.set_cost(macs=macs, flops=add(mul(2, macs), mul(3, b, heads, s, attended), rotary))
    if ctx.explaining:
        ctx.explain("flops", f"MACs = B·N·S·L·2H = {format_count(macs)} (L = {format_dim(attended)} keys, "
                             f"blocks of {block})")


@register("DecoderMaskedMultiHeadAttention", domain=MS, meta_inputs=(3, 4, 7, 8, 9))
def decoder_masked_mha(ctx: NodeContext) -> None:
    """One decoding step: query (B, 1, D); past_key/past_value (B, N, max_len, H) is a
    buffer the present shares (same shape); past_sequence_length says how much of it is
    filled (L = that + 1 keys attended when folded, else the buffer's length)."""
    heads = int(ctx.attr("num_heads", 0))
    if heads <= 0:
        raise ShapeError("num_heads must be positive")
    q = ctx.shape(0)
    b, s, d = q
    head = exact_div(d, heads)
    ctx.set_output(0, q)
    past = ctx.shape_or_none(5) if ctx.has_input(5) else None
    key = ctx.shape_or_none(1) if ctx.has_input(1) else None
    if past is not None:
        ctx.set_output(1, past, ctx.dtype(5))
        ctx.set_output(2, past, ctx.dtype(6) or ctx.dtype(5))
        filled = _scalar(ctx, 7)
        attended = add(filled, s) if filled is not None else past[2]
    elif key is not None and len(key) == 4:   # cross attention: key (B, N, L, H) as is
        attended = key[2]
    else:
        raise ShapeError("needs past_key / past_value (self attention) or 4-D key (cross attention)")
    macs = mul(b, heads, s, attended, 2, head)
    ctx.set_cost(macs=macs, flops=add(mul(2, macs), mul(3, b, heads, s, attended)))


@register("EmbedLayerNormalization", domain=MS, meta_inputs=(0, 1, 7, 8))
def embed_layer_norm(ctx: NodeContext) -> None:
    """LayerNorm(word[ids] + position[pos] (+ segment[seg])): output (B, S, H), mask_index
    (B) int32 and the sum before the norm.  Gathers are free; one FLOP per element per add,
    then the layer norm's."""
    ids, words = ctx.shape(0), ctx.shape(2)
    if len(ids) != 2 or len(words) != 2:
        raise ShapeError(f"needs input_ids (B, S) and word_embedding (V, H), got {format_shape(ids)} "
                         f"and {format_shape(words)}")
    out = (ids[0], ids[1], words[1])
    dtype = ctx.dtype(2)
    ctx.set_output(0, out, dtype)
    ctx.set_output(1, (ids[0],), "int32")
    ctx.set_output(2, out, dtype)
    adds = 1 + int(ctx.has_input(4))
    ctx.set_cost(flops=mul(adds + STATISTICS_FLOPS, prod(out)))


@register("GemmFastGelu", domain=MS)
def gemm_fast_gelu(ctx: NodeContext) -> None:
    """FastGelu(X @ W + bias): the MatMul's cost, plus the bias add and the Gelu."""
    out, batch, m, k, n = matmul_dims(ctx.shape(0), ctx.shape(1))
    ctx.set_output(0, out)
    macs = mul(prod(batch), m, n, k)
    ctx.set_cost(macs=macs, flops=add(mul(2, macs), mul(1 + int(ctx.has_input(2)), prod(out))))


@register("GroupNorm", domain=MS)
def group_norm(ctx: NodeContext) -> None:
    """Group normalisation of an NHWC (``channels_last``) or NCHW input: shape unchanged;
    the layer norm's 5 FLOPs per element, one more for a fused activation."""
    x = ctx.shape(0)
    _group_norm_checks(ctx, x)
    ctx.set_output(0, x)
    ctx.set_cost(flops=mul(STATISTICS_FLOPS + int(ctx.attr("activation", 0)), prod(x)))


@register("SkipGroupNorm", domain=MS)
def skip_group_norm(ctx: NodeContext) -> None:
    """GroupNorm(X + skip (+ bias)) on NHWC; output 1 is the sum."""
    x = ctx.shape(0)
    _group_norm_checks(ctx, x)
    skip = ctx.shape(3)
    broadcast([x, skip if len(skip) != 2 else (skip[0], 1, 1, skip[1])])
    ctx.set_output(0, x)
    ctx.set_output(1, x)
    per = STATISTICS_FLOPS + int(ctx.attr("activation", 0)) + 1 + int(ctx.has_input(4))
    ctx.set_cost(flops=mul(per, prod(x)))


def _group_norm_checks(ctx: NodeContext, x: tuple[Dim, ...]) -> None:
    groups = int(ctx.attr("groups", 0))
    channels = x[-1] if ctx.attr("channels_last", 1) else (x[1] if len(x) > 1 else None)
    if len(x) != 4 or groups <= 0:
        raise ShapeError(f"needs a 4-D input and positive groups, got {format_shape(x)} and groups={groups}")
    if is_int(channels) and channels % groups:
        raise ShapeError(f"{channels} channels do not split into {groups} groups")


@register("BiasSplitGelu", domain=MS)
def bias_split_gelu(ctx: NodeContext) -> None:
    """(X + bias) split in two halves along the last axis: left · Gelu(right)."""
    x = ctx.shape(0)
    half: Optional[Dim] = exact_div(x[-1], 2) if x else None
    if half is None:
        raise ShapeError(f"last axis of {format_shape(x)} does not split in two halves")
    out = (*x[:-1], half)
    ctx.set_output(0, out)
    ctx.set_cost(flops=add(prod(x), mul(2, prod(out))))


def _moe(ctx: NodeContext, weight_slots: Sequence[int], per_byte: int) -> None:
    """Mixture of experts: every token runs through ``k`` of the experts' FFNs.  MACs =
    rows · k · Σ (one expert's weight elements, fc1 + fc2 (+ fc3)): layout-free, the same
    whether the weights are (E, in, out) or (E, out, in)."""
    x, router = ctx.shape(0), ctx.shape(1)
    k = int(ctx.attr("k", 1))
    if len(router) != 2 or k <= 0 or (is_int(router[1]) and k > router[1]):
        raise ShapeError(f"router_probs must be (rows, experts) with k <= experts, got {format_shape(router)}, k={k}")
    ctx.set_output(0, x)
    per_expert = sum_dims(mul(prod(ctx.shape(slot)[1:]), per_byte) for slot in weight_slots if ctx.has_input(slot))
    rows = prod(x[:-1])
    macs = mul(rows, k, per_expert)
    ctx.set_cost(macs=macs, flops=add(mul(2, macs), mul(rows, router[1], 3)))   # + routing softmax


@register("MoE", domain=MS)
def moe(ctx: NodeContext) -> None:
    """input, router_probs, fc1 weights / bias, fc2 weights / bias, fc3 weights / bias."""
    _moe(ctx, (2, 4, 6), 1)


@register("QMoE", domain=MS, meta_inputs=(3, 6, 9, 11, 12, 13))
def qmoe(ctx: NodeContext) -> None:
    """MoE on uint8 expert weights packing ``8 / expert_weight_bits`` values per byte:
    input, router_probs, then (weights, scales, bias) for fc1, fc2, fc3, then zero points."""
    bits = int(ctx.attr("expert_weight_bits", 4))
    if bits not in (4, 8):
        raise ShapeError(f"expert_weight_bits must be 4 or 8, got {bits}")
    _moe(ctx, (2, 5, 8), 8 // bits)
    for slot in (2, 5, 8):
        size = prod(ctx.shape(slot)) if ctx.has_input(slot) else None
        if is_int(size):
            ctx.packed[slot] = (size * (8 // bits), f"uint{bits}")


def _packed_batch(ctx: NodeContext, slot: int) -> Tuple[Dim, Dim]:
    offsets = ctx.shape(slot)
    if len(offsets) != 2:
        raise ShapeError(f"token_offset must be (batch, sequence), got {format_shape(offsets)}")
    return offsets[0], offsets[1]


@register("PackedAttention", domain=MS, meta_inputs=(3, 4, 5))
def packed_attention(ctx: NodeContext) -> None:
    """Attention on padding-free tokens: input (tokens, D), weights (D, Dq + Dk + Dv),
    token_offset (B, S): output (tokens, Dv); attention over the padded B·S·S."""
    x, w = ctx.shape(0), ctx.shape(1)
    heads = int(ctx.attr("num_heads", 0))
    if len(x) != 2 or len(w) != 2 or heads <= 0:
        raise ShapeError(f"needs input (tokens, D), weights (D, 3·D) and num_heads, got {format_shape(x)}, "
                         f"{format_shape(w)}, num_heads={heads}")
    sizes = ctx.attr("qkv_hidden_sizes", None)
    dq, dk, dv = sizes if sizes else (exact_div(w[1], 3),) * 3
    b, s = _packed_batch(ctx, 3)
    ctx.set_output(0, (x[0], dv))
    macs = add(mul(x[0], x[1], add(dq, dk, dv)), mul(b, s, s, add(dq, dv)))
    ctx.set_cost(macs=macs, flops=add(mul(2, macs), mul(x[0], add(dq, dk, dv)) if ctx.has_input(2) else 0,
                                      mul(3, b, heads, s, s)))


@register("PackedMultiHeadAttention", domain=MS, meta_inputs=(4, 5, 6))
def packed_multi_head_attention(ctx: NodeContext) -> None:
    """Projected Q/K/V on padding-free tokens: query (tokens, D) with key and value, or
    packed QKV (tokens, N, 3, H); token_offset (B, S): output (tokens, Dv)."""
    q = ctx.shape(0)
    heads = int(ctx.attr("num_heads", 0))
    if heads <= 0:
        raise ShapeError("num_heads must be positive")
    if len(q) == 4:
        dq = dv = mul(q[1], q[3])
    elif len(q) == 2 and ctx.has_input(2):
        dq, dv = q[1], ctx.shape(2)[-1]
    else:
        raise ShapeError(f"query must be (tokens, D) with key and value, or (tokens, N, 3, H); got {format_shape(q)}")
    b, s = _packed_batch(ctx, 4)
    ctx.set_output(0, (q[0], dv))
    macs = mul(b, s, s, add(dq, dv))
    ctx.set_cost(macs=macs, flops=add(mul(2, macs), mul(3, b, heads, s, s)))
