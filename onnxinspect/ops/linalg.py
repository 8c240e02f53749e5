"""Gemm, MatMul (batched, broadcasting, 1-D operands), MatMulInteger, QLinearMatMul, Einsum.

Cost convention (one multiply-accumulate = 1 MAC = 2 FLOPs):

* MatMul: MACs = batch · M · N · K (batch = the broadcast leading dims).
* Gemm ``Y = alpha·A'·B' + beta·C``: MACs = M · N · K; FLOPs = 2·MACs, plus one per
  output element for adding C (the bias), one more if ``beta ≠ 1`` and one if ``alpha ≠ 1``.
* Einsum with two or more operands: MACs = (operands − 1) · the product of every index
  size (each output element sums products over the contracted indices); one operand:
  one FLOP per input element when it sums indices away, none for a pure transpose.

Parameters: a constant B (and C) of Gemm/MatMul are weights: ``(K + 1)·N`` for a
dense layer with bias.  The quantized forms' scales and zero points are metadata.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from ..dims import Dim, format_count, format_dim, format_shape, is_int, mul, prod
from .common import broadcast, broadcast_dims, dims_text
from .context import NodeContext, ShapeError
from .registry import register


def matmul_dims(a: Sequence[Dim], b: Sequence[Dim]) -> Tuple[Tuple[Dim, ...], Tuple[Dim, ...], Dim, Dim, Dim]:
    """numpy.matmul shapes: ``(output, batch, M, K, N)``; 1-D operands get a 1 added and removed."""
    if not a or not b:
        raise ShapeError("MatMul operands must have rank >= 1")
    a2: Tuple[Dim, ...] = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    b2: Tuple[Dim, ...] = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    m, k = a2[-2:]
    kb, n = b2[-2:]
    if is_int(k) and is_int(kb) and k != kb:
        raise ShapeError(f"inner dims differ: {format_shape(a)} @ {format_shape(b)}")
    batch = broadcast([a2[:-2], b2[:-2]])
    out = batch + ((m,) if len(a) > 1 else ()) + ((n,) if len(b) > 1 else ())
    return out, batch, m, k if k is not None else kb, n


def _matmul(ctx: NodeContext, a_slot: int, b_slot: int, dtype: Optional[str]) -> None:
    a, b = ctx.shape(a_slot), ctx.shape(b_slot)
    out, batch, m, k, n = matmul_dims(a, b)
    ctx.set_output(0, out, dtype)
    macs = mul(prod(batch), m, n, k)
    ctx.set_cost(macs=macs)
    if ctx.explaining:
        ctx.explain("shape", f"{format_shape(a)} @ {format_shape(b)} → {format_shape(out)}")
        ctx.explain("flops", f"MACs = batch·M·N·K = {dims_text([prod(batch), m, n, k])} = "
                             f"{format_count(macs)} (K from A's last dim); FLOPs = 2·MACs = "
                             f"{format_count(ctx.flops)}")


@register("MatMul")
def matmul(ctx: NodeContext) -> None:
    _matmul(ctx, 0, 1, ctx.dtype(0))


@register("MatMulInteger", meta_inputs=(2, 3))
def matmul_integer(ctx: NodeContext) -> None:
    _matmul(ctx, 0, 1, "int32")


@register("QLinearMatMul", meta_inputs=(1, 2, 4, 5, 6, 7))
def qlinear_matmul(ctx: NodeContext) -> None:
    _matmul(ctx, 0, 3, ctx.dtype(7) or ctx.dtype(0))


@register("Gemm")
def gemm(ctx: NodeContext) -> None:
    a, b = ctx.shape(0), ctx.shape(1)
    if len(a) != 2 or len(b) != 2:
        raise ShapeError(f"Gemm needs 2-D A and B, got {format_shape(a)} and {format_shape(b)}")
    trans_a, trans_b = bool(ctx.attr("transA", 0)), bool(ctx.attr("transB", 0))
    m, k = (a[1], a[0]) if trans_a else a
    kb, n = (b[1], b[0]) if trans_b else b
    if is_int(k) and is_int(kb) and k != kb:
        raise ShapeError(f"inner dims differ: A' has K={k}, B' has K={kb}")
    k = k if k is not None else kb
    out = (m, n)
    c = ctx.shape_or_none(2)
    if c is not None:
        if len(c) > 2:
            raise ShapeError(f"C {format_shape(c)} does not broadcast to (M, N)")
        broadcast([out, c])  # raises ShapeError when C cannot broadcast to (M, N)
    ctx.set_output(0, out)

    alpha, beta = float(ctx.attr("alpha", 1.0)), float(ctx.attr("beta", 1.0))
    has_c = ctx.has_input(2)
    extra = [name for name, used in (("alpha", alpha != 1.0), ("C", has_c), ("beta", has_c and beta != 1.0))
             if used]
    macs = mul(m, n, k)
    volume = prod(out)  # (known whenever macs is)
    ctx.set_cost(macs=macs, flops=None if macs is None or volume is None else 2 * macs + len(extra) * volume)
    if ctx.explaining:
        _gemm_explain(ctx, a, trans_a, m, n, k, extra)


def _gemm_explain(ctx: NodeContext, a: Sequence[Dim], trans_a: bool, m: Dim, n: Dim, k: Dim, extra: List[str]) -> None:
    weight, bias = ctx.input(1), ctx.inputs[2] if ctx.has_input(2) else None
    counted = [t for t in (weight, bias) if t is not None and t.source]
    total = sum(t.size for t in counted if is_int(t.size))
    if weight.source and bias is not None and bias.source and bias.size == n:
        ctx.explain("params", f"(n + 1)·m = ({format_dim(k)} + 1)·{format_dim(n)} = {format_count(total)}")
    elif counted:
        ctx.explain("params", " + ".join(f"{format_shape(t.shape)} {'B' if t is weight else 'C'}"
                                         for t in counted) + f" = {format_count(total)}")
    where = "rows" if trans_a else "columns"
    ctx.explain("shape", f"K = {format_dim(k)}: the {where} of A {format_shape(a)}; "
                         f"Y = (rows of A, columns of B) = ({format_dim(m)}, {format_dim(n)})")
    per_output = f" + {len(extra)}·M·N ({', '.join(extra)})" if extra else ""
    ctx.explain("flops", f"MACs = M·N·K = {dims_text([m, n, k])} = {format_count(ctx.macs)}; "
                         f"FLOPs = 2·MACs{per_output} = {format_count(ctx.flops)}")


def parse_einsum(equation: str, ranks: List[int]) -> Tuple[List[List[str]], List[str]]:
    """Terms of ``equation`` as letter lists, ``...`` expanded to ``'.0', '.1', ...``
    (numbered from the right, so broadcast ellipsis dims line up), and the output term."""
    text = equation.replace(" ", "")
    lhs, arrow, rhs = text.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ShapeError(f"equation {equation!r} has {len(terms)} operands, the node {len(ranks)}")
    expanded: List[List[str]] = []
    widest = 0
    for term, rank in zip(terms, ranks, strict=True):  # (as many: checked above)
        letters, width = _expand(term, rank, equation)
        widest = max(widest, width)
        expanded.append(letters)
    if arrow:
        output, _ = _expand(rhs, None, equation, widest)
    else:
        counts: Dict[str, int] = {}
        for letters in expanded:
            for letter in letters:
                counts[letter] = counts.get(letter, 0) + 1
        dots = [f".{i}" for i in reversed(range(widest))]
        output = dots + sorted(c for c, n in counts.items() if n == 1 and not c.startswith("."))
    return expanded, output


def _expand(term: str, rank: Optional[int], equation: str, width: int = 0) -> Tuple[List[str], int]:
    if term.count("...") > 1 or "." in term.replace("...", ""):
        raise ShapeError(f"bad ellipsis in einsum equation {equation!r}")
    head, dots, tail = term.partition("...")
    if not all(c.isalpha() for c in head + tail):
        raise ShapeError(f"einsum equation {equation!r} has a term {term!r} that is not letters")
    if rank is not None:
        width = rank - len(head) - len(tail)
        if width < 0 or (width and not dots):
            raise ShapeError(f"term {term!r} of {equation!r} does not fit a rank-{rank} operand")
    elif not dots:
        width = 0
    return list(head) + [f".{i}" for i in reversed(range(width))] + list(tail), width


@register("Einsum")
def einsum(ctx: NodeContext) -> None:
    shapes = [ctx.shape(i) for i in range(ctx.n_inputs)]
    terms, output = parse_einsum(str(ctx.attr("equation", "")), [len(s) for s in shapes])
    sizes: Dict[str, Dim] = {}
    for letters, shape in zip(terms, shapes, strict=True):  # one term per operand (parse_einsum checks)
        for letter, dim in zip(letters, shape, strict=True):  # a term has one letter per dim (_expand)
            sizes[letter] = broadcast_dims(sizes[letter], dim) if letter in sizes else dim
    missing = [c for c in output if c not in sizes]
    if missing:
        raise ShapeError(f"output index {missing[0]!r} appears in no operand")
    out = tuple(sizes[c] for c in output)
    ctx.set_output(0, out)
    volume = prod(sizes.values())
    if len(shapes) > 1:
        ctx.set_cost(macs=mul(len(shapes) - 1, volume))
    else:
        flops = prod(shapes[0]) if set(terms[0]) - set(output) else 0
        ctx.set_cost(flops=flops)
    if ctx.explaining:
        ctx.explain("shape", f"{ctx.attr('equation')}: " + ", ".join(
            f"{c}={format_dim(d)}" for c, d in sizes.items() if not c.startswith(".")) +
            f" → {format_shape(out)}")
        if len(shapes) > 1:
            ctx.explain("flops", f"MACs = (operands − 1)·every index size = "
                                 f"{dims_text([len(shapes) - 1, *sizes.values()])} = {format_count(ctx.macs)}")
