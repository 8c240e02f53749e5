"""Sequences and optionals as values: SequenceEmpty / Construct / At / Insert / Erase /
Length, SplitToSequence, ConcatFromSequence, SequenceMap, Optional, OptionalHasElement,
OptionalGetElement.

A sequence's info (:class:`~onnxinspect.tensors.SequenceInfo`) carries its length and,
while every step keeps the positions apart (Construct, Split with known sizes, Insert /
Erase at a folded position), each position's shape: SequenceAt and ConcatFromSequence then
give exact shapes.  Where a position is not known, the element type every position fits
stands in (dims that differ between positions unknown).

Cost: none of them computes (0 FLOPs), except SequenceMap, whose body runs once per
element: the sum of its passes (length × one pass when the positions are not told apart).
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ..dims import Dim, add, ceildiv, format_count, format_dim, is_int, mul, sub, sum_dims
from ..dtypes import dtype_name
from ..report import body_cost
from ..tensors import OptionalInfo, SequenceInfo, TensorInfo, info_from_type, merge_infos, sequence_like, sequence_of
from .common import as_dim, merge_dims, normalize_axis
from .context import NodeContext, ShapeError, Unknown
from .control_flow import Bound, walk_body
from .registry import register


def _sequence(ctx: NodeContext, i: int) -> SequenceInfo:
    info = ctx.input(i)
    if not isinstance(info, SequenceInfo):
        raise Unknown(f"input {i} is not known to be a sequence")
    return info


def _position(ctx: NodeContext, i: int, length: Dim) -> Optional[int]:
    """A folded position operand in ``[-length, length)`` made non-negative; None when not folded."""
    value = ctx.value(i)
    if value is None or value.dtype == object or value.size != 1 or not is_int(length):
        return None
    pos = int(value.reshape(-1)[0])
    if not -length <= pos < max(length, 1) and not (ctx.op_type == "SequenceInsert" and pos == length):
        raise ShapeError(f"position {pos} is outside a sequence of length {length}")
    return pos + length if pos < 0 else pos


def _zero_cost(ctx: NodeContext) -> None:
    ctx.set_cost(macs=0, flops=0)


def _tensor(info: TensorInfo) -> TensorInfo:
    return TensorInfo("", info.dtype, info.shape, info.value)


@register("SequenceEmpty")
def sequence_empty(ctx: NodeContext) -> None:
    dtype = dtype_name(int(ctx.attr("dtype", 1))) or "float32"   # the schema's default: float
    ctx.set_info(0, sequence_of("", [], TensorInfo("", dtype, None)))
    _zero_cost(ctx)


@register("SequenceConstruct")
def sequence_construct(ctx: NodeContext) -> None:
    ctx.set_info(0, sequence_of("", [ctx.input(i) for i in range(ctx.n_inputs)]))
    _zero_cost(ctx)


@register("SequenceAt", meta_inputs=(1,))
def sequence_at(ctx: NodeContext) -> None:
    seq = _sequence(ctx, 0)
    _zero_cost(ctx)
    pos = _position(ctx, 1, seq.length)
    item = seq.items[pos] if seq.items is not None and pos is not None else seq.elem
    if item is None:
        raise Unknown("the element type is unknown")
    ctx.set_output(0, item.shape, item.dtype, item.value)


@register("SequenceInsert", meta_inputs=(2,))
def sequence_insert(ctx: NodeContext) -> None:
    seq, tensor = _sequence(ctx, 0), ctx.input(1)
    _zero_cost(ctx)
    pos = seq.length if not ctx.has_input(2) else _position(ctx, 2, seq.length)
    if seq.items is not None and is_int(pos):
        items: List[TensorInfo] = list(seq.items)
        items.insert(pos, tensor)
        ctx.set_info(0, sequence_of("", items))
        return
    elem = merge_infos([seq.elem, tensor]) if seq.elem is not None else None
    ctx.set_info(0, sequence_like("", elem, add(seq.length, 1)))


@register("SequenceErase", meta_inputs=(1,))
def sequence_erase(ctx: NodeContext) -> None:
    seq = _sequence(ctx, 0)
    _zero_cost(ctx)
    if is_int(seq.length) and seq.length == 0:
        raise ShapeError("erasing from an empty sequence")
    pos = (seq.length - 1 if is_int(seq.length) else None) if not ctx.has_input(1) else \
        _position(ctx, 1, seq.length)
    if seq.items is not None and pos is not None:
        ctx.set_info(0, sequence_of("", [*seq.items[:pos], *seq.items[pos + 1:]], seq.elem))
        return
    ctx.set_info(0, sequence_like("", seq.elem, sub(seq.length, 1)))


@register("SequenceLength")
def sequence_length(ctx: NodeContext) -> None:
    _zero_cost(ctx)
    info = ctx.input(0)
    length = info.length if isinstance(info, SequenceInfo) else None
    value = None if length is None else np.array(length, dtype=np.int64 if is_int(length) else object)
    ctx.set_output(0, (), "int64", value)


@register("SplitToSequence", meta_inputs=(1,))
def split_to_sequence(ctx: NodeContext) -> None:
    """No ``split``: pieces of 1 along ``axis`` (dropped when ``keepdims`` is 0); a scalar:
    pieces of that size, the last one shorter; a 1-D tensor: those sizes."""
    x = ctx.shape(0)
    _zero_cost(ctx)
    axis = normalize_axis(int(ctx.attr("axis", 0)), len(x))
    size = x[axis]
    dtype = ctx.dtype(0)

    def piece(n: Dim, keep: bool = True) -> TensorInfo:
        return TensorInfo("", dtype, (*x[:axis], n, *x[axis + 1:]) if keep else (*x[:axis], *x[axis + 1:]))

    if not ctx.has_input(1):
        keep = bool(ctx.attr("keepdims", 1))
        one = piece(1, keep)
        ctx.set_info(0, sequence_of("", [one] * size) if is_int(size) else sequence_like("", one, size))
        return
    split = ctx.value(1)
    if split is None:
        ctx.set_info(0, sequence_like("", piece(None), None))
        return
    sizes = [as_dim(v) for v in split.reshape(-1)]
    if split.ndim == 0:
        chunk = sizes[0]
        if not is_int(chunk) or chunk <= 0:
            raise Unknown("the split size is not a positive number")
        if not is_int(size):
            ctx.set_info(0, sequence_like("", piece(None), ceildiv(size, chunk)))
            return
        sizes = [*([chunk] * (size // chunk)), *([size % chunk] if size % chunk else [])]
    if is_int(size) and all(is_int(s) for s in sizes) and sum_dims(sizes) != size:
        raise ShapeError(f"split sizes {sizes} do not add up to the axis length {size}")
    ctx.set_info(0, sequence_of("", [piece(s) for s in sizes]))


@register("ConcatFromSequence")
def concat_from_sequence(ctx: NodeContext) -> None:
    seq = _sequence(ctx, 0)
    _zero_cost(ctx)
    if not ctx.has_attr("axis"):
        raise ShapeError("attribute 'axis' is missing")
    new_axis = bool(ctx.attr("new_axis", 0))
    shapes: Sequence[Any] = [i.shape for i in seq.items] if seq.items else [seq.elem.shape if seq.elem else None]
    if any(s is None for s in shapes):
        raise Unknown("an element's shape is unknown")
    rank = len(shapes[0])
    axis = normalize_axis(int(ctx.attr("axis")), rank + new_axis)
    if new_axis:
        dims = [merge_dims([s[k] for s in shapes]) for k in range(rank)]
        out = (*dims[:axis], seq.length, *dims[axis:])
    else:
        dims = [merge_dims([s[k] for s in shapes]) for k in range(rank)]
        joined = sum_dims([s[axis] for s in shapes]) if seq.items is not None else (
            mul(seq.length, dims[axis]))
        out = (*dims[:axis], joined, *dims[axis + 1:])
    ctx.set_output(0, out, seq.dtype)


@register("SequenceMap")
def sequence_map(ctx: NodeContext) -> None:
    """The body runs once per position, on that position of every sequence input (a tensor
    input is the same in every pass); its outputs become the sequences' positions."""
    seq = _sequence(ctx, 0)
    others = [ctx.inputs[i] for i in range(1, ctx.n_inputs)]
    n = len(ctx.output_names)
    count: Dim
    if seq.items is not None:
        count = len(seq.items)
        passes = [_map_pass(ctx, [_at(seq, k), *(_at(o, k) for o in others)]) for k in range(count)]
        for i in range(n):
            ctx.set_info(i, sequence_of("", [outs[i] for _, _, outs in passes]))
        ctx.set_cost(macs=sum_dims([m for m, _, _ in passes]), flops=sum_dims([f for _, f, _ in passes]))
    else:
        count = seq.length
        macs, flops, outs = _map_pass(ctx, [_at(seq, None), *(_at(o, None) for o in others)])
        for i in range(n):
            ctx.set_info(i, sequence_like("", outs[i], count))
        if flops is not None:
            ctx.set_cost(macs=mul(count, macs), flops=mul(count, flops))
    if ctx.explaining:
        ctx.explain("flops", f"{format_dim(count)} passes of the body = {format_count(ctx.flops)}")


