"""If, Loop and Scan: their bodies are walked like any graph, outer scope visible.

Each body's nodes are reported under the parent (``NodeReport.subgraphs``), and count
their own parameters: initializers of the body, and outer-scope weights a body node
captures, are counted at the body node that consumes them (``unique_params`` still
counts each weight once).  The parent's cost is what one execution of it costs:
If = the branch taken (unknown when the condition is not a constant and the branches
cost differently); Loop / Scan = trip count x one pass of the body (unknown when the
trip count is: a Loop whose condition depends on data).

Shapes: If merges its branches unless the condition is a folded constant: equal dims
are kept, a dim the branches disagree on is data-dependent (which branch runs decides
it: a symbol ``if_<index>``, bounded by the larger branch dim where that is decidable,
0 being no bound, and a symbol made inside a branch replaced by its bound).
Loop-carried and Scan state shapes are iterated to a fixed point (a dim that changes
between passes becomes unknown); scan outputs gain a leading trip-count dim (Loop) or
the scan length at ``scan_output_axes`` (Scan).
Scan directions reverse the order of iteration and leave shapes alone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

from ..dims import Dim, format_count, format_dim, is_int, max_dim, mul
from ..report import GraphWalk, NodeReport, body_cost
from ..tensors import Shape, TensorInfo, merge_shapes, shape_from_type
from .common import as_dim, normalize_axis
from .context import NodeContext, ShapeError
from .registry import register

MAX_PASSES = 4  # walks of a loop body while its carried shapes settle
MAX_SIMULATED_VISITS = 20_000  # node visits spent counting a Loop's passes on folded values


# What a body's formal input is bound to: (dtype, shape, folded value).
Bound = Tuple[Optional[str], Shape, Optional[npt.NDArray[Any]]]


def walk_body(ctx: NodeContext, attr: str, inputs: Sequence[Bound]) -> GraphWalk:
    """Walk the subgraph ``attr`` with (dtype, shape, value) bound to its formal inputs."""
    graph: Any = ctx.attr(attr)
    if graph is None:
        raise ShapeError(f"attribute {attr!r} is missing")
    local = {t.name for t in graph.initializer}
    formals = [vi for vi in graph.input if vi.name not in local]
    bound = {}
    for vi, (dtype, shape, value) in zip(formals, inputs, strict=False):
        declared_dtype, declared = shape_from_type(vi.type)
        bound[vi.name] = TensorInfo(vi.name, dtype or declared_dtype, refine(shape, declared), value)
    walk = ctx.walk_subgraph(graph, bound)
    for i, (vi, info) in enumerate(zip(graph.output, walk.outputs, strict=False)):
        dtype, declared = shape_from_type(vi.type)
        walk.outputs[i] = TensorInfo(info.name, info.dtype or dtype, refine(info.shape, declared), info.value)
    return walk


def refine(shape: Shape, declared: Shape) -> Shape:
    """``shape`` with its unknown dims filled in from the body's declared type."""
    if shape is None or declared is None:
        return declared if shape is None else shape
    if len(shape) != len(declared):
        return shape
    return tuple(d if d is not None else e for d, e in zip(shape, declared, strict=False))


@register("If", meta_inputs=(0,))
def if_(ctx: NodeContext) -> None:
    then = walk_body(ctx, "then_branch", [])
    other = walk_body(ctx, "else_branch", [])
    ctx.subgraphs.update(then_branch=then.nodes, else_branch=other.nodes)
    ctx.warnings.extend(then.warnings + other.warnings)
    cond = ctx.value(0)
    taken = None
    if cond is not None and cond.dtype != object and cond.size == 1:
        taken = then if bool(cond.reshape(-1)[0]) else other
    for i in range(len(ctx.node.output)):
        if taken is not None:
            out = _output(taken, i)
            ctx.set_output(i, out.shape, out.dtype, out.value)
        else:
            a, b = _output(then, i), _output(other, i)
            ctx.set_output(i, _merge_branches(ctx, i, a.shape, b.shape), a.dtype or b.dtype)

    then_cost, else_cost = body_cost(then.nodes), body_cost(other.nodes)
    if taken is not None:
        ctx.set_cost(*body_cost(taken.nodes))
    elif then_cost == else_cost:
        ctx.set_cost(*then_cost)
    if ctx.explaining:
        which = "" if taken is None else f"; condition is constant: {'then' if taken is then else 'else'} runs"
        ctx.explain("flops", f"then branch {format_count(then_cost[1])}, else branch "
                             f"{format_count(else_cost[1])}{which}")


