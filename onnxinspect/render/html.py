"""``--format html``: one self-contained page (scripts, styles and data inline) that opens
from disk with no network: summary cards, charts, the layer tree and a paged, sortable,
filterable node table.  Needs the ``html`` extra (vl-convert: render/charts.py).

Format only: every figure is the report's, as the text renderers write it; symbolic
figures stay symbolic in text and the charts show them at every free symbol = 1.
Names reach the page as text only: escaped in markup, set with ``textContent`` by the
script, and the embedded JSON has every ``<``, ``>`` and ``&`` as a ``\\u`` escape.
"""

from __future__ import annotations

import json
from html import escape
from importlib.resources import files
from typing import Any, Dict, List, Sequence

from ..diff import Diff
from ..dims import format_count
from ..report import LayerRow, NodeReport, Report
from .charts import Charting, Spec, chart_specs, vega_bundle
from .diff import _figure_row, _row, _symbolic, _tensor
from .rows import io_line, node_label, output_shapes, params_cell
from .summary import flops_line, format_bytes, memory_lines, share_cell

_ASSETS = files(__package__)


def _json(value: Any) -> str:
    """JSON safe inside a ``<script>``: no ``</script>``, ``<!--`` or entity can form."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page(title: str, subtitle: str, body: str, data: Dict[str, Any], charts: Dict[str, Spec]) -> str:
    data = dict(data, charts=charts)
    css = _ASSETS.joinpath("html_page.css").read_text(encoding="utf-8")
    script = _ASSETS.joinpath("html_page.js").read_text(encoding="utf-8")
    vega = vega_bundle().replace("</script", "<\\/script")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{css}</style></head><body>"
            f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header><main>{body}</main>"
            f'<footer>Made by onnxinspect; charts drawn with Vega (via vl-convert), all inline: '
            f"this file needs no network.</footer>"
            f'<script type="application/json" id="oi-data">{_json(data)}</script>'
            f"<script>{vega}</script><script>{script}</script></body></html>\n")


def _card(key: str, label: str, value: str, sub: str = "") -> str:
    sub_html = f'<div class="sub">{escape(sub)}</div>' if sub else ""
    return (f'<div class="card" id="total-{key}"><div class="label">{escape(label)}</div>'
            f'<div class="value">{escape(value)}</div>{sub_html}</div>')


def _facts(title: str, header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    def cell(tag: str, i: int, text: str) -> str:
        return f'<{tag} class="num">{escape(text)}</{tag}>' if i in right else f"<{tag}>{escape(text)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<div><h2>{escape(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _table(key: str, title: str, placeholder: str) -> str:
    return (f'<h2>{escape(title)}</h2><div class="oi-table" id="{key}"><div class="bar">'
            f'<input class="oi-filter" type="search" placeholder="{escape(placeholder)}">'
            f'<button class="oi-prev">‹ prev</button><button class="oi-next">next ›</button>'
            f'<span class="oi-info"></span></div><table><thead><tr></tr></thead><tbody></tbody></table></div>')


def _charts(specs: Dict[str, Spec], note: str) -> str:
    if not specs:
        return ""
    divs = "".join(f'<div class="chart" id="chart-{key}"></div>' for key in specs)
    caption = (f"Symbolic figures are shown symbolically in text and {note} in the charts."
               if note else "Every figure is known: the charts show the exact values.")
    return f'<h2>Charts</h2><p class="note">{escape(caption)}</p><div class="charts">{divs}</div>'


# Columns of the node table: label, index of the shown text, index of the sort key.
_NODE_COLUMNS: List[Dict[str, Any]] = [
    {"label": "#", "text": 0, "num": True}, {"label": "Node", "text": 1}, {"label": "Op", "text": 2},
    {"label": "Output shape", "text": 3}, {"label": "Params", "text": 4, "sort": 5, "num": True},
    {"label": "FLOPs", "text": 6, "sort": 7, "num": True}, {"label": "FLOPs %", "text": 8, "sort": 9, "num": True},
    {"label": "Live bytes", "text": 10, "sort": 11, "num": True},
]


def _node_row(node: NodeReport, charting: Charting, explain: bool) -> List[Any]:
    row: List[Any] = [node.index, node_label(node), node.op_type, output_shapes(node), params_cell(node),
                      node.params, format_count(node.flops), charting.at(node.flops), share_cell(node.flops_share),
                      node.flops_share, format_bytes(node.live_bytes), charting.at(node.live_bytes)]
    if explain:
        row.append("\n".join(f"{kind}: {text}" for kind, text in node.explanations))
    return row


def _layer_row(layer: LayerRow) -> List[Any]:
    return [layer.name, ", ".join(layer.op_types), f"{layer.params:,}", format_count(layer.flops),
            share_cell(layer.flops_share), [n.index for n in layer.nodes]]


def render_html(report: Report, explain: bool = False) -> str:
    """The report as one HTML page; ``explain`` adds each node's formulas to its row."""
    charting = Charting()
    nodes = [_node_row(n, charting, explain) for n in report.nodes]
    specs = chart_specs(report, charting)
    totals, model, memory = report.totals, report.model, report.memory
    flops = flops_line(totals).split("MACs:")
    cards = [
        _card("params", "Parameters", f"{totals.params:,}",
              f"{totals.unique_params:,} unique" if totals.unique_params != totals.params else "all unique"),
        _card("param-bytes", "Parameter bytes", format_bytes(totals.param_bytes), f"{totals.param_bytes:,} B"),
        _card("flops", "FLOPs", format_count(totals.flops),
              flops[0].replace("FLOPs:", "").strip() if totals.flops is None else ""),
        _card("macs", "MACs", format_count(totals.macs)),
        _card("nodes", "Nodes", f"{totals.nodes:,}", f"{len(totals.op_histogram)} op types"),
    ]
    if memory is not None:
        where = f"at {memory.peak_node}" if memory.peak_node else ""
        cards.append(_card("peak", "Peak activations", format_bytes(memory.peak_bytes), where))
    model_rows = [["Producer", f"{model.producer} {model.producer_version}".strip() or "-"],
                  ["IR version", str(model.ir_version)], ["Graph", model.graph_name or "-"]]
    model_rows += [[f"opset {domain}", str(v)] for domain, v in model.opsets.items()]
    io = [["input", io_line(t)] for t in report.inputs] + [["output", io_line(t)] for t in report.outputs]
    dtypes = [[dt, f"{n:,}", format_bytes(totals.bytes_by_dtype.get(dt, 0))]
              for dt, n in totals.params_by_dtype.items()]
    facts = [_facts("Model", ["Field", "Value"], model_rows), _facts("Inputs and outputs", ["Kind", "Tensor"], io),
             _facts("Unique parameters by dtype", ["dtype", "Parameters", "Bytes"], dtypes, (1, 2))]
    if memory is not None:
        facts.append(_facts("Memory", ["", ""], [line.split(":", 1) for line in memory_lines(report)]))
    warnings = "".join(f'<div class="warn">{escape(w)}</div>' for w in report.warnings)
    body = [f'<h2>Summary</h2><div class="cards">{"".join(cards)}</div><div class="facts">{"".join(facts)}</div>']
    if warnings:
        body.append(f'<h2>Warnings ({len(report.warnings)})</h2>{warnings}')
    body.append(_charts(specs, charting.note()))
    if report.layers is not None:
        body.append(f'<h2>Layers ({len(report.layers):,})</h2><p class="note">Open a layer to see its nodes.</p>'
                    f'<div id="oi-layers"></div>')
    body.append(_table("oi-nodes", f"Nodes ({len(report.nodes):,})", "filter by name, op type or shape"))
    columns = _NODE_COLUMNS + ([{"label": "Formulas", "text": 12, "cls": "pre"}] if explain else [])
    data = {"nodes": nodes, "layers": None if report.layers is None else [_layer_row(r) for r in report.layers],
            "tables": [{"id": "oi-nodes", "columns": columns, "rows": nodes, "search": [1, 2, 3]}]}
    title = model.path or model.graph_name or "ONNX model"
    subtitle = f"{totals.nodes:,} nodes · {model.producer or 'unknown producer'} · onnxinspect report"
    return _page(title, subtitle, "".join(body), data, specs)