def _at(info: Optional[TensorInfo], k: Optional[int]) -> Bound:
    """What one body pass sees of a SequenceMap input: position ``k`` of a sequence (its
    element type when ``k`` is None or the positions are not told apart), a tensor as is."""
    if info is None:
        return (None, None, None)
    if isinstance(info, SequenceInfo):
        item = info.items[k] if info.items is not None and k is not None and k < len(info.items) else info.elem
        return (None, None, None) if item is None else (item.dtype, item.shape, item.value)
    return (info.dtype, info.shape, info.value)


def _map_pass(ctx: NodeContext, inputs: Sequence[Bound]) -> Tuple[Dim, Dim, List[TensorInfo]]:
    walk = walk_body(ctx, "body", inputs)
    ctx.subgraphs["body"] = walk.nodes
    ctx.warnings.extend(w for w in walk.warnings if w not in ctx.warnings)
    macs, flops = body_cost(walk.nodes)
    return macs, flops, [_tensor(o) for o in walk.outputs]


@register("Optional")
def optional(ctx: NodeContext) -> None:
    """Wraps its input (a tensor or a sequence), or is empty of the attribute's type."""
    _zero_cost(ctx)
    if ctx.has_input(0):
        elem = ctx.input(0)
        ctx.set_info(0, OptionalInfo("", elem.dtype, None, elem=_type_of(elem), present=True))
        return
    declared = ctx.attr("type")
    if declared is None:
        raise ShapeError("an Optional without an input needs its 'type' attribute")
    elem = info_from_type("", declared)
    ctx.set_info(0, OptionalInfo("", elem.dtype, None, elem=elem, present=False))


