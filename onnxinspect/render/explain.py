"""``--explain``: the formulas behind every number.

The op rules record ``(kind, text)`` lines (kind: params / shape / flops); this module
only lays them out.  On a terminal they go under each node's row of the table (see
:func:`node_formulas`); in Markdown they form a section after the table, one heading
per node (per layer with ``--by layer``).  Both end with the peak-memory breakdown.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from ..dims import format_count
from ..report import NodeReport, Report
from .rows import node_label, output_shapes
from .summary import format_bytes

TITLE = "How the numbers are derived"
WIDTH = 120   # terminal columns a formula line should fit


def node_formulas(node: NodeReport, indent: str) -> List[str]:
    """The node's formula lines for a terminal, ``kind`` in a column of its own."""
    lines: List[str] = []
    for kind, text in node.explanations:
        lines += _formula_lines(f"{indent}{kind:<6}  ", text)
    return lines


def render_explain_markdown(report: Report, by_layer: bool = False) -> str:
    """The Markdown section: each node's summary and formulas, grouped under its layer
    when ``by_layer``, then the peak-memory breakdown."""
    out = [f"## {TITLE}", ""]
    if by_layer:
        for row in report.layers or ():
            ops = ", ".join(row.op_types)
            out += [f"### {_md(f'{row.name} ({ops}): {row.params:,} params, {format_count(row.flops)} FLOPs')}", ""]
            for node in row.nodes:
                out += _markdown_node(node)
    else:
        for node in report.nodes:
            out += _markdown_node(node)
    out += _markdown_memory(report)
    return "\n".join(out).rstrip("\n")


def _summary(node: NodeReport) -> str:
    parts = [f"**#{node.index}**", f"`{node_label(node)}`", f"{node.op_type} → `{output_shapes(node)}`"]
    if node.params:
        parts.append(f"{node.params:,} params")
    parts.append(f"`{format_count(node.flops)}` FLOPs")
    return "  ".join(parts)


def _markdown_node(node: NodeReport) -> List[str]:
    """The node's summary and formulas, then those of its If/Loop/Scan bodies."""
    lines = [_summary(node)] + [f"- {kind}: `{text}`" for kind, text in node.explanations] + [""]
    for name, body in node.subgraphs.items():
        lines += [f"*{_md(name)} of #{node.index}:*", ""]
        for inner in body:
            lines += _markdown_node(inner)
    return lines


def _formula_lines(lead: str, text: str) -> List[str]:
    """``lead + text``; a line too wide for a 120-column terminal breaks after each ``; ``
    (MACs, then FLOPs), the continuations aligned under the first formula."""
    if len(lead) + len(text) <= WIDTH or "; " not in text:
        return [lead + text]
    first, *rest = text.split("; ")
    return [lead + first] + [" " * len(lead) + part for part in rest]


def _peak(report: Report) -> Tuple[Optional[str], List[str], str]:
    memory = report.memory
    if memory is None or memory.peak_node is None:
        return None, [], ""
    heading = f"Peak activation memory: while {memory.peak_node} runs"
    if memory.evaluated_at:
        heading += " (evaluated with " + ", ".join(f"{k}={v}" for k, v in sorted(memory.evaluated_at.items())) + ")"
    terms = [f"{name}: {format_bytes(size)}" for name, size in memory.live_at_peak]
    total = format_bytes(memory.peak_bytes) if memory.peak_bytes is not None else (
        f"≥ {format_bytes(memory.known_peak_bytes)} ({len(memory.unknown_tensors)} tensors of unknown size)")
    return heading, terms, total


def memory_breakdown(report: Report) -> List[str]:
    """What is live at the peak, for a terminal."""
    heading, terms, total = _peak(report)
    if heading is None:
        return []
    return ["", heading] + [f"    {t}" for t in terms] + [f"    total = {total}"]


def _markdown_memory(report: Report) -> List[str]:
    heading, terms, total = _peak(report)
    if heading is None:
        return []
    return [f"### {_md(heading)}", ""] + [f"- `{t}`" for t in terms] + [f"- total: **{_md(total)}**"]


def _md(text: str) -> str:
    """Escape what Markdown would read as emphasis in names like ``conv2d_1`` or ``2*N``."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")