def _merge_branches(ctx: NodeContext, i: int, a: Shape, b: Shape) -> Shape:
    """Output ``i`` of an If whose branch is chosen at run time: dims the branches agree
    on, a data-dependent symbol for each dim they do not (both known)."""
    merged = merge_shapes(a, b)
    if merged is None or a is None or b is None:
        return merged
    out: List[Dim] = []
    for j, (x, y) in enumerate(zip(a, b, strict=True)):
        if x == y or x is None or y is None:
            out.append(merged[j])
            continue
        x, y = ctx.inner_bound(x), ctx.inner_bound(y)
        bound = None if x is None or y is None else y if x == 0 else x if y == 0 else max_dim(x, y)
        out.append(ctx.data_dependent(bound, ctx.node.output[i], j))
    return tuple(out)


@register("Loop", meta_inputs=(0, 1), scalar_literals=True)
def loop(ctx: NodeContext) -> None:
    body: Any = ctx.attr("body")
    carried = [ctx.inputs[i] for i in range(2, ctx.n_inputs)]
    # The body only runs while the condition holds: its condition input is always true.
    fixed: List[Bound] = [("int64", (), None), ("bool", (), np.array(True))]  # iteration number, condition
    walk, states = _fixed_point(ctx, fixed, carried, offset=1)
    ctx.subgraphs["body"] = walk.nodes
    ctx.warnings.extend(walk.warnings)  # the reported pass only, not every fixed-point pass

    trip = _trip_count(ctx, walk, carried, states)
    if trip is None:   # decided at run time: a symbol of its own, at most M when M is known
        m = ctx.value(0) if ctx.has_input(0) else None
        trip = ctx.data_dependent(None if m is None or m.size != 1 else as_dim(m.reshape(-1)[0]),
                                  *ctx.node.output)
    for i, (info, shape) in enumerate(zip(carried, states, strict=False)):
        ctx.set_output(i, shape, info.dtype if info else _output(walk, 1 + i).dtype)
    for k in range(len(body.output) - 1 - len(carried)):
        out = _output(walk, 1 + len(carried) + k)
        shape = None if out.shape is None else (trip, *out.shape)
        ctx.set_output(len(carried) + k, shape, out.dtype)
    _repeat_cost(ctx, trip, walk.nodes, "trip count")


@register("Scan")
def scan(ctx: NodeContext) -> None:
    """Scan-9+: scan axes per input / output.  Scan-8: input 0 is sequence_lens and every
    input and output has a leading batch axis (the scan axis is 1); one body pass per
    batch entry and scan step."""
    batched = ctx.opset < 9
    m = int(ctx.attr("num_scan_inputs", 0))
    first = 1 if batched else 0
    n = ctx.n_inputs - first - m
    if m <= 0 or n < 0:
        raise ShapeError(f"num_scan_inputs={m} does not fit {ctx.n_inputs} inputs")
    in_axes = [1] * m if batched else list(ctx.attr("scan_input_axes", None) or [0] * m)
    states_in = ctx.inputs[first:first + n]
    batch: Dim = 1
    if batched:
        batch = next((i.shape[0] for i in ctx.inputs[first:] if i is not None and i.shape), None)
        states_in = [None if i is None else replace(i, shape=i.shape[1:] if i.shape else None) for i in states_in]
    length: Dim = None
    slices: List[Bound] = []
    for j, axis in enumerate(in_axes):
        info = ctx.inputs[first + n + j]
        if info is None or info.shape is None:
            slices.append((info.dtype if info else None, None, None))
            continue
        dims = info.shape
        axis = normalize_axis(axis, len(dims))
        if length is None:
            length = dims[axis]
        elif is_int(length) and is_int(dims[axis]) and length != dims[axis]:
            raise ShapeError(f"scan inputs have lengths {length} and {dims[axis]}")
        kept = dims[2:] if batched else dims[:axis] + dims[axis + 1:]
        slices.append((info.dtype, kept, None))
    walk, states = _fixed_point(ctx, [], states_in, offset=0, extra=slices)
    ctx.subgraphs["body"] = walk.nodes
    ctx.warnings.extend(walk.warnings)  # the reported pass only, not every fixed-point pass

    lead = (batch,) if batched else ()
    for i, (info, shape) in enumerate(zip(states_in, states, strict=False)):
        ctx.set_output(i, None if shape is None else (*lead, *shape),
                       info.dtype if info else _output(walk, i).dtype)
    n_scan_out = len(ctx.node.output) - n
    out_axes = [0] * n_scan_out if batched else list(ctx.attr("scan_output_axes", None) or [0] * n_scan_out)
    for k, axis in enumerate(out_axes):
        out = _output(walk, n + k)
        shape = None
        if out.shape is not None:
            axis = normalize_axis(axis, len(out.shape) + 1)
            shape = (*lead, *out.shape[:axis], length, *out.shape[axis:])
        ctx.set_output(n + k, shape, out.dtype)
    _repeat_cost(ctx, mul(batch, length), walk.nodes, "batch × scan length" if batched else "scan length")


