"""Step 2 of the pipeline: the user's input shapes and dim bindings -> the graph inputs'
:class:`TensorInfo` objects the walk starts from.

Input shapes (``{"input_1": [1, 96, 96, "N"]}``; a string stays a symbol) replace the
declared ones where the model leaves a dim open; a dim the model fixes cannot change.
Bindings (``{"N": 8}``) substitute numbers for symbols of the inputs; a binding may also
name a data-dependent symbol (``nonzero_3``), which the walk substitutes when it makes
the symbol: :func:`check_bindings` checks the names after the walk.  Every problem is
a :class:`UsageError` phrased for the library and for the command line.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

from .dims import Dim, is_int, subs_dim, sym
from .errors import GraphError, UsageError
from .graph import check_shape
from .report import DataDependent
from .tensors import Shape, TensorInfo, info_from_type

InputShapes = Mapping[str, Sequence[Union[int, str]]]


def bind_inputs(graph: Any, path: Optional[str], shapes: InputShapes,
                bindings: Mapping[str, int]) -> Tuple[Dict[str, TensorInfo], Set[str]]:
    """The infos of ``graph``'s user inputs (initializers excluded) after applying
    ``shapes`` and ``bindings``, and the inputs' symbols (bound ones included)."""
    initializers = {t.name for t in graph.initializer}
    declared = {vi.name: vi for vi in graph.input if vi.name not in initializers}
    for name in shapes:
        if name not in declared:
            raise _input_error(name, f"the model has no such input (inputs: {', '.join(declared) or 'none'})",
                               path)
    for name, value in bindings.items():
        if not is_int(value) or value < 0:
            raise _dim_error(name, f"must be a non-negative integer (got {value!r})", path)
    symbols: Set[str] = set()
    infos = {}
    for name, vi in declared.items():
        declared_info = info_from_type(name, vi.type)
        if declared_info.kind != "tensor":   # a sequence, map or optional has no shape to set
            if name in shapes:
                raise _input_error(name, f"the input is a {declared_info.kind}, not a tensor: "
                                         "it has no shape to give", path)
            infos[name] = declared_info
            continue
        dtype, shape = declared_info.dtype, declared_info.shape
        if name in shapes:
            shape = _override(name, shape, shapes[name], path)
        elif shape is not None:
            _check_declared(name, shape, path)
        if shape is not None:
            for d in shape:
                if d is not None and not is_int(d):
                    symbols |= {str(s) for s in d.symbols()}
            shape = tuple(subs_dim(d, bindings) for d in shape)
            if name in shapes or bindings:
                _check_given(name, shape, path)
        infos[name] = TensorInfo(name, dtype, shape)
    return infos, symbols


def check_bindings(bindings: Mapping[str, int], symbols: Set[str], data_dependent: Sequence[DataDependent],
                   path: Optional[str]) -> None:
    """Every binding names an input symbol or a data-dependent one, within its bound."""
    made = {d.symbol: d for d in data_dependent}
    for name, value in bindings.items():
        entry = made.get(name)
        if name in symbols:
            continue
        if entry is None:
            listed = f"symbols: {', '.join(sorted(symbols)) or 'none'}"
            if made:
                listed += f"; data-dependent: {', '.join(made)}"
            kind = "input or data-dependent" if made else "input"
            raise _dim_error(name, f"no {kind} dimension is called {name!r} ({listed})", path)
        if is_int(entry.bound) and value > entry.bound:
            raise _dim_error(name, f"{value} exceeds its bound {entry.bound} ({entry.op_type} node "
                                   f"{entry.node})", path)


def _input_error(name: str, reason: str, path: Optional[str]) -> UsageError:
    return UsageError(reason, path, subject=f"inputs[{name!r}]", option=f"--input {name}")


def _dim_error(name: str, reason: str, path: Optional[str]) -> UsageError:
    return UsageError(reason, path, subject=f"dims[{name!r}]", option=f"--dim {name}")


def _check_declared(name: str, shape: Tuple[Dim, ...], path: Optional[str]) -> None:
    try:
        check_shape(f"input {name!r}", shape, path)
    except GraphError as exc:
        raise GraphError(f"{exc.reason}; override it with --input {name}=D1,D2,... "
                         f"(inputs={{{name!r}: [...]}} in Python)", path) from None


def _check_given(name: str, shape: Tuple[Dim, ...], path: Optional[str]) -> None:
    """The shape the caller's input shapes / bindings made must be countable too."""
    try:
        check_shape(f"input {name!r}", shape, path)
    except GraphError as exc:
        raise UsageError(exc.reason, path, subject="input shapes / dims", option="--input/--dim") from None


def _override(name: str, declared: Shape, given: Sequence[Union[int, str]], path: Optional[str]) -> Shape:
    dims: List[Dim] = []
    for d in given:
        if is_int(d):
            if d < 0:
                raise _input_error(name, f"dimension {d} is negative", path)
            dims.append(d)
        elif isinstance(d, str) and d.strip():
            dims.append(sym(d.strip()))
        else:
            raise _input_error(name, f"{d!r} is not a dimension", path)
    if declared is not None and len(declared) != len(dims):
        raise _input_error(name, f"the model's input has rank {len(declared)}, {len(dims)} dims given", path)
    if declared is not None:
        for axis, (old, new) in enumerate(zip(declared, dims, strict=True)):   # same length: checked above
            if is_int(old) and old >= 0 and is_int(new) and old != new:
                raise _input_error(name, f"dim {axis} is fixed at {old} in the model, {new} given", path)
    return tuple(dims)
