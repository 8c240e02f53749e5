"""``--format markdown``: the same table and footer as GitHub-flavoured Markdown."""

from __future__ import annotations

from typing import AbstractSet, Iterable, Sequence

from ..report import Report
from .rows import RIGHT, header, node_row, shows_precision
from .table import footer_lines


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def render_markdown(report: Report) -> str:
    precision = shows_precision(report)
    return markdown_document(report, header(precision), [node_row(n, precision) for n in report.nodes], RIGHT)


def markdown_document(report: Report, header: Sequence[str], rows: Iterable[Sequence[str]],
                      right: AbstractSet[int]) -> str:
    """Title, one table (``rows`` of cells) and the footer; shared with the layer view."""
    title = report.model.path or report.model.graph_name or "model"
    lines = [f"# {title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_escape(c) for c in row) + " |")
    lines.append("")
    lines += [f"- {_escape(line)}" for line in footer_lines(report)]
    return "\n".join(lines)
