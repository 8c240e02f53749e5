"""Sliding-window arithmetic shared by Conv, ConvTranspose and the pools.

Each function returns the output size of one spatial axis together with the formula,
numbers substituted, that ``--explain`` prints.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from ..context import ShapeError
from ..dims import Dim, add, ceildiv, floordiv, format_dim, is_int, mul, sub

AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def axis_names(rank: int) -> Tuple[str, ...]:
    return AXIS_NAMES.get(rank, tuple(f"d{i + 1}" for i in range(rank)))


class WindowAttrs:
    """kernel / strides / dilations / pads / auto_pad of a windowed node, defaults filled in."""

    def __init__(self, ctx, kernel: Sequence[Dim], spatial_rank: int):
        self.kernel = list(kernel)
        self.strides = list(ctx.attr("strides", None) or [1] * spatial_rank)
        self.dilations = list(ctx.attr("dilations", None) or [1] * spatial_rank)
        self.pads = list(ctx.attr("pads", None) or [0] * (2 * spatial_rank))
        self.auto_pad = ctx.attr("auto_pad", "NOTSET") or "NOTSET"
        self.ceil_mode = bool(ctx.attr("ceil_mode", 0))
        for name, values, size in (("strides", self.strides, spatial_rank),
                                   ("dilations", self.dilations, spatial_rank),
                                   ("pads", self.pads, 2 * spatial_rank),
                                   ("kernel_shape", self.kernel, spatial_rank)):
            if len(values) != size:
                raise ShapeError(f"{name} has {len(values)} values, expected {size}")
        if any(is_int(s) and s <= 0 for s in self.strides):
            raise ShapeError(f"strides must be positive, got {self.strides}")


def window_output(size: Dim, kernel: Dim, stride: int, dilation: int, pad_begin: int,
                  pad_end: int, auto_pad: str, ceil_mode: bool = False) -> Tuple[Dim, str]:
    """Output size of one axis of a Conv / pool, and the formula with numbers."""
    effective = add(mul(dilation, sub(kernel, 1)), 1)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = ceildiv(size, stride)
        return out, f"⌈{_d(size)}/{stride}⌉ = {_d(out)} ({auto_pad}: output = ⌈input/stride⌉)"
    if auto_pad == "VALID":
        pad_begin = pad_end = 0
    numerator = sub(add(size, pad_begin, pad_end), effective)
    rounding = ceildiv if ceil_mode else floordiv
    out = add(rounding(numerator, stride), 1)
    if ceil_mode and is_int(out) and is_int(size):
        # The last window must start inside the input or the left padding.
        if (out - 1) * stride >= size + pad_begin:
            out -= 1
    left, right = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
    formula = (f"{left}({_d(size)} + {pad_begin} + {pad_end} − {dilation}·({_d(kernel)}−1) − 1)"
               f"/{stride}{right} + 1 = {_d(out)}")
    return out, formula


def transpose_output(size: Dim, kernel: Dim, stride: int, dilation: int, pad_begin: int,
                     pad_end: int, output_padding: int) -> Tuple[Dim, str]:
    """ConvTranspose output size: ``(in−1)·s − pads + d·(k−1) + out_pad + 1``."""
    out = add(mul(sub(size, 1), stride), -pad_begin - pad_end, mul(dilation, sub(kernel, 1)),
              output_padding, 1)
    formula = (f"({_d(size)}−1)·{stride} − ({pad_begin} + {pad_end}) + {dilation}·({_d(kernel)}−1)"
               f" + {output_padding} + 1 = {_d(out)}")
    return out, formula


def spatial_outputs(ctx, sizes: Sequence[Dim], attrs: WindowAttrs) -> Tuple[List[Dim], List[str]]:
    rank = len(sizes)
    outs, formulas = [], []
    for i, name in enumerate(axis_names(rank)):
        out, formula = window_output(sizes[i], attrs.kernel[i], attrs.strides[i], attrs.dilations[i],
                                     attrs.pads[i], attrs.pads[i + rank], attrs.auto_pad,
                                     attrs.ceil_mode)
        outs.append(out)
        formulas.append(f"{name}: {formula}")
    return outs, formulas


def _d(d: Optional[Dim]) -> str:
    text = format_dim(d)
    return f"({text})" if " " in text else text
