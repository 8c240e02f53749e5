"""Renderers turn a finished :class:`~onnxinspect.report.Report` into text; they never compute."""

from .csv import render_csv
from .json import render_json
from .markdown import render_markdown
from .table import render_table

RENDERERS = {
    "table": render_table,
    "json": render_json,
    "markdown": render_markdown,
    "csv": render_csv,
}

__all__ = ["RENDERERS", "render_csv", "render_json", "render_markdown", "render_table"]
