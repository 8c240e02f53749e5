"""``--format csv``: one row per node, for spreadsheets and pandas."""

from __future__ import annotations

import csv
import io
from typing import Union

from ..dims import Dim, to_json
from ..report import Report
from .rows import node_label, output_shapes, shows_precision


def render_csv(report: Report) -> str:
    """A quantized model's rows end with each node's ``precision`` label."""
    precision = shows_precision(report)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["index", "name", "op_type", "domain", "output_shapes", "params", "shared", "macs", "flops",
                     "flops_share", "output_bytes", "live_bytes"] + (["precision"] if precision else []))
    for node in report.nodes:
        row = [node.index, node_label(node), node.op_type, node.domain, output_shapes(node),
               node.params, int(bool(node.shared_params)), _cell(node.macs), _cell(node.flops),
               "" if node.flops_share is None else f"{node.flops_share:.6g}",
               _cell(node.output_bytes), _cell(node.live_bytes)]
        writer.writerow(row + [node.precision or ""] if precision else row)
    return buffer.getvalue().rstrip("\n")


def _cell(value: Dim) -> Union[int, str]:
    text = to_json(value)
    return "" if text is None else text
