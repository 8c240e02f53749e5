"""``--by layer``: one row per framework layer, like Keras's ``model.summary()``.

The rows are ``report.layers`` (``inspect_model(..., layers=True)``, made by
:mod:`onnxinspect.analyse.layers`); they sum to the totals printed in the same footer
as the per-node view.
"""

from __future__ import annotations

import csv
import io
from typing import List

from ..dims import format_count, format_shape, to_json
from ..report import LayerRow, Report
from .explain import memory_breakdown, node_formulas
from .json import render_json
from .markdown import markdown_document
from .rows import node_label
from .summary import share_cell
from .table import grid, terminal_footer

HEADER = ["Layer", "Ops", "Output shape", "Params", "FLOPs", "FLOPs %"]
RIGHT = {3, 4, 5}


def layer_rows(report: Report) -> List[LayerRow]:
    if report.layers is None:
        raise ValueError("the report has no layer rows: inspect_model(..., layers=True) makes them")
    return report.layers


def layer_cells(row: LayerRow) -> List[str]:
    shape = format_shape(row.output.shape) if row.output is not None else "-"
    return [row.name, ", ".join(row.op_types), shape, f"{row.params:,}", format_count(row.flops),
            share_cell(row.flops_share)]


def render_layer_table(report: Report, explain: bool = False) -> str:
    """One row per layer; ``explain`` lists each layer's nodes under it with their formulas."""
    cells: List[List[str]] = []
    for row in layer_rows(report):
        cells.append(layer_cells(row))
        if row.converter:
            cells.append(["    layout conversion inserted by the converter (channels-last <-> channels-first)"])
        if explain:
            for node in row.nodes:
                cells.append([f"    #{node.index} {node_label(node)} ({node.op_type})"])
                cells += [[line] for line in node_formulas(node, indent="        ")]
    lines = grid(HEADER, cells, right=RIGHT) + terminal_footer(report)
    return "\n".join(lines + (memory_breakdown(report) if explain else []))


def render_layer_markdown(report: Report) -> str:
    return markdown_document(report, HEADER, [layer_cells(r) for r in layer_rows(report)], RIGHT)


def render_layer_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["layer", "op_types", "nodes", "output_shape", "params", "flops", "flops_share"])
    for row in layer_rows(report):
        flops = to_json(row.flops)
        writer.writerow([row.name, " ".join(row.op_types), len(row.nodes),
                         format_shape(row.output.shape) if row.output is not None else "",
                         row.params, "" if flops is None else flops,
                         "" if row.flops_share is None else f"{row.flops_share:.6g}"])
    return buffer.getvalue().rstrip("\n")


def render_layer_json(report: Report) -> str:
    """The full "onnxinspect/1" document, whose ``layers`` list carries the rows."""
    layer_rows(report)
    return render_json(report)


LAYER_RENDERERS = {
    "table": render_layer_table,
    "json": render_layer_json,
    "markdown": render_layer_markdown,
    "csv": render_layer_csv,
}