def _type_of(info: TensorInfo) -> TensorInfo:
    """``info`` unnamed: what an optional holds."""
    if isinstance(info, SequenceInfo):
        return SequenceInfo("", info.dtype, None, elem=info.elem, length=info.length, items=info.items)
    return _tensor(info)


@register("OptionalHasElement")
def optional_has_element(ctx: NodeContext) -> None:
    """Folded when it is known: an empty input name is no element (opset 18), a tensor or
    sequence always one, an optional when the Optional that made it says."""
    _zero_cost(ctx)
    info = ctx.inputs[0] if ctx.n_inputs else None
    present: Optional[bool] = False if info is None else (
        info.present if isinstance(info, OptionalInfo) else True)
    ctx.set_output(0, (), "bool", None if present is None else np.array(present))


@register("OptionalGetElement")
def optional_get_element(ctx: NodeContext) -> None:
    """An optional's content; a plain tensor or sequence passes through (opset 18)."""
    _zero_cost(ctx)
    info = ctx.input(0)
    elem = info.elem if isinstance(info, OptionalInfo) else info
    if elem is None:
        raise Unknown("the optional's type is unknown")
    if elem.kind == "tensor":
        ctx.set_output(0, elem.shape, elem.dtype, elem.value)
    else:
        ctx.set_info(0, _type_of(elem))