def _fixed_point(ctx: NodeContext, fixed: Sequence[Bound], carried: Sequence[Optional[TensorInfo]], offset: int,
                 extra: Sequence[Bound] = ()) -> Tuple[GraphWalk, List[Shape]]:
    """Walk the body until the carried shapes stop changing; (last walk, carried shapes).

    ``fixed`` (dtype, shape) pairs come before the carried values in the body's inputs,
    ``extra`` after them; the body yields the carried values from output ``offset`` on.
    """
    dtypes = [c.dtype if c is not None else None for c in carried]
    shapes = [c.shape if c is not None else None for c in carried]
    for _ in range(MAX_PASSES):
        walk = walk_body(ctx, "body", [*fixed, *((d, s, None) for d, s in zip(dtypes, shapes, strict=False)), *extra])
        produced = [_output(walk, offset + i).shape for i in range(len(carried))]
        merged = [merge_shapes(a, b) for a, b in zip(shapes, produced, strict=False)]
        if merged == shapes:
            return walk, shapes
        shapes, previous = merged, shapes
    # Still changing: whatever changed in the last pass may change again.
    return walk, [s if s == p else None for s, p in zip(shapes, previous, strict=False)]


def _trip_count(ctx: NodeContext, walk: GraphWalk, carried: Sequence[Optional[TensorInfo]],
                states: Sequence[Shape]) -> Dim:
    """Iterations a Loop runs, or None.

    The body was walked with its condition input true, so a body condition that folds
    to true stays true on every pass (by induction): the loop runs M times.  Otherwise
    the passes are counted by running the body on folded values (a counter).
    """
    if ctx.has_input(1):
        cond = ctx.value(1)
        if cond is None or cond.dtype == object or cond.size != 1:
            return None
        if not bool(cond.reshape(-1)[0]):
            return 0
    limit = None  # no M: the condition alone ends the loop
    if ctx.has_input(0):
        m = ctx.value(0)
        if m is None or m.size != 1:
            return None
        limit = as_dim(m.reshape(-1)[0])
    if _true(_output(walk, 0).value):
        return limit
    if limit is not None and not is_int(limit):
        return None  # min(symbolic M, passes) is not one number
    return _count_passes(ctx, carried, states, limit)


def _count_passes(ctx: NodeContext, carried: Sequence[Optional[TensorInfo]], states: Sequence[Shape],
                  limit: Optional[int]) -> Optional[int]:
    """Run the body pass by pass with the iteration number and the carried values folded;
    the count is exact when each pass's condition folds (e.g. ``i + 1 < 3``).  Bounded by
    MAX_SIMULATED_VISITS node visits; None when the condition does not fold."""
    if limit == 0:
        return 0
    passes = MAX_SIMULATED_VISITS // max(1, len(ctx.attr("body").node))
    dtypes = [c.dtype if c is not None else None for c in carried]
    values = [c.value if c is not None else None for c in carried]
    for done in range(passes if limit is None else min(passes, limit)):
        inputs: List[Bound] = [("int64", (), np.array(done, dtype=np.int64)), ("bool", (), np.array(True))]
        inputs += [(d, s if v is None else tuple(v.shape), v) for d, s, v in zip(dtypes, states, values, strict=False)]
        walk = walk_body(ctx, "body", inputs)
        cond = _output(walk, 0).value
        if cond is None or cond.dtype == object or cond.size != 1:
            return None
        if not bool(cond.reshape(-1)[0]) or done + 1 == limit:
            return done + 1
        values = [_output(walk, 1 + i).value for i in range(len(carried))]
    return None


def _true(value: Optional[npt.NDArray[Any]]) -> bool:
    return value is not None and value.dtype != object and value.size == 1 and bool(value.reshape(-1)[0])


def _repeat_cost(ctx: NodeContext, count: Dim, nodes: Sequence[NodeReport], what: str) -> None:
    macs, flops = body_cost(nodes)
    if count is not None and flops is not None:
        ctx.set_cost(macs=mul(count, macs), flops=mul(count, flops))
    if ctx.explaining:
        ctx.explain("flops", f"{what} {format_dim(count)} × body {format_count(flops)} = "
                             f"{format_count(ctx.flops)}")


def _output(walk: GraphWalk, i: int) -> TensorInfo:
    return walk.outputs[i] if i < len(walk.outputs) else TensorInfo("", None, None)
