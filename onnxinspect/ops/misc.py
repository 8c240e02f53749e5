"""Small ops of no larger family: LpNormalization, Det.

Cost convention (no MACs unless said):

* LpNormalization: 3 FLOPs per element (``|x|`` or ``x²``, the sum along the axis, the
  division); the per-row root is ignored.
* Det of ``(*, M, M)``: an LU elimination, MACs = batch · ⌊M³ / 3⌋, FLOPs = 2·MACs.
"""

from __future__ import annotations

from ..dims import floordiv, format_count, format_dim, format_shape, is_int, mul, prod
from .common import dims_text, normalize_axis
from .context import NodeContext, ShapeError
from .norm import per_element_cost
from .registry import register

LP_NORM_FLOPS = 3


@register("LpNormalization")
def lp_normalization(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    normalize_axis(int(ctx.attr("axis", -1)), len(x))
    p = int(ctx.attr("p", 2))
    if p not in (1, 2):
        raise ShapeError(f"p must be 1 or 2, got {p}")
    ctx.set_output(0, x)
    per_element_cost(ctx, x, LP_NORM_FLOPS, f"L{p} term, sum, divide")


@register("Det")
def det(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    if len(x) < 2:
        raise ShapeError(f"Det needs (*, M, M), got {format_shape(x)}")
    m, n = x[-2:]
    if is_int(m) and is_int(n) and m != n:
        raise ShapeError(f"Det needs square matrices, got {format_shape(x)}")
    m = m if m is not None else n
    batch = tuple(x[:-2])
    ctx.set_output(0, batch)
    ctx.set_cost(macs=mul(prod(batch), floordiv(mul(m, m, m), 3)))
    if ctx.explaining:
        ctx.explain("flops", f"LU: MACs = batch·⌊M³/3⌋ = {dims_text([prod(batch)])}·⌊{format_dim(m)}³/3⌋ = "
                             f"{format_count(ctx.macs)}; FLOPs = 2·MACs = {format_count(ctx.flops)}")
