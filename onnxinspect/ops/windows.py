"""Sliding-window arithmetic shared by Conv, ConvTranspose and the pools.

Each function returns the output size of one spatial axis together with the formula,
numbers substituted, that ``--explain`` prints.  The formulas are ONNX's:
``⌊(in + pad_begin + pad_end − dilation·(kernel−1) − 1)/stride⌋ + 1`` (``⌈…⌉`` with
``ceil_mode``, dropping a last window that would start in the right padding, as
onnxruntime and PyTorch do), ``⌈in/stride⌉`` for ``auto_pad`` SAME_*, and
``(in−1)·stride − pads + dilation·(kernel−1) + output_padding + 1`` for ConvTranspose.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from ..dims import Dim, KnownDim, add, ceildiv, floordiv, format_dim, is_int, mul, sub
from .common import dim_text as _d
from .context import NodeContext, ShapeError

AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
SAME = ("SAME_UPPER", "SAME_LOWER")


def axis_names(rank: int) -> Tuple[str, ...]:
    return AXIS_NAMES.get(rank, tuple(f"d{i + 1}" for i in range(rank)))


class WindowAttrs:
    """kernel / strides / dilations / pads / auto_pad of a windowed node, defaults filled in."""

    def __init__(self, ctx: NodeContext, kernel: Sequence[Dim], spatial_rank: int) -> None:
        self.kernel: List[Dim] = list(kernel)
        self.strides: List[int] = list(ctx.attr("strides", None) or [1] * spatial_rank)
        self.dilations: List[int] = list(ctx.attr("dilations", None) or [1] * spatial_rank)
        self.pads: List[int] = list(ctx.attr("pads", None) or [0] * (2 * spatial_rank))
        self.auto_pad: str = ctx.attr("auto_pad", "NOTSET") or "NOTSET"
        self.ceil_mode = bool(ctx.attr("ceil_mode", 0))
        for name, values, size in (("strides", self.strides, spatial_rank),
                                   ("dilations", self.dilations, spatial_rank),
                                   ("pads", self.pads, 2 * spatial_rank),
                                   ("kernel_shape", self.kernel, spatial_rank)):
            if len(values) != size:
                raise ShapeError(f"{name} has {len(values)} values, expected {size}")
        for name, values in (("strides", self.strides), ("dilations", self.dilations),
                             ("kernel_shape", self.kernel)):
            for v in values:   # loops, not any(): this runs for every Conv and pool
                if is_int(v) and v <= 0:
                    raise ShapeError(f"{name} must be positive, got {values}")
        for p in self.pads:
            if p < 0:
                raise ShapeError(f"pads must not be negative, got {self.pads}")
        if self.auto_pad not in ("NOTSET", "VALID") + SAME:
            raise ShapeError(f"unknown auto_pad {self.auto_pad!r}")


def window_output(size: Dim, kernel: Dim, stride: int, dilation: int, pad_begin: int,
                  pad_end: int, auto_pad: str, ceil_mode: bool = False,
                  explaining: bool = True) -> Tuple[Dim, Optional[str]]:
    """Output size of one axis of a Conv / pool, and the formula with numbers (None
    unless ``explaining``: formatting it would cost more than the arithmetic)."""
    if (not explaining and not ceil_mode and auto_pad == "NOTSET" and type(size) is int
            and type(kernel) is int and type(stride) is int and stride > 0 and type(dilation) is int
            and type(pad_begin) is int and type(pad_end) is int):
        plain = size + pad_begin + pad_end - dilation * (kernel - 1) - 1
        if plain >= 0:  # the common case in plain ints; the rest (and errors) below
            return plain // stride + 1, None
    if auto_pad in SAME:
        out = ceildiv(size, stride)
        if not explaining:
            return out, None
        return out, (f"⌈{_d(size)}/{stride}⌉ = {format_dim(out)} ({auto_pad}: output = ⌈input/stride⌉)"
                     f"{change_note(size, out)}")
    if auto_pad == "VALID":
        pad_begin = pad_end = 0
    effective = add(mul(dilation, sub(kernel, 1)), 1)
    numerator = sub(add(size, pad_begin, pad_end), effective)
    if is_int(numerator) and numerator < 0:
        raise ShapeError(f"window {_d(effective)} is larger than the padded input "
                         f"{_d(add(size, pad_begin, pad_end))}")
    out = add((ceildiv if ceil_mode else floordiv)(numerator, stride), 1)
    if ceil_mode and out is not None:
        out = _drop_window_in_right_pad(out, size, stride, pad_begin, pad_end, effective)
    if not explaining:
        return out, None
    left, right = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
    formula = (f"{left}({_d(size)} + {pad_begin} + {pad_end} − {dilation}·({_d(kernel)}−1) − 1)"
               f"/{stride}{right} + 1 = {format_dim(out)}{change_note(size, out)}")
    return out, formula


def _drop_window_in_right_pad(out: KnownDim, size: Dim, stride: int, pad_begin: int, pad_end: int,
                              effective: Dim) -> Dim:
    """With ceil_mode the last window must start inside the input or the left padding.

    The windows that start there number ``⌈(size + pad_begin)/stride⌉``, so the size is
    the smaller of that and ``out``; which one is smaller is decided by the sign of
    ``pad_end + stride − effective kernel``, for a symbolic size too.
    """
    if is_int(size) and is_int(out):
        return out - 1 if (out - 1) * stride >= size + pad_begin else out
    if not is_int(effective):
        return None
    return ceildiv(add(size, pad_begin), stride) if pad_end + stride >= effective else out


def transpose_output(size: Dim, kernel: Dim, stride: int, dilation: int, pad_begin: int,
                     pad_end: int, output_padding: int) -> Tuple[Dim, str]:
    """ConvTranspose output size: ``(in−1)·s − pads + d·(k−1) + out_pad + 1``."""
    out = add(mul(sub(size, 1), stride), -pad_begin - pad_end, mul(dilation, sub(kernel, 1)),
              output_padding, 1)
    formula = (f"({_d(size)}−1)·{stride} − ({pad_begin} + {pad_end}) + {dilation}·({_d(kernel)}−1)"
               f" + {output_padding} + 1 = {format_dim(out)}{change_note(size, out)}")
    return out, formula


def transpose_same_output(size: Dim, kernel: Dim, stride: int, dilation: int,
                          output_padding: int, auto_pad: str) -> Tuple[Dim, str]:
    """SAME ConvTranspose pads the full output ``(in−1)·s + d·(k−1) + out_pad + 1`` down to
    ``in·s``; when the full output is already smaller there is nothing to remove and it
    stays (onnx.shape_inference and onnxruntime agree)."""
    excess = add(mul(dilation, sub(kernel, 1)), output_padding, 1 - stride)
    if not is_int(excess):
        return None, f"{auto_pad}: unknown"
    if excess >= 0:
        out = mul(size, stride)
        return out, (f"{_d(size)}·{stride} = {format_dim(out)} ({auto_pad}: output = input·stride)"
                     f"{change_note(size, out)}")
    out, formula = transpose_output(size, kernel, stride, dilation, 0, 0, output_padding)
    return out, f"{formula} ({auto_pad}: the unpadded output is already below input·stride)"


def spatial_outputs(sizes: Sequence[Dim], attrs: WindowAttrs,
                    explaining: bool = True) -> Tuple[List[Dim], List[str]]:
    """Output sizes of every spatial axis and one ``H: formula`` line per axis (no lines
    unless ``explaining``)."""
    rank = len(sizes)
    outs: List[Dim] = []
    formulas: List[str] = []
    for i, name in enumerate(axis_names(rank)):
        out, formula = window_output(sizes[i], attrs.kernel[i], attrs.strides[i], attrs.dilations[i],
                                     attrs.pads[i], attrs.pads[i + rank], attrs.auto_pad,
                                     attrs.ceil_mode, explaining)
        outs.append(out)
        if explaining:
            formulas.append(f"{name}: {formula}")
    return outs, formulas


def change_note(size: Dim, out: Dim) -> str:
    """`` — halves 96 → 48`` / `` — doubles 48 → 96`` / `` — keeps 96`` when it does."""
    if size is None or out is None or is_int(size) != is_int(out):
        return ""
    if size == out:
        return f" — keeps {_d(size)}"
    if size == mul(2, out) or (not is_int(size) and floordiv(size, 2) == out):
        return f" — halves {_d(size)} → {_d(out)}"
    if out == mul(2, size):
        return f" — doubles {_d(size)} → {_d(out)}"
    return ""

