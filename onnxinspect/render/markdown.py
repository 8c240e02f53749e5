"""``--format markdown``: the same table and footer as GitHub-flavoured Markdown."""

from __future__ import annotations

from .rows import HEADER, node_row
from .table import footer_lines


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def render_markdown(report) -> str:
    title = report.model.path or report.model.graph_name or "model"
    lines = [f"# {title}", "", "| " + " | ".join(HEADER) + " |",
             "|" + "|".join("---:" if i in (0, 4, 5) else "---" for i in range(len(HEADER))) + "|"]
    for node in report.nodes:
        lines.append("| " + " | ".join(_escape(c) for c in node_row(node)) + " |")
    lines.append("")
    lines += [f"- {_escape(line)}" for line in footer_lines(report)]
    return "\n".join(lines)
