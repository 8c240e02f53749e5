"""Renderers turn a finished :class:`~onnxinspect.report.Report` into text; they never compute."""

from .csv import render_csv
from .explain import render_explain
from .json import render_json
from .layers import LAYER_RENDERERS
from .markdown import render_markdown
from .table import render_table

RENDERERS = {
    "table": render_table,
    "json": render_json,
    "markdown": render_markdown,
    "csv": render_csv,
}



def render_report(report, fmt: str, by: str = "node", explain: bool = False) -> str:
    """The report in ``fmt``, one row per node or per layer (``by``); ``explain`` appends
    the formulas to a table or Markdown (JSON carries them in each node's ``explain``)."""
    text = (LAYER_RENDERERS if by == "layer" else RENDERERS)[fmt](report)
    if explain and fmt in ("table", "markdown"):
        text += "\n\n" + render_explain(report, markdown=fmt == "markdown", by_layer=by == "layer")
    return text


__all__ = ["LAYER_RENDERERS", "RENDERERS", "render_csv", "render_explain", "render_json", "render_markdown",
           "render_report", "render_table"]
