"""Broadcasting and unary element-wise ops, activations, Cast, Identity, Dropout, Softmax.

Cost convention: one FLOP per output element for every arithmetic element-wise op
(an activation counts as one), ``n - 1`` per element for n-ary Sum/Max/Min/Mean,
three per element for the Softmax family (exp, sum, divide), none for data movement
(Identity, Cast, Dropout at inference).  Small integer values are folded so shape
arithmetic (``Shape -> Gather -> Mul -> Concat``) reaches Reshape as numbers or symbols;
a folded node costs nothing per inference (runtimes evaluate it once, at load time).
"""

from __future__ import annotations

import functools
import operator
from dataclasses import replace
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from ..dims import Dim, KnownDim, exact_div, floordiv, format_shape, is_int, max_dim, min_dim, mul, prod
from ..dtypes import FLOAT_TYPES, dtype_name, numpy_dtype
from ..tensors import Shape
from .common import as_dim, broadcast, explain_value, tidy
from .context import NodeContext
from .registry import register

_VARIADIC = {"Max", "Min", "Sum"}
_COMPARE = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not",
            "IsNaN", "IsInf"}


def _fold(op_type: str, inputs: Sequence[Optional[npt.NDArray[Any]]],
          dtype: Optional[str]) -> Optional[npt.NDArray[Any]]:
    """Numpy evaluation of small folded inputs; ``None`` when undecidable."""
    values = [v for v in inputs if v is not None]
    if len(values) != len(inputs):
        return None
    try:
        if any(v.dtype == object for v in values):
            return _fold_symbolic(op_type, values, dtype)
        fn = _NUMERIC.get(op_type)
        if fn is None:
            return None
        with np.errstate(all="ignore"):
            # Variadic Max/Min/Sum fold pairwise (a third positional argument of
            # np.maximum would be its output buffer).
            out = functools.reduce(fn, values) if op_type in _VARIADIC else fn(*values)
        return np.asarray(out).astype(_numpy_dtype(dtype, np.asarray(out).dtype))
    except (TypeError, ValueError, ArithmeticError):
        return None


def _fold_symbolic(op_type: str, values: Sequence[npt.NDArray[Any]],
                   dtype: Optional[str]) -> Optional[npt.NDArray[Any]]:
    """Element by element over dims; floats must be whole numbers next to a symbol
    (``Cast(float) -> Mul(2.0) -> Cast(int64)`` of an upsampled ``H`` stays ``2*H``)."""
    if len(values) == 1:
        unary = _SYMBOLIC_UNARY.get(op_type)
        if unary is None:
            return None
        return tidy(np.asarray(np.frompyfunc(lambda a: _dim_op(unary, a), 1, 1)(values[0]), dtype=object))
    fn = _SYMBOLIC.get(op_type)
    if op_type == "Div" and dtype in FLOAT_TYPES:
        fn = exact_div  # a real quotient is a dim only when it is whole
    if fn is None:
        return None
    out = values[0]
    for v in values[1:]:
        out = np.frompyfunc(lambda a, b: _dim_op(fn, a, b), 2, 1)(out, v)
    out = np.asarray(out, dtype=object)
    if any(x is None for x in out.reshape(-1).tolist()):
        return None
    return out.astype(bool) if op_type in _COMPARE else tidy(out)


def _dim_op(fn: Callable[..., object], *args: object) -> object:
    """``fn`` of the items as dims; None when one is a fraction."""
    dims: List[Dim] = []
    for a in args:
        a = as_dim(a.item() if isinstance(a, np.generic) else a)
        if isinstance(a, float):
            return None  # a fraction times a symbol is not a dim
        dims.append(a)
    return fn(*dims)


def _numpy_dtype(dtype: Optional[str], fallback: np.dtype[Any]) -> np.dtype[Any]:
    kind = numpy_dtype(dtype)
    return fallback if kind is None else kind


