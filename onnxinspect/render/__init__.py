"""Step 5 of the pipeline: a finished :class:`~onnxinspect.report.Report` as text.
Renderers only format: every figure, layer row and check finding is in the report."""

from __future__ import annotations

from ..report import Report
from .check import render_check
from .csv import render_csv
from .explain import render_explain_markdown
from .json import render_json
from .layers import LAYER_RENDERERS, render_layer_table
from .markdown import render_markdown
from .table import render_table

RENDERERS = {
    "table": render_table,
    "json": render_json,
    "markdown": render_markdown,
    "csv": render_csv,
}
FORMATS = tuple(RENDERERS) + ("html", "svg")   # render/html.py, render/charts.py: the html extra


def render_report(report: Report, fmt: str, by: str = "node", explain: bool = False) -> str:
    """The report in ``fmt``, one row per node or per layer (``by``; the report must have
    been made with ``layers=True``).  ``explain`` puts the formulas under each row of a
    table, or in a section after a Markdown table; JSON carries them in each node's
    ``explain`` and csv has no room for them.  A table or Markdown report ends with
    ``report.check`` when there is one; JSON carries it under ``check``; csv leaves it out."""
    if fmt in ("html", "svg"):   # one page or picture of everything, --by aside
        from .charts import Charting, chart_specs, combined_svg
        from .html import render_html

        return render_html(report, explain) if fmt == "html" else combined_svg(chart_specs(report, Charting()))
    by_layer = by == "layer"
    if fmt == "table":
        text = render_layer_table(report, explain) if by_layer else render_table(report, explain)
    else:
        text = (LAYER_RENDERERS if by_layer else RENDERERS)[fmt](report)
    if explain and fmt == "markdown":
        text += "\n\n" + render_explain_markdown(report, by_layer=by_layer)
    if report.check is not None and fmt in ("table", "markdown"):
        text += "\n\n" + render_check(report.check)
    return text


__all__ = ["FORMATS", "LAYER_RENDERERS", "RENDERERS", "render_check", "render_csv", "render_json",
           "render_markdown", "render_report", "render_table"]
