"""Report-level cost: each node's share of the total FLOPs and the known part of a
total that some unknown node costs leave undetermined.

Convention (set by the op rules): 1 MAC = 2 FLOPs; a bias add is 1 FLOP per output
element; element-wise arithmetic and activations 1 per output element; data movement
(Reshape, Transpose, Concat, Gather, Identity, Cast, Dropout, ...) 0.  Shares are exact
fractions: a symbolic node cost and a symbolic total give a share only when the node's
cost is a constant multiple of the total (``3551232*N`` of ``7102464*N`` is 50%, for
every N); otherwise the share depends on the symbols and is ``None``.
"""

from __future__ import annotations

from typing import Optional

from ..dims import Dim, Expr, is_int, sum_dims
from ..report import Report


def share(part: Dim, total: Dim) -> Optional[float]:
    """``part / total`` when it is one number for every value of the symbols, else None."""
    if part is None or total is None:
        return None
    if is_int(part) and is_int(total):
        return part / total if total else None
    if is_int(part) or is_int(total):
        return 0.0 if part == 0 else None  # a constant against a symbolic total varies
    return _ratio(part, total)


def _ratio(part: Expr, total: Expr) -> Optional[float]:
    """One ratio for every term, by cross-multiplication (exact); ``a / b`` of ints is
    correctly rounded, so it equals ``float(Fraction(a, b))``."""
    p, t = part.terms, total.terms
    if len(p) != len(t):
        return None
    if len(p) == 1:  # the usual c·N of C·N, without a dict per node
        return p[0][1] / t[0][1] if p[0][0] == t[0][0] else None
    by_mono = dict(t)
    (m0, p0) = p[0]
    t0 = by_mono.get(m0)
    if t0 is None:
        return None
    for mono, coeff in p:
        other = by_mono.get(mono)
        if other is None or coeff * t0 != p0 * other:
            return None
    return p0 / t0


def annotate_cost(report: Report) -> None:
    """Fill ``node.flops_share`` and the totals' known-part fields (top-level nodes, as
    the totals count them: a control-flow node's cost covers its body)."""
    totals = report.totals
    unknown = [n for n in report.nodes if n.flops is None]
    known = [n for n in report.nodes if n.flops is not None]
    totals.flops_known = sum_dims(n.flops for n in known)
    totals.macs_known = sum_dims(n.macs or 0 for n in known)
    totals.unknown_flop_nodes = len(unknown)
    for node in report.nodes:
        node.flops_share = share(node.flops, totals.flops)  # None while the total is unknown
