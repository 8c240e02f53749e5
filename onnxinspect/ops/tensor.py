"""Tensor-building and data-dependent ops: Range, OneHot, Trilu, NonZero, Unique,
NonMaxSuppression, ReverseSequence, GridSample, AffineGrid, CenterCropPad, the window
functions, Multinomial.

Data-dependent sizes (how many elements NonZero finds) are named symbols
(:meth:`NodeContext.data_dependent`), bounded where the op implies a bound, never guessed.
OneHot's ``depth`` and ``values`` (the off/on pair) are settings, so meta.
FLOPs: data movement and selection count 0; GridSample interpolates like Resize
(see :mod:`.resize`); AffineGrid is one small matrix product per output point
(``k·(k+1)`` MACs for ``k`` spatial axes); NonMaxSuppression is unknown (data dependent).
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np
import numpy.typing as npt

from ..dims import Dim, Expr, ceildiv, is_int, min_dim, mul, prod, sub
from ..dtypes import dtype_name
from .common import as_dim, dims_from_value, normalize_axes, normalize_axis
from .context import NodeContext, ShapeError, Unknown
from .registry import register


@register("Range", meta_inputs=(0, 1, 2))
def range_(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    start_v, limit_v, delta_v = (ctx.value(i) for i in range(3))
    if start_v is None or limit_v is None or delta_v is None:   # a length known at run time only
        ctx.set_output(0, (ctx.data_dependent(None, *ctx.node.input),))
        return
    start, limit, delta = (_scalar(v) for v in (start_v, limit_v, delta_v))
    value = None
    length: Dim
    if isinstance(start, (int, float)) and isinstance(limit, (int, float)) and isinstance(delta, (int, float)):
        if delta == 0:
            raise ShapeError("Range delta is 0")
        length = max(int(np.ceil((limit - start) / delta)), 0)
        if length <= 4096:
            value = np.arange(start, limit, delta)[:length].astype(start_v.dtype)
    elif (is_int(delta) and delta > 0 and (is_int(start) or isinstance(start, Expr))
          and (is_int(limit) or isinstance(limit, Expr))):
        length = ceildiv(sub(limit, start), delta)  # a symbolic limit is taken to be >= start
    else:
        length = ctx.data_dependent(None, *ctx.node.input)
    ctx.set_output(0, (length,), value=value)


def _scalar(value: npt.NDArray[Any]) -> Union[Dim, float]:
    """The one item of a folded scalar: int, symbolic dim, or float (bfloat16 too)."""
    item = np.asarray(value).reshape(-1)[0]
    if value.dtype == object or np.issubdtype(value.dtype, np.integer):
        return as_dim(item)
    return float(item)


@register("OneHot", meta_inputs=(1, 2))
def one_hot(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    indices = ctx.shape(0)
    depth_v = ctx.value(1)
    depth = None if depth_v is None else _scalar(depth_v)
    if isinstance(depth, float):
        depth = int(depth)  # a float depth is allowed and truncated
    rank = len(indices) + 1
    axis = normalize_axis(int(ctx.attr("axis", -1)), rank)
    out = list(indices)
    out.insert(axis, depth)
    ctx.set_output(0, out, ctx.dtype(2))


@register("Trilu", "ReverseSequence", meta_inputs=(1,))  # k / sequence_lens
def same_shape(ctx: NodeContext) -> None:
    """Elements masked or reordered: the input's shape, no arithmetic."""
    ctx.set_cost(flops=0)
    ctx.set_output(0, ctx.shape(0))