def _int_div(a: npt.ArrayLike, b: npt.ArrayLike) -> Union[npt.NDArray[Any], np.generic]:
    """ONNX Div: integers truncate toward zero (exactly, beyond float precision too)."""
    a, b = np.asarray(a), np.asarray(b)
    quotient: Union[npt.NDArray[Any], np.generic]  # (0-d operands give a numpy scalar)
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        if np.any(b == 0):
            raise ZeroDivisionError("integer division by zero")
        quotient = np.abs(a) // np.abs(b) * np.sign(a) * np.sign(b)
    else:
        quotient = np.divide(a, b)
    return quotient


_NUMERIC: Dict[str, Callable[..., Any]] = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": _int_div, "Pow": np.power,
    "Mod": np.mod, "Max": np.maximum, "Min": np.minimum, "Equal": np.equal, "Less": np.less,
    "Greater": np.greater, "LessOrEqual": np.less_equal, "GreaterOrEqual": np.greater_equal,
    "And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor, "Not": np.logical_not,
    "Neg": np.negative, "Abs": np.abs, "Floor": np.floor, "Ceil": np.ceil, "Sqrt": np.sqrt,
    "Sum": np.add, "Relu": lambda x: np.maximum(x, 0),
    "Sign": np.sign, "Reciprocal": np.reciprocal, "Exp": np.exp, "Log": np.log,
    "Round": np.round,
}


def _equal(a: Dim, b: Dim) -> Optional[bool]:
    if a == b:
        return True
    if is_int(a) and is_int(b):
        return False
    # A dim is never negative, so N == -1 is decidable (PyTorch's Expand guards test it).
    if (is_int(a) and a < 0) or (is_int(b) and b < 0):
        return False
    return None


_SYMBOLIC: Dict[str, Callable[[Dim, Dim], object]] = {
    "Add": operator.add, "Sub": operator.sub, "Mul": mul, "Div": floordiv, "Max": max_dim,
    "Min": min_dim, "Sum": operator.add, "Equal": _equal,
}
# (the items of a folded value are never None: fold_array refuses unknown dims)
_SYMBOLIC_UNARY: Dict[str, Callable[[KnownDim], object]] = {
    "Floor": lambda a: a, "Ceil": lambda a: a, "Round": lambda a: a, "Neg": operator.neg,
}


def _cost(ctx: NodeContext, shape: Shape, per_element: int = 1) -> None:
    """``per_element`` FLOPs per output element; none when the value was folded (shape
    arithmetic, constant expressions: computed once when the model loads)."""
    if shape is None:
        return
    folded = ctx.outputs[0] is not None and ctx.outputs[0].value is not None
    ctx.set_cost(flops=0 if folded else mul(per_element, prod(shape)))


@register("Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitShift", "BitwiseAnd", "BitwiseOr",
          "BitwiseXor", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or",
          "Xor", "Max", "Min", "Sum", "Mean", scalar_literals=True)
def broadcasting(ctx: NodeContext) -> None:
    shapes = [ctx.shape_or_none(i) for i in range(ctx.n_inputs) if ctx.has_input(i)]
    shape = broadcast(shapes)
    dtype = "bool" if ctx.op_type in _COMPARE else ctx.dtype(0)
    value = _fold(ctx.op_type, [ctx.value(i) for i in range(ctx.n_inputs)], dtype)
    ctx.set_output(0, shape, dtype, value)
    _cost(ctx, shape, max(len(shapes) - 1, 1))
    explain_value(ctx)
    if shape is not None and ctx.outputs[0] is not None and ctx.outputs[0].value is None:
        if ctx.explaining:
            ctx.explain("shape", f"broadcast {' , '.join(format_shape(s) for s in shapes)} -> "
                                 f"{format_shape(shape)}")


@register("PRelu")
@register("Clip", meta_inputs=(1, 2))
def prelu_clip(ctx: NodeContext) -> None:
    """X's shape, one FLOP per element: PRelu's slope broadcasts into X (before opset 7
    a per-channel ``(C,)`` slope), Clip's min / max bounds are scalars."""
    shape = ctx.shape_or_none(0)
    ctx.set_output(0, shape)
    if shape is not None:
        ctx.set_cost(flops=prod(shape))


