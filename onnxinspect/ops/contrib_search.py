"""com.microsoft text generation: BeamSearch, GreedySearch and Sampling run a decoder
subgraph (and, for encoder-decoder models, an encoder) in a loop inside one node.

Shapes, per onnxruntime's contrib-op documentation: input_ids (B, S), max_length M,
num_beams K (1 for greedy search and sampling), num_return_sequences R:

- BeamSearch: sequences (B, R, M) int32, sequences_scores (B, R), scores (M − S, B, K, V);
- GreedySearch: sequences (B, M); Sampling: sequences (B, M), filtered_logits (B, V).

V is the ``vocab_size`` attribute, else the last dim of the decoder's logits.  M, K and
R are inputs: folded constants, or a named run-time symbol each (bind them with ``--dim``).

Bodies: ``encoder``, ``init_decoder`` and ``decoder`` are reported under the node.  For a
decoder-only (GPT-2, ``model_type`` 0) subgraph the first run sees the prompt, (B·K, S)
tokens with an empty past, and ``decoder`` is reported at its last step: (B·K, 1) tokens,
past length M − 2, attention over M − 1 tokens.  Cost, an upper bound (EOS may stop the
search earlier, and every step is costed at the longest past): first run + (M − S − 1) ×
last step.  The search's own logits processing (softmax, top-k) is not counted.  For an
encoder-decoder model (``model_type`` 1) the bodies are walked with their declared types
and the cost is unknown: the per-step shapes of its cross-attention caches are not derived.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from ..dims import Dim, add, format_count, format_dim, format_shape, mul, sub
from ..report import GraphWalk, body_cost
from ..tensors import shape_from_type
from .common import as_dim
from .context import NodeContext, ShapeError
from .contrib import MS
from .control_flow import Bound, walk_body
from .registry import register


def _count(ctx: NodeContext, slot: int, name: str, default: Optional[int] = None) -> Dim:
    """A one-element count input (max_length, num_beams): its folded value, ``default``
    when the input is omitted, else a run-time symbol of its own."""
    if not ctx.has_input(slot):
        if default is None:
            raise ShapeError(f"input {slot} ({name}) is missing")
        return default
    value = ctx.value(slot)
    if value is not None and value.size == 1:
        return as_dim(value.reshape(-1)[0])
    return ctx.data_dependent(None, name, ctx.node.input[slot])


def _gpt_inputs(graph: Any, rows: Dim, tokens: Dim, past: Dim) -> List[Bound]:
    """Bindings of a GPT-2 decoder's formal inputs: input_ids and position_ids (rows,
    tokens), attention_mask (rows, past + tokens), and each past cache at ``past``
    ((2, rows, heads, past, head) or (rows, heads, past, head)); other inputs keep their
    declared types."""
    local = {t.name for t in graph.initializer}
    bound: List[Bound] = []
    for i, vi in enumerate(v for v in graph.input if v.name not in local):
        dtype, declared = shape_from_type(vi.type)
        if i < 2:
            bound.append((dtype, (rows, tokens), None))
        elif i == 2:
            bound.append((dtype, (rows, add(past, tokens)), None))
        elif declared is not None and len(declared) in (4, 5):
            dims = list(declared)
            lead = len(dims) - 4
            dims[lead], dims[lead + 2] = rows, past
            bound.append((dtype, tuple(dims), None))
        else:
            bound.append((None, None, None))
    return bound


def _search(ctx: NodeContext, beams: Dim) -> Tuple[Dim, Dim, Dim, Dim, GraphWalk]:
    """Walk the bodies and set the cost; (B, S, M, V, the decoder's reported walk)."""
    ids = ctx.shape(0)
    if len(ids) != 2:
        raise ShapeError(f"input_ids must be (batch, sequence), got {format_shape(ids)}")
    b, s = ids
    m = _count(ctx, 1, "max_length")
    rows = mul(b, beams)
    decoder: Any = ctx.attr("decoder")
    if decoder is None:
        raise ShapeError("attribute 'decoder' is missing")
    walks = {}
    if int(ctx.attr("model_type", 0)) == 0:
        first_attr = "init_decoder" if ctx.attr("init_decoder") is not None else "decoder"
        first = walk_body(ctx, first_attr, _gpt_inputs(ctx.attr(first_attr), rows, s, 0))
        last = walk_body(ctx, "decoder", _gpt_inputs(decoder, rows, 1, sub(m, 2)))
        if first_attr == "init_decoder":
            walks["init_decoder"] = first
        walks["decoder"] = last
        (first_macs, first_flops), (step_macs, step_flops) = body_cost(first.nodes), body_cost(last.nodes)
        steps = sub(m, add(s, 1))
        if first_flops is not None and step_flops is not None:
            ctx.set_cost(macs=add(first_macs, mul(steps, step_macs)), flops=add(first_flops, mul(steps, step_flops)))
        if ctx.explaining:
            ctx.explain("flops", f"upper bound: first run {format_count(first_flops)} + (M − S − 1 = "
                                 f"{format_dim(steps)}) × last step {format_count(step_flops)} = "
                                 f"{format_count(ctx.flops)}")
    else:
        for attr in ("encoder", "decoder"):
            if ctx.attr(attr) is not None:
                walks[attr] = walk_body(ctx, attr, [])
        if ctx.explaining:
            ctx.explain("flops", "unknown: an encoder-decoder search's per-step cache shapes are not derived")
    for name, walk in walks.items():
        ctx.subgraphs[name] = walk.nodes
        ctx.warnings.extend(walk.warnings)
    logits = walks["decoder"].outputs[0] if walks["decoder"].outputs else None
    vocab: Dim = ctx.attr("vocab_size", -1)
    if vocab == -1:
        vocab = logits.shape[-1] if logits is not None and logits.shape else None
    return b, s, m, vocab, walks["decoder"]


def _logits_dtype(walk: GraphWalk) -> Optional[str]:
    return walk.outputs[0].dtype if walk.outputs else None


@register("BeamSearch", domain=MS, meta_inputs=range(1, 12))
def beam_search(ctx: NodeContext) -> None:
    """input_ids, max_length, min_length, num_beams, num_return_sequences, length_penalty,
    repetition_penalty, vocab_mask, prefix_vocab_mask, attention_mask, decoder_input_ids,
    logits_processor."""
    beams = _count(ctx, 3, "num_beams")
    b, s, m, vocab, decoder = _search(ctx, beams)
    returned = _count(ctx, 4, "num_return_sequences")
    dtype = _logits_dtype(decoder)
    ctx.set_output(0, (b, returned, m), "int32")
    ctx.set_output(1, (b, returned), dtype)
    ctx.set_output(2, (sub(m, s), b, beams, vocab), dtype)


@register("GreedySearch", domain=MS, meta_inputs=range(1, 7))
def greedy_search(ctx: NodeContext) -> None:
    """input_ids, max_length, min_length, repetition_penalty, vocab_mask,
    prefix_vocab_mask, attention_mask: one sequence per prompt."""
    b, _, m, _, _ = _search(ctx, 1)
    ctx.set_output(0, (b, m), "int32")


@register("Sampling", domain=MS, meta_inputs=range(1, 9))
def sampling(ctx: NodeContext) -> None:
    """GreedySearch's inputs plus presence_mask and seed; filtered_logits (B, V) is the
    last step's logits after top-p filtering."""
    b, _, m, vocab, decoder = _search(ctx, 1)
    ctx.set_output(0, (b, m), "int32")
    ctx.set_output(1, (b, vocab), _logits_dtype(decoder))
