"""``--format table``: what a person reads at a glance, with a footer like Keras's summary."""

from __future__ import annotations

import re
from typing import AbstractSet, Iterable, List

from ..dims import format_count
from ..report import DataDependent, NodeReport, Report, iter_nodes
from .explain import memory_breakdown, node_formulas
from .precision import precision_lines
from .rows import HEADER, RIGHT, header, io_line, node_row, shows_precision
from .summary import flops_line, format_bytes, memory_lines


def grid(header: List[str], rows: List[List[str]], right: AbstractSet[int]) -> List[str]:
    """Aligned columns between rules (``right``: right-aligned column indices); shared
    with the layer view.  A row of one cell is a free text line (a formula) that takes
    no part in the column widths."""
    table = [header] + [r for r in rows if len(r) > 1]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]

    def line(cells: List[str]) -> str:
        if len(cells) == 1:
            return cells[0].rstrip()
        out = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=False))]
        return "  ".join(out).rstrip()

    rule = "─" * len(line(header))
    return [line(header), rule] + [line(r) for r in rows] + [rule]


def footer_lines(report: Report) -> List[str]:
    t = report.totals
    lines = [
        f"Total params:  {t.params:,}",
        f"Unique params: {t.unique_params:,} ({format_bytes(t.param_bytes)})",
    ]
    if t.params_by_dtype:
        lines.append("By dtype:      " + ", ".join(
            f"{d}: {n:,} ({format_bytes(t.bytes_by_dtype.get(d, 0))})" for d, n in t.params_by_dtype.items()))
    lines.append(flops_line(t))
    lines += memory_lines(report)
    lines += precision_lines(report)
    lines.append(f"Nodes:         {t.nodes:,}")
    lines.append("Ops:           " + ", ".join(f"{op} {n}" for op, n in t.op_histogram.items()))
    lines.append("Inputs:        " + "; ".join(io_line(x) for x in report.inputs))
    lines.append("Outputs:       " + "; ".join(io_line(x) for x in report.outputs))
    if report.data_dependent:
        lines.append("Run-time dims: " + ", ".join(_data_dependent(d) for d in report.data_dependent))
    m = report.model
    opsets = ", ".join(f"{d} {v}" for d, v in m.opsets.items())
    producer = f"{m.producer} {m.producer_version}".strip() or "unknown"
    lines.append(f"Model:         IR {m.ir_version}, opset {opsets}, producer {producer}")
    if any(n.shared_params for n in iter_nodes(report.nodes)):
        lines.append("* weight shared with other nodes: counted at each node, once in unique params")
    return lines


def _data_dependent(d: DataDependent) -> str:
    """``nonzero_3 ≤ 24 (NonZero #3)``; ``= 10`` where --dim bound it."""
    size = f" = {d.value}" if d.value is not None else "" if d.bound is None else f" ≤ {format_count(d.bound)}"
    return f"{d.symbol}{size} ({d.op_type} {d.node})"


WIDTH = 120        # terminal columns a footer line should fit
LABEL = len("Unique params: ")


def terminal_footer(report: Report) -> List[str]:
    """The footer for a terminal: a line wider than :data:`WIDTH` (a long op histogram,
    a peak with its caveats) goes on after a ", " or "; ", aligned under its value."""
    out = []
    for line in footer_lines(report):
        pieces = re.split(r"(?<=[,;]) ", line[LABEL:]) if len(line) > WIDTH else [line[LABEL:]]
        current = line[:LABEL] + pieces[0]
        for piece in pieces[1:]:
            if len(current) + 1 + len(piece) > WIDTH:
                out.append(current)
                current = " " * LABEL + piece
            else:
                current += " " + piece
        out.append(current)
    return out


def nested_rows(nodes: Iterable[NodeReport], depth: int = 0, explain: bool = False,
                precision: bool = False) -> List[List[str]]:
    """One row per node; each If/Loop/Scan body or function call follows its node, titled
    ``[then_branch]`` / ``[body]`` / ``[function]`` and indented.  Body rows have no index
    and no FLOPs share: the parent's cost already covers them.  With ``explain`` each
    node's formulas follow its row as one-cell rows (see :func:`grid`); ``precision``
    adds the Precision column."""
    rows = []
    for node in nodes:
        row = node_row(node, precision)
        if depth:
            row[0] = ""
            row[1] = "  " * depth + row[1]
            row[HEADER.index("FLOPs %")] = ""
        rows.append(row)
        if explain:
            rows += [[line] for line in node_formulas(node, indent=" " * (4 + 2 * depth))]
        for name, body in node.subgraphs.items():
            title = [""] * len(header(precision))
            title[1] = "  " * (depth + 1) + f"[{name}]"
            rows.append(title)
            rows += nested_rows(body, depth + 2, explain, precision)
    return rows


def render_table(report: Report, explain: bool = False) -> str:
    """The node table and footer; ``explain`` puts each node's formulas under its row
    (so the first formulas are on the first screen) and ends with the peak breakdown."""
    precision = shows_precision(report)
    rows = nested_rows(report.nodes, explain=explain, precision=precision)
    lines = grid(header(precision), rows, right=RIGHT)
    lines += terminal_footer(report)
    if explain:
        lines += memory_breakdown(report)
    return "\n".join(lines)
