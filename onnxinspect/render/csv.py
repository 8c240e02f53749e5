"""``--format csv``: one row per node, for spreadsheets and pandas."""

from __future__ import annotations

import csv
import io

from ..dims import to_json
from .rows import node_label, output_shapes


def render_csv(report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["index", "name", "op_type", "domain", "output_shapes", "params", "shared", "macs", "flops"])
    for node in report.nodes:
        writer.writerow([node.index, node_label(node), node.op_type, node.domain, output_shapes(node),
                         node.params, int(bool(node.shared_params)), _cell(node.macs), _cell(node.flops)])
    return buffer.getvalue().rstrip("\n")


def _cell(value):
    value = to_json(value)
    return "" if value is None else value
