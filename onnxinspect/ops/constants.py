"""Constants and the ops that read shapes: Constant, ConstantOfShape, Shape, Size,
and the random generators.

Constant and generator outputs are weights when a data slot consumes them; the
``light`` models in the onnx wheel build every weight with ConstantOfShape.  Shape,
Size and the ``*Like`` generators read only their input's shape, so reading a weight
through them does not count it.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..decode import tensor_array
from ..dims import prod
from ..dtypes import dtype_name
from ..tensors import FOLD_LIMIT
from .common import dims_from_value, explain_value
from .context import NodeContext, ShapeError, Unknown
from .registry import register


@register("Constant", generator=True)  # a Constant node's tensor is a weight where a data slot reads it
def constant(ctx: NodeContext) -> None:
    for attr in ctx.node.attribute:
        name = attr.name
        if name == "value":
            tensor = attr.t
            shape = tuple(int(d) for d in tensor.dims)
            value = tensor_array(tensor) if prod(shape) <= FOLD_LIMIT else None
            ctx.set_output(0, shape, dtype_name(tensor.data_type), value)
        elif name == "sparse_value":
            ctx.set_output(0, tuple(int(d) for d in attr.sparse_tensor.dims),
                           dtype_name(attr.sparse_tensor.values.data_type))
        elif name in ("value_float", "value_int"):
            value = np.array(ctx.attr(name), dtype=np.float32 if name == "value_float" else np.int64)
            ctx.set_output(0, (), "float32" if name == "value_float" else "int64", value)
        elif name in ("value_floats", "value_ints"):
            floats = name == "value_floats"
            value = np.array(ctx.attr(name), dtype=np.float32 if floats else np.int64)
            ctx.set_output(0, (len(value),), "float32" if floats else "int64", value)
        elif name == "value_string":
            ctx.set_output(0, (), "string")
        elif name == "value_strings":
            ctx.set_output(0, (len(attr.strings),), "string")
        else:
            continue
        ctx.set_cost(flops=0)
        return
    raise ShapeError("Constant has no value attribute")


@register("ConstantOfShape", meta_inputs=(0,), generator=True)
def constant_of_shape(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    dims = dims_from_value(ctx.value(0))
    if dims is None:
        rank = ctx.shape(0)
        if len(rank) == 1 and isinstance(rank[0], int):
            ctx.set_output(0, (None,) * rank[0], _fill_dtype(ctx))
        raise Unknown("shape operand not known")
    if any(isinstance(d, int) and d < 0 for d in dims):
        raise ShapeError(f"negative dimension in shape {list(dims)}")
    value = None
    fill = ctx.attr("value", None)
    fill_array = tensor_array(fill) if fill is not None else np.zeros(1, np.float32)
    if fill_array is None or fill_array.size != 1:
        raise ShapeError("ConstantOfShape's value is not one element of a numpy type")
    fill_value = fill_array.reshape(-1)[0]
    known = [d for d in dims if isinstance(d, int)]
    # (all dims known: prod() is an int for (N, 0) too, which np.full cannot take)
    if len(known) == len(dims) and prod(known) <= FOLD_LIMIT:
        value = np.full(tuple(known), fill_value)
    ctx.set_output(0, dims, _fill_dtype(ctx), value)


def _fill_dtype(ctx: NodeContext) -> Optional[str]:
    fill = ctx.attr("value", None)
    return dtype_name(fill.data_type) if fill is not None else "float32"


@register("RandomNormal", "RandomUniform", generator=True)
def random_fill(ctx: NodeContext) -> None:
    shape = tuple(ctx.attr("shape", []))
    ctx.set_output(0, shape, dtype_name(ctx.attr("dtype", 1)))
    ctx.set_cost(flops=0)


@register("RandomNormalLike", "RandomUniformLike", meta_inputs=(0,))
@register("Bernoulli")  # reads its input's probabilities
def random_like(ctx: NodeContext) -> None:
    dtype = dtype_name(ctx.attr("dtype", 0)) or ctx.dtype(0)
    ctx.set_output(0, ctx.shape_or_none(0), dtype)
    ctx.set_cost(flops=0)


@register("EyeLike", meta_inputs=(0,))
def eye_like(ctx: NodeContext) -> None:
    dtype = dtype_name(ctx.attr("dtype", 0)) or ctx.dtype(0)
    ctx.set_output(0, ctx.shape(0), dtype)
    ctx.set_cost(flops=0)


@register("Shape", meta_inputs=(0,))
def shape_of(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    shape = ctx.shape(0)
    rank = len(shape)
    start = ctx.attr("start", 0)
    end = ctx.attr("end", rank)
    start = max(0, min(rank, start + rank if start < 0 else start))
    end = max(0, min(rank, end + rank if end < 0 else end))
    dims = list(shape[start:end])
    value = None
    if all(d is not None for d in dims):
        symbolic = any(not isinstance(d, int) for d in dims)
        value = np.array(dims, dtype=object if symbolic else np.int64)
    ctx.set_output(0, (max(end - start, 0),), "int64", value)
    explain_value(ctx)


@register("Size", meta_inputs=(0,))
def size_of(ctx: NodeContext) -> None:
    ctx.set_cost(flops=0)
    size = prod(ctx.shape(0))
    value = None
    if size is not None:
        value = np.array(size, dtype=object if not isinstance(size, int) else np.int64)
    ctx.set_output(0, (), "int64", value)
