"""Recurrent layers: RNN, GRU, LSTM (every direction, ``layout`` 0 and 1, optional inputs).

Shapes (``layout=0``; ``layout=1`` swaps the sequence and batch axes to batch-first):
X ``(seq, batch, input)`` → Y ``(seq, dirs, batch, hidden)``, Y_h / Y_c ``(dirs, batch, hidden)``;
batch-first: X ``(batch, seq, input)`` → Y ``(batch, seq, dirs, hidden)``, Y_h ``(batch, dirs, hidden)``.
``hidden`` is the ``hidden_size`` attribute, else read from W ``(dirs, gates·hidden, input)``
or R ``(dirs, gates·hidden, hidden)``.

Parameters: W, R, B ``(dirs, 2·gates·hidden)`` and LSTM's peepholes P ``(dirs, 3·hidden)``.
sequence_lens and the initial states are data (PyTorch exports a zero initial state as
a constant), never weights.

Cost convention (gates = 1 RNN, 3 GRU, 4 LSTM), per time step and direction:

* MACs = batch · gates · hidden · (input + hidden): the input and recurrent matmuls.
* FLOPs = 2·MACs + batch · hidden · e, the element-wise work per hidden unit:
  per gate output 1 for its activation, plus 2 for the two bias adds when B is given;
  then the state update: GRU 5 (reset ⊙, ``(1 − z)·h̃ + z·H``), LSTM 5
  (``f·C + i·c``, ``o·tanh(C)``), plus 6 for LSTM peepholes when P is given.

Totals multiply by seq · dirs; sequence_lens is ignored (every step counted, an upper bound).
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

from ..dims import Dim, add, exact_div, format_count, format_dim, format_shape, is_int, mul, sum_dims
from ..tensors import Shape
from .common import dims_text
from .context import NodeContext, ShapeError
from .registry import register

_DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}
_UPDATE_FLOPS = {"RNN": 0, "GRU": 5, "LSTM": 5}
_PEEPHOLE_FLOPS = 6
_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
_STATE = {"RNN": "Y_h", "GRU": "Y_h", "LSTM": "Y_h / Y_c"}


def _agree(what: str, a: Dim, b: Dim) -> Dim:
    """Two sources of one dim: the known one, or a ShapeError when both are ints and differ."""
    if is_int(a) and is_int(b) and a != b:
        raise ShapeError(f"{what} is {a} by one input and {b} by another")
    return a if is_int(a) or b is None else b


def _hidden(ctx: NodeContext, gates: int, w: Shape, r: Shape) -> Dim:
    hidden: Dim = int(ctx.attr("hidden_size")) if ctx.has_attr("hidden_size") else None
    if w is not None and len(w) == 3:
        hidden = _agree("hidden_size", hidden, exact_div(w[1], gates))
    if r is not None and len(r) == 3:
        hidden = _agree("hidden_size", hidden, r[2])
    return hidden


@register("RNN", "GRU", "LSTM", meta_inputs=(4, 5, 6))
def recurrent(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    if len(x) != 3:
        raise ShapeError(f"X must be 3-D, got {format_shape(x)}")
    gates = _GATES[ctx.op_type]
    batch_first = ctx.opset >= 14 and int(ctx.attr("layout", 0)) == 1
    seq, batch, size = (x[1], x[0], x[2]) if batch_first else x
    direction = str(ctx.attr("direction", "forward"))
    if direction not in _DIRECTIONS:
        raise ShapeError(f"unknown direction {direction!r}")
    dirs = _DIRECTIONS[direction]
    w, r = ctx.shape_or_none(1), ctx.shape_or_none(2)
    for name, weight in (("W", w), ("R", r)):
        if weight is not None:
            if len(weight) != 3:
                raise ShapeError(f"{name} must be 3-D, got {format_shape(weight)}")
            _agree("num_directions", dirs, weight[0])
    if w is not None:
        size = _agree("input_size", size, w[2])
    hidden = _hidden(ctx, gates, w, r)

    y = (batch, seq, dirs, hidden) if batch_first else (seq, dirs, batch, hidden)
    state = (batch, dirs, hidden) if batch_first else (dirs, batch, hidden)
    ctx.set_output(0, y)
    for i in range(1, len(ctx.outputs)):
        ctx.set_output(i, state)

    has_bias, has_peepholes = ctx.has_input(3), ctx.op_type == "LSTM" and ctx.has_input(7)
    per_unit = gates * (1 + 2 * has_bias) + _UPDATE_FLOPS[ctx.op_type] + _PEEPHOLE_FLOPS * has_peepholes
    steps = mul(seq, dirs)
    macs = mul(steps, batch, gates, hidden, add(size, hidden))
    updates = mul(steps, batch, hidden, per_unit)  # (known whenever macs is)
    ctx.set_cost(macs=macs, flops=None if macs is None or updates is None else 2 * macs + updates)
    if ctx.explaining:
        _explain_params(ctx, dirs, gates, size, hidden)
        ctx.explain("shape", f"X {format_shape(x)}: seq = {format_dim(seq)}, batch = {format_dim(batch)}, "
                             f"input = {format_dim(size)}, hidden = {format_dim(hidden)}, {dirs} direction(s) "
                             f"→ Y {format_shape(y)}, {_STATE[ctx.op_type]} {format_shape(state)}")
        _explain_flops(ctx, (seq, dirs, batch, gates, hidden), size, per_unit)


def _explain_flops(ctx: NodeContext, factors: Sequence[Dim], size: Dim, per_unit: int) -> None:
    hidden = factors[-1]
    ctx.explain("flops", f"MACs = seq·dirs·batch·gates·hidden·(input + hidden) = "
                         f"{dims_text(factors)}·({format_dim(size)} + "
                         f"{format_dim(hidden)}) = {format_count(ctx.macs)}; FLOPs = 2·MACs + "
                         f"seq·dirs·batch·hidden·{per_unit} (activations, biases, state update) = "
                         f"{format_count(ctx.flops)}")


def _explain_params(ctx: NodeContext, dirs: int, gates: int, size: Dim, hidden: Dim) -> None:
    slots = (1, 2, 3, 7)  # W, R, B, P
    const = [ctx.has_input(slot) and ctx.input(slot).source for slot in slots]
    counted = [ctx.input(slot) for slot, c in zip(slots, const, strict=True) if c]
    if not counted or not all(is_int(t.size) for t in counted):
        return
    d, g, h, i = (format_dim(v) for v in (dirs, gates, hidden, size))
    terms: List[Tuple[str, str]] = []
    if const[0] and const[1]:
        terms.append((f"dirs·{g}·hidden·(input + hidden)", f"{d}·{g}·{h}·({i} + {h})"))
    elif const[0] or const[1]:
        terms.append((f"dirs·{g}·hidden·{'input (W)' if const[0] else 'hidden (R)'}",
                      f"{d}·{g}·{h}·{i if const[0] else h}"))
    if const[2]:
        terms.append((f"dirs·{2 * gates}·hidden (B)", f"{d}·{2 * gates}·{h}"))
    if const[3]:
        terms.append(("dirs·3·hidden (P)", f"{d}·3·{h}"))
    total = sum_dims(t.size for t in counted)
    ctx.explain("params", " + ".join(t for t, _ in terms) + " = " + " + ".join(n for _, n in terms) +
                f" = {format_count(total)}")