@register("Where", scalar_literals=True)
def where(ctx: NodeContext) -> None:
    shape = broadcast([ctx.shape_or_none(i) for i in range(3)])
    value = None
    cond, x, y = (ctx.value(i) for i in range(3))
    if cond is not None and x is not None and y is not None:
        value = tidy(np.where(cond.astype(bool), x, y))
    ctx.set_output(0, shape, ctx.dtype(1), value)
    _cost(ctx, shape)
    explain_value(ctx)


_ACTIVATIONS = (
    "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Celu",
    "Softplus", "Softsign", "ThresholdedRelu", "Gelu", "Mish", "Swish", "Exp", "Log", "Abs",
    "Neg", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Erf", "Sin", "Cos", "Tan",
    "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Not", "BitwiseNot",
    "IsNaN", "IsInf", "Shrink",
)


@register(*_ACTIVATIONS)
def unary(ctx: NodeContext) -> None:
    shape = ctx.shape_or_none(0)
    dtype = "bool" if ctx.op_type in _COMPARE else ctx.dtype(0)
    ctx.set_output(0, shape, dtype, _fold(ctx.op_type, [ctx.value(0)], dtype))
    _cost(ctx, shape)


@register("Identity")
def identity(ctx: NodeContext) -> None:
    """Passes its input through: a tensor, or (opset 14+) a sequence or optional as it is."""
    if ctx.has_input(0) and ctx.input(0).kind != "tensor":
        ctx.set_info(0, replace(ctx.input(0)))
        ctx.set_cost(flops=0)
        return
    ctx.set_output(0, ctx.shape_or_none(0), value=ctx.value(0))
    ctx.set_cost(flops=0)


@register("Dropout", meta_inputs=(1, 2))
def dropout(ctx: NodeContext) -> None:
    shape = ctx.shape_or_none(0)
    ctx.set_output(0, shape, value=ctx.value(0))
    ctx.set_output(1, shape, "bool")
    ctx.set_cost(flops=0)


# A 0-d constant cast to the input's type is a literal (the dynamo exporter's CastLike(0, x)).
@register("Cast", scalar_literals=True)
def cast(ctx: NodeContext) -> None:
    to = dtype_name(ctx.attr("to", 0))
    ctx.set_output(0, ctx.shape_or_none(0), to, _cast_value(ctx.value(0), to))
    ctx.set_cost(flops=0)


@register("BitCast")
def bit_cast(ctx: NodeContext) -> None:
    """Same bits, another type of the same width: the shape is unchanged."""
    ctx.set_output(0, ctx.shape_or_none(0), dtype_name(ctx.attr("to", 0)))
    ctx.set_cost(flops=0)


@register("StringConcat")
def string_concat(ctx: NodeContext) -> None:
    ctx.set_output(0, broadcast([ctx.shape_or_none(0), ctx.shape_or_none(1)]))
    ctx.set_cost(flops=0)  # text, not arithmetic


@register("RegexFullMatch")
def regex_full_match(ctx: NodeContext) -> None:
    ctx.set_output(0, ctx.shape_or_none(0), "bool")
    ctx.set_cost(flops=0)


@register("CastLike", scalar_literals=True)
def cast_like(ctx: NodeContext) -> None:
    to = ctx.dtype(1)
    ctx.set_output(0, ctx.shape_or_none(0), to, _cast_value(ctx.value(0), to))
    ctx.set_cost(flops=0)


def _cast_value(value: Optional[npt.NDArray[Any]], to: Optional[str]) -> Optional[npt.NDArray[Any]]:
    if value is None or to is None:
        return None
    if value.dtype == object:
        return value if to.startswith(("int", "uint", "float")) else None
    return value.astype(_numpy_dtype(to, value.dtype))


@register("Softmax", "LogSoftmax", "Hardmax")
def softmax(ctx: NodeContext) -> None:
    shape = ctx.shape(0)
    ctx.set_output(0, shape)
    ctx.set_cost(flops=mul(3, prod(shape)))