def _diff_charts(diff: Diff) -> Dict[str, Spec]:
    ops = [{"op": o.op_type, "delta": o.delta} for o in diff.ops if o.delta]
    if not ops:
        return {}
    return {"ops": {"title": "Change in nodes per op type", "width": 520, "data": {"values": ops},
                    "mark": {"type": "bar", "tooltip": True},
                    "encoding": {"y": {"field": "op", "type": "nominal", "sort": "-x", "title": None},
                                 "x": {"field": "delta", "type": "quantitative", "title": "nodes (after - before)"},
                                 "color": {"condition": {"test": "datum.delta > 0", "value": "#d62728"},
                                           "value": "#2ca02c"}}}}


def render_diff_html(diff: Diff) -> str:
    """A :class:`~onnxinspect.diff.Diff` as one HTML page: totals, changed inputs and
    outputs, op-type changes, and every matched, added or removed row in a table."""
    figures = [_figure_row(f) for f in diff.figures]
    if diff.bindings:
        at = ", ".join(f"{k}={v}" for k, v in diff.bindings.items())
        figures += [_figure_row(f, at) for f in diff.figures if _symbolic(f)]
    body = [_facts("Totals", ["Figure", "Before", "After", "Change", "%"], figures, (1, 2, 3, 4))]
    model = [[f.name, str(f.before), str(f.after)] for f in diff.model if f.changed]
    if model:
        body.append(_facts("Model", ["Field", "Before", "After"], model))
    tensors = [[t.kind, t.name, t.status, _tensor(t.before_dtype, t.before_shape),
                _tensor(t.after_dtype, t.after_shape)] for t in diff.tensors if t.status != "same"]
    if tensors:
        body.append(_facts("Inputs and outputs", ["Kind", "Name", "Status", "Before", "After"], tensors))
    specs = _diff_charts(diff)
    body.append(_charts(specs, ""))
    for note in diff.notes:
        body.append(f'<p class="note">{escape(note)}</p>')
    what = "Layers" if diff.by == "layer" else "Nodes"
    counts = ", ".join(f"{diff.count(s)} {s}" for s in ("changed", "renamed", "added", "removed", "unchanged"))
    body.append(_table("oi-rows", f"{what} ({counts})", "filter by status, name or op type"))
    rows = [_row(r) for r in diff.rows]
    columns = [{"label": label, "text": i} for i, label in
               enumerate(["Status", what[:-1], "Params", "Output shape", "FLOPs", "Ops"])]
    data: Dict[str, Any] = {"nodes": [], "layers": None,
                            "tables": [{"id": "oi-rows", "columns": columns, "rows": rows, "search": [0, 1, 5]}]}
    title = f"{diff.before_path or 'A'} → {diff.after_path or 'B'}"
    subtitle = "identical in every figure" if diff.identical else f"onnxinspect diff by {diff.by}"
    return _page(title, subtitle, "".join(body), data, specs)

