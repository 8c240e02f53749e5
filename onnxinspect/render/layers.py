"""``--by layer``: one row per framework layer, like Keras's ``model.summary()``.

The rows come from :func:`onnxinspect.layers.group_layers`; they sum to the totals
printed in the same footer as the per-node view.
"""

from __future__ import annotations

import csv
import io
import json

from ..dims import format_count, format_shape, shape_to_json, to_json
from ..layers import group_layers
from .markdown import markdown_document
from .summary import share_cell
from .table import grid, terminal_footer

HEADER = ["Layer", "Ops", "Output shape", "Params", "FLOPs", "FLOPs %"]
RIGHT = {3, 4, 5}


def layer_cells(row) -> list:
    shape = format_shape(row.output.shape) if row.output is not None else "-"
    return [row.name, ", ".join(row.op_types), shape, f"{row.params:,}", format_count(row.flops),
            share_cell(row.flops_share)]


def render_layer_table(report) -> str:
    lines = grid(HEADER, [layer_cells(r) for r in group_layers(report)], right=RIGHT)
    return "\n".join(lines + terminal_footer(report))


def render_layer_markdown(report) -> str:
    return markdown_document(report, HEADER, [layer_cells(r) for r in group_layers(report)], RIGHT)


def render_layer_csv(report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["layer", "op_types", "nodes", "output_shape", "params", "flops", "flops_share"])
    for row in group_layers(report):
        flops = to_json(row.flops)
        writer.writerow([row.name, " ".join(row.op_types), len(row.nodes),
                         format_shape(row.output.shape) if row.output is not None else "",
                         row.params, "" if flops is None else flops,
                         "" if row.flops_share is None else f"{row.flops_share:.6g}"])
    return buffer.getvalue().rstrip("\n")


def layer_dict(row) -> dict:
    return {"name": row.name, "op_types": list(row.op_types), "nodes": [n.index for n in row.nodes],
            "output": None if row.output is None else {"name": row.output.name, "dtype": row.output.dtype,
                                                        "shape": shape_to_json(row.output.shape)},
            "params": row.params, "flops": to_json(row.flops), "flops_share": row.flops_share}


def render_layer_json(report) -> str:
    """The full "onnxinspect/1" document plus a ``layers`` list (an addition)."""
    document = report.to_dict()
    document["layers"] = [layer_dict(r) for r in group_layers(report)]
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)  # compact, as render_json


LAYER_RENDERERS = {
    "table": render_layer_table,
    "json": render_layer_json,
    "markdown": render_layer_markdown,
    "csv": render_layer_csv,
}
