"""``inspect_model()``: the pipeline, one call per step.

load -> bind inputs -> walk (rules) -> analyse (totals, cost, memory, layers, check) ->
a :class:`~onnxinspect.report.Report` that the renderers format.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator, Mapping, Optional

from .analyse.cost import annotate_cost
from .analyse.kv_cache import analyse_kv_cache
from .analyse.layers import group_layers
from .analyse.memory import analyse_memory
from .analyse.precision import analyse_precision
from .analyse.totals import sum_totals
from .bind import InputShapes, bind_inputs, check_bindings
from .load import Source, load_model
from .report import ModelInfo, Report
from .walk import Walker
from .walk.symbols import DataDependentSymbols


def inspect_model(source: Source, inputs: Optional[InputShapes] = None,
                  dims: Optional[Mapping[str, int]] = None, explain: bool = False,
                  layers: bool = False, check: bool = False) -> Report:
    """Inspect an ONNX model: every tensor's shape, every node's parameters and cost.

    ``source`` is a path, raw bytes or an ``onnx.ModelProto``.  ``inputs`` fixes input
    shapes (``{"input_1": [1, 96, 96, 1]}``; a string entry stays a symbol); ``dims``
    binds symbolic dims by name (``{"N": 8}``).  ``explain`` records the formulas behind
    each node's numbers.  ``layers`` groups the nodes into framework layers
    (``report.layers``, the ``--by layer`` rows).  ``check`` compares every shape with ``onnx.shape_inference``
    (``report.check``; this imports onnx).  Raises
    :class:`~onnxinspect.errors.InspectError` subclasses.
    """
    with gc_paused():
        loaded = load_model(source)
        model = loaded.model
        opsets = {(op.domain or "ai.onnx"): op.version for op in model.opset_import}
        if model.ir_version < 3 and not opsets:
            opsets = {"ai.onnx": 1}
        graph_inputs, symbols = bind_inputs(model.graph, loaded.path, inputs or {}, dims or {})
        walker = Walker(opsets, loaded.path, explaining=explain, functions=model.functions,
                        symbols=DataDependentSymbols(dims or {}))
        walk = walker.walk(model.graph, graph_inputs)
        check_bindings(dims or {}, symbols, walker.symbols.entries, loaded.path)
        info = ModelInfo(loaded.path, model.ir_version, opsets, model.producer_name,
                         model.producer_version, model.graph.name)
        report = Report(info, walk.inputs, walk.outputs, walk.nodes, sum_totals(walk.nodes, walk.tensors),
                        list(loaded.warnings) + walk.warnings, data_dependent=walker.symbols.entries)
        annotate_cost(report)
        report.memory = analyse_memory(report)
        report.precision = analyse_precision(report)
        report.kv_cache = analyse_kv_cache(report)
        if layers:
            report.layers = group_layers(report)
        if check:
            from .analyse.check import compare_with_onnx  # imports onnx: only when asked

            report.check = compare_with_onnx(report, loaded)
        return report


@contextmanager
def gc_paused() -> Iterator[None]:
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
