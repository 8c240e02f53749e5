"""Losses: NegativeLogLikelihoodLoss (opsets 12, 13, 22) and SoftmaxCrossEntropyLoss
(opsets 12, 13); the later versions only widen the types.

Scores are ``(N, C, d1, ..., dk)``, targets ``(N, d1, ..., dk)``.  With ``reduction``
"none" the loss has the target's shape, otherwise ("mean", the schema default, or
"sum") it is a scalar.  The targets (class indices) and the per-class weights (a fixed
weighting chosen by the user, not learned) are meta inputs, never parameters.

Cost convention, per target element: 1 FLOP (the negation) + 1 with class weights (the
multiply) + 1 when reduced (the sum) + 1 for "mean" with weights (the weight total);
the final division is not counted.  SoftmaxCrossEntropyLoss adds the log-softmax over
the classes: 3 FLOPs per score, as LogSoftmax.  No MACs.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

from ..dims import Dim, add, format_count, mul, prod
from .common import merge_dims
from .context import NodeContext, ShapeError
from .registry import register

SOFTMAX_FLOPS = 3


def _target_shape(scores: Sequence[Dim], target: Optional[Sequence[Dim]]) -> Tuple[Dim, ...]:
    """The target's shape: scores without the class axis, each dim as specific as the
    two shapes make it."""
    if len(scores) < 2:
        raise ShapeError(f"scores {tuple(scores)} need a batch and a class axis")
    implied = (scores[0], *scores[2:])
    if target is None:
        return implied
    if len(target) != len(implied):
        raise ShapeError(f"target rank {len(target)} does not fit scores of rank {len(scores)}")
    return tuple(merge_dims([a, b]) for a, b in zip(implied, target, strict=True))


def _nll(ctx: NodeContext, scores: Sequence[Dim], extra: Dim, why: str) -> None:
    """Output 0 and the cost: the NLL per target element plus ``extra`` FLOPs."""
    target = _target_shape(scores, ctx.shape_or_none(1))
    reduction = ctx.attr("reduction", "mean")
    if reduction not in ("none", "mean", "sum"):
        raise ShapeError(f"unknown reduction {reduction!r}")
    ctx.set_output(0, target if reduction == "none" else ())
    weighted = ctx.has_input(2)
    per = 1 + weighted + (reduction != "none") + (reduction == "mean" and weighted)
    flops = add(mul(per, prod(target)), extra)
    ctx.set_cost(macs=0 if flops is not None else None, flops=flops)
    if ctx.explaining:
        ctx.explain("flops", f"FLOPs = {per}·targets (negate{', weight' if weighted else ''}"
                             f"{', sum' if reduction != 'none' else ''}) {why}= {format_count(flops)}")


@register("NegativeLogLikelihoodLoss", meta_inputs=(1, 2))
def negative_log_likelihood_loss(ctx: NodeContext) -> None:
    _nll(ctx, ctx.shape(0), 0, "")


@register("SoftmaxCrossEntropyLoss", meta_inputs=(1, 2))
def softmax_cross_entropy_loss(ctx: NodeContext) -> None:
    scores = ctx.shape(0)
    ctx.set_output(1, scores)   # log_prob
    _nll(ctx, scores, mul(SOFTMAX_FLOPS, prod(scores)), "+ 3·scores (log-softmax) ")
