"""``inspect_model()``: load, walk, total up, return a :class:`Report`."""

from __future__ import annotations

import gc
from collections import Counter
from contextlib import contextmanager
from typing import Dict, List, Mapping, Optional, Sequence, Union

from . import cost, memory
from .dims import Dim, is_int, subs_dim, sym
from .dtypes import nbytes
from .errors import GraphError, UsageError
from .graph import check_shape
from .loading import LoadedModel, Source, load_model
from .ops.control_flow import body_cost
from .report import ModelInfo, NodeReport, Report, Totals, iter_nodes
from .tensors import TensorInfo
from .walker import Walker, shape_from_type

InputShapes = Mapping[str, Sequence[Union[int, str]]]


def inspect_model(source: Source, inputs: Optional[InputShapes] = None,
                  dims: Optional[Mapping[str, int]] = None, explain: bool = False) -> Report:
    """Inspect an ONNX model: every tensor's shape, every node's parameters and cost.

    ``source`` is a path, raw bytes or a ``ModelProto``.  ``inputs`` fixes input shapes
    (``{"input_1": [1, 96, 96, 1]}``; a string entry stays a symbol); ``dims`` binds
    symbolic dims by name (``{"N": 8}``).  ``explain`` records the formulas behind
    each node's numbers.  Raises :class:`~onnxinspect.errors.InspectError` subclasses.
    """
    with gc_paused():
        loaded = load_model(source)
        return inspect_loaded(loaded, inputs, dims, explain)


@contextmanager
def gc_paused():
    """No cyclic garbage collection inside: an inspection allocates millions of small,
    acyclic objects (dims, tensor infos, reports) and the collector would rescan them
    over and over, a third of the time on a 20,000-node graph; plain reference counting
    still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def inspect_loaded(loaded: LoadedModel, inputs: Optional[InputShapes] = None,
                   dims: Optional[Mapping[str, int]] = None, explain: bool = False) -> Report:
    model = loaded.model
    opsets = {(op.domain or "ai.onnx"): op.version for op in model.opset_import}
    if model.ir_version < 3 and not opsets:
        opsets = {"ai.onnx": 1}
    walker = Walker(opsets, loaded.path, explaining=explain, functions=model.functions)
    input_infos = _input_infos(model.graph, loaded.path, inputs or {}, dims or {})
    walk = walker.walk(model.graph, input_infos)

    info = ModelInfo(loaded.path, model.ir_version, opsets, model.producer_name,
                     model.producer_version, model.graph.name)
    warnings = list(loaded.warnings) + walk.warnings
    report = Report(info, walk.inputs, walk.outputs, walk.nodes, totals(walk.nodes, walk.tensors), warnings)
    cost.annotate(report)
    report.memory = memory.analyse(report)
    return report


def _input_infos(graph, path, shapes: InputShapes, bindings: Mapping[str, int]) -> Dict[str, TensorInfo]:
    initializers = {t.name for t in graph.initializer}
    declared = {vi.name: vi for vi in graph.input if vi.name not in initializers}
    for name in shapes:
        if name not in declared:
            raise UsageError(f"--input {name!r}: the model has no such input "
                             f"(inputs: {', '.join(declared) or 'none'})", path)
    for name, value in bindings.items():
        if not is_int(value) or value < 0:
            raise UsageError(f"--dim {name}={value}: a dimension must be a non-negative integer", path)
    symbols = set()
    infos = {}
    for name, vi in declared.items():
        dtype, shape = shape_from_type(vi.type)
        if name in shapes:
            shape = _override(name, shape, shapes[name], path)
        elif shape is not None:
            _check_declared(name, shape, path)
        if shape is not None:
            for d in shape:
                if d is not None and not is_int(d):
                    symbols |= d.symbols()
            shape = tuple(subs_dim(d, bindings) for d in shape)
            if name in shapes or bindings:
                _check_given(name, shape, path)
        infos[name] = TensorInfo(name, dtype, shape)
    for name in bindings:
        if name not in symbols:
            raise UsageError(f"--dim {name}: no input dimension is called {name!r} "
                             f"(symbols: {', '.join(sorted(symbols)) or 'none'})", path)
    return infos


def _check_declared(name: str, shape, path) -> None:
    try:
        check_shape(f"input {name!r}", shape, path)
    except GraphError as exc:
        raise GraphError(f"{exc.reason}; override it with --input {name}=D1,D2,...", path) from None


def _check_given(name: str, shape, path) -> None:
    """The shape the user's --input / --dim made must be countable too (a usage error)."""
    try:
        check_shape(f"input {name!r}", shape, path)
    except GraphError as exc:
        raise UsageError(f"--input/--dim: {exc.reason}", path) from None


def _override(name: str, declared, given: Sequence[Union[int, str]], path) -> tuple:
    dims: List[Dim] = []
    for d in given:
        if is_int(d):
            if d < 0:
                raise UsageError(f"--input {name}: dimension {d} is negative", path)
            dims.append(d)
        elif isinstance(d, str) and d.strip():
            dims.append(sym(d.strip()))
        else:
            raise UsageError(f"--input {name}: {d!r} is not a dimension", path)
    if declared is not None and len(declared) != len(dims):
        raise UsageError(f"--input {name}: the model's input has rank {len(declared)}, "
                         f"{len(dims)} dims given", path)
    if declared is not None:
        for axis, (old, new) in enumerate(zip(declared, dims)):
            if is_int(old) and old >= 0 and is_int(new) and old != new:
                raise UsageError(f"--input {name}: dim {axis} is fixed at {old} in the model, "
                                 f"{new} given", path)
    return tuple(dims)


def totals(nodes: List[NodeReport], tensors: Mapping[str, TensorInfo]) -> Totals:
    """Sum parameters (each weight once in ``unique_params``), bytes, ops and cost."""
    params = 0
    unique: Dict[str, TensorInfo] = {}
    histogram: Counter = Counter()
    unknown_ops = []
    for node in iter_nodes(nodes):
        params += node.params
        for name in node.param_inputs:
            unique.setdefault(name, tensors.get(name) or _find_input(node, name))
        histogram[node.op_type] += 1
        if not node.known_op:
            unknown_ops.append(node.op_type)
    # One unknown cost makes the total unknown: never an undercount.
    # Top-level nodes only: an If/Loop/Scan/function call's cost already covers its body.
    macs, flops = body_cost(nodes)
    by_dtype: Counter = Counter()
    bytes_by_dtype: Counter = Counter()
    for info in unique.values():
        by_dtype[info.dtype] += info.size
        bytes_by_dtype[info.dtype] += nbytes(info.dtype, info.size)
    return Totals(params=params, unique_params=sum(by_dtype.values()),
                  param_bytes=sum(bytes_by_dtype.values()), nodes=len(nodes),
                  params_by_dtype=dict(by_dtype), bytes_by_dtype=dict(bytes_by_dtype),
                  op_histogram=dict(histogram.most_common()),
                  macs=macs, flops=flops, unknown_ops=sorted(set(unknown_ops)))


def _find_input(node: NodeReport, name: str) -> TensorInfo:
    return next(t for t in node.inputs if t is not None and t.name == name)