@register("NonZero")
def non_zero(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    value = ctx.value(0)
    if value is not None and value.dtype != object:
        found = np.array(np.nonzero(value), dtype=np.int64)
        ctx.set_output(0, found.shape, "int64", found)
    else:   # at most every element is non-zero
        ctx.set_output(0, (len(x), ctx.data_dependent(prod(x), ctx.node.input[0])), "int64")


@register("Unique")
def unique(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    axis = ctx.attr("axis", None)
    # Y, indices and counts have one entry per distinct value (or slice): at most all of them.
    if axis is None:
        found = ctx.data_dependent(prod(x), ctx.node.input[0], None)
        ctx.set_output(0, (found,))
        ctx.set_output(2, (prod(x),), "int64")
    else:
        axis = normalize_axis(int(axis), len(x))
        found = ctx.data_dependent(x[axis], ctx.node.input[0], axis)
        out = list(x)
        out[axis] = found
        ctx.set_output(0, out)
        ctx.set_output(2, (x[axis],), "int64")
    ctx.set_output(1, (found,), "int64")
    ctx.set_output(3, (found,), "int64")


_INT64_MAX = int(np.iinfo(np.int64).max)


@register("NonMaxSuppression", meta_inputs=(2, 3, 4))
def non_max_suppression(ctx: NodeContext) -> None:
    """At most ``max_output_boxes_per_class`` (absent: 0) boxes per batch and class.
    int64's maximum (torchvision's and tf2onnx's "no limit") limits nothing: the boxes do."""
    ctx.set_cost(flops=None)
    boxes, scores = ctx.shape_or_none(0), ctx.shape_or_none(1)
    limit = dims_from_value(ctx.value(2)) if ctx.has_input(2) else [0]
    per_class = None if not limit or limit[0] == _INT64_MAX else limit[0]
    if per_class == 0:
        ctx.set_output(0, (0, 3), "int64")
        return
    bound = None
    if boxes is not None and scores is not None and len(boxes) == 3 and len(scores) == 3:
        per_class = boxes[1] if per_class is None else min_dim(per_class, boxes[1])
        bound = mul(scores[0], scores[1], per_class)
    key = (*ctx.node.input, int(ctx.attr("center_point_box", 0)))
    ctx.set_output(0, (ctx.data_dependent(bound, *key), 3), "int64")


@register("GridSample")
def grid_sample(ctx: NodeContext) -> None:
    x, grid = ctx.shape(0), ctx.shape(1)
    if len(grid) != len(x) or not is_int(grid[-1]) or grid[-1] != len(x) - 2:
        raise ShapeError(f"grid {list(grid)} does not fit input rank {len(x)}")
    out = (x[0], x[1], *grid[1:-1])
    ctx.set_output(0, out)
    mode = ctx.attr("mode", "linear" if ctx.opset >= 20 else "bilinear")
    if mode == "nearest":
        ctx.set_cost(flops=0)
    else:
        base = 4 if mode in ("cubic", "bicubic") else 2
        ctx.set_cost(flops=None if prod(out) is None else (2 * base ** (len(x) - 2) - 1) * prod(out))


@register("CenterCropPad", meta_inputs=(1,))
def center_crop_pad(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    target = dims_from_value(ctx.value(1))
    if target is None:
        raise Unknown("target shape not known")
    axes = ctx.attr("axes", None)
    axes = list(range(len(x))) if not axes else normalize_axes(axes, len(x))
    if len(axes) != len(target):
        raise ShapeError(f"{len(target)} sizes for {len(axes)} axes")
    out = list(x)
    for axis, size in zip(axes, target, strict=False):
        out[axis] = size
    ctx.set_output(0, out)


@register("AffineGrid", meta_inputs=(1,))
def affine_grid(ctx: NodeContext) -> None:
    size = dims_from_value(ctx.value(1))
    if size is None or len(size) not in (4, 5):
        raise Unknown("size not known")
    spatial = size[2:]
    ctx.set_output(0, (size[0], *spatial, len(spatial)))
    points = prod((size[0], *spatial))
    ctx.set_cost(macs=None if points is None else len(spatial) * (len(spatial) + 1) * points)


@register("HannWindow", "HammingWindow", "BlackmanWindow", meta_inputs=(0,))
def window(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    size = ctx.value(0)
    length = None if size is None else as_dim(np.asarray(size).reshape(-1)[0])
    ctx.set_output(0, (length,), dtype_name(ctx.attr("output_datatype", 1)))


@register("Multinomial")
def multinomial(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    x = ctx.shape(0)
    ctx.set_output(0, (x[0], int(ctx.attr("sample_size", 1))), dtype_name(ctx.attr("dtype", 6)))
