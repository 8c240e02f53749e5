"""``--explain``: the formulas behind every number, grouped under each node.

The op rules record ``(kind, text)`` lines (kind: params / shape / flops); this module
only lays them out, for a terminal or (``markdown=True``) for GitHub Markdown.  A node
without recorded formulas gets its one-line summary.  With ``by_layer`` the nodes are
grouped under their framework layer.  The section ends with the peak-memory breakdown.
"""

from __future__ import annotations

from typing import List

from ..dims import format_count
from ..layers import group_layers
from .rows import node_label, output_shapes
from .summary import format_bytes

TITLE = "How the numbers are derived"
WIDTH = 120   # terminal columns a formula line should fit


def render_explain(report, markdown: bool = False, by_layer: bool = False) -> str:
    out = [f"## {TITLE}", ""] if markdown else [TITLE, "═" * len(TITLE)]
    if by_layer:
        for row in group_layers(report):
            ops = ", ".join(row.op_types)
            heading = f"{row.name} ({ops}): {row.params:,} params, {format_count(row.flops)} FLOPs"
            out += ([f"### {_md(heading)}", ""] if markdown else ["", heading])
            for node in row.nodes:
                out += _node(node, markdown, indent="  ")
    else:
        for node in report.nodes:
            out += _node(node, markdown, indent="")
    out += _memory(report, markdown)
    return "\n".join(out).rstrip("\n")


def _summary(node, markdown: bool) -> str:
    code = (lambda t: f"`{t}`") if markdown else (lambda t: t)
    parts = [f"**#{node.index}**" if markdown else f"#{node.index}", code(node_label(node)),
             f"{node.op_type} → {code(output_shapes(node))}"]
    if node.params:
        parts.append(f"{node.params:,} params")
    parts.append(f"{code(format_count(node.flops))} FLOPs")
    return "  ".join(parts)


def _node(node, markdown: bool, indent: str) -> List[str]:
    """The node's summary and formulas, then those of its If/Loop/Scan bodies, indented."""
    if markdown:
        lines = [_summary(node, True)] + [f"- {kind}: `{text}`" for kind, text in node.explanations] + [""]
    else:
        lines = [indent + _summary(node, False)]
        for kind, text in node.explanations:
            lines += _formula_lines(f"{indent}    {kind:<6}  ", text)
    for name, body in node.subgraphs.items():
        lines.append(f"*{_md(name)} of #{node.index}:*" if markdown else f"{indent}  [{name}]")
        if markdown:
            lines.append("")
        for inner in body:
            lines += _node(inner, markdown, indent + "    ")
    return lines


def _formula_lines(lead: str, text: str) -> List[str]:
    """``lead + text``; a line too wide for a 120-column terminal breaks after each ``; ``
    (MACs, then FLOPs), the continuations aligned under the first formula."""
    if len(lead) + len(text) <= WIDTH or "; " not in text:
        return [lead + text]
    first, *rest = text.split("; ")
    return [lead + first] + [" " * len(lead) + part for part in rest]


def _memory(report, markdown: bool) -> List[str]:
    memory = report.memory
    if memory is None or memory.peak_node is None:
        return []
    heading = f"Peak activation memory: while {memory.peak_node} runs"
    if memory.evaluated_at:
        heading += " (evaluated with " + ", ".join(f"{k}={v}" for k, v in sorted(memory.evaluated_at.items())) + ")"
    terms = [f"{name}: {format_bytes(size)}" for name, size in memory.live_at_peak]
    total = format_bytes(memory.peak_bytes) if memory.peak_bytes is not None else (
        f"≥ {format_bytes(memory.known_peak_bytes)} ({len(memory.unknown_tensors)} tensors of unknown size)")
    if markdown:
        return [f"### {_md(heading)}", ""] + [f"- `{t}`" for t in terms] + [f"- total: **{_md(total)}**"]
    return ["", heading] + [f"    {t}" for t in terms] + [f"    total = {total}"]


def _md(text: str) -> str:
    """Escape what Markdown would read as emphasis in names like ``conv2d_1`` or ``2*N``."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")
