"""The report's charts as Vega-Lite specs, drawn by vl-convert (the ``html`` extra).

vl-convert embeds the Vega and Vega-Lite runtimes: it draws SVG/PNG without a browser,
and hands out vega-embed (with Vega-Lite and Vega) as one self-contained script for the
HTML page, about 0.9 MB (0.3 MB gzipped).  Making it takes about 0.9 s, so it is made
once per vl-convert version and kept in the user's cache folder (docs/html.md).

Symbolic figures are charted at every free symbol = 1; the charts' captions say so.
"""

from __future__ import annotations

import os
import tempfile
from types import ModuleType
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from ..dims import Dim, Expr, format_count
from ..errors import UsageError
from ..report import Report
from .rows import node_label

Spec = Dict[str, Any]
TOP = 15                        # bars per ranking chart; the rest is one "other" bar
WIDTH = 520
EXTRA = "pip install 'onnxinspect[html]'"


def vl_convert() -> ModuleType:
    """vl-convert, or a UsageError naming the extra that installs it."""
    try:
        import vl_convert
    except ImportError:
        raise UsageError(f"html and svg output need the html extra: {EXTRA}") from None
    return vl_convert


def vega_bundle() -> str:
    """vega-embed as one script defining ``window.vegaEmbed``, cached per vl-convert version."""
    vlc = vl_convert()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "onnxinspect", f"vega-embed-{vlc.get_vega_version()}-vlc{_version(vlc)}.js")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        pass
    bundle: str = vlc.javascript_bundle()
    try:   # write then rename: a concurrent reader never sees half a bundle
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(bundle)
        os.replace(tmp, path)
    except OSError:   # a read-only home: make it again next time
        pass
    return bundle


def _version(vlc: ModuleType) -> str:
    from importlib.metadata import version

    return version("vl-convert-python") if not hasattr(vlc, "__version__") else str(vlc.__version__)


class Charting:
    """Values for the charts: a symbolic figure at every free symbol = 1, remembering
    which symbols were set (the page and the captions name them)."""

    def __init__(self) -> None:
        self.symbols: Set[str] = set()

    def at(self, d: Dim) -> Optional[int]:
        if isinstance(d, Expr):
            names = d.symbols()
            self.symbols |= names
            value = d.subs(dict.fromkeys(names, 1))
            return value if isinstance(value, int) else None
        return d

    def note(self) -> str:
        if not self.symbols:
            return ""
        return "charted at " + ", ".join(f"{s}=1" for s in sorted(self.symbols))


def _ranked(title: str, unit: str, items: Sequence[Tuple[str, Optional[int]]], what: str) -> Optional[Spec]:
    """Horizontal bars, largest first: the top :data:`TOP` and the rest as one bar."""
    known = sorted(((v, label) for label, v in items if v), key=lambda t: -t[0])
    if not known:
        return None
    rows = [{"name": label, "value": v, "text": format_count(v)} for v, label in known[:TOP]]
    rest = known[TOP:]
    if rest:
        total = sum(v for v, _ in rest)
        rows.append({"name": f"other ({len(rest)} {what})", "value": total, "text": format_count(total)})
    return {
        "title": title, "width": WIDTH, "data": {"values": rows},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "y": {"field": "name", "type": "nominal", "sort": None, "title": None,
                  "axis": {"labelLimit": 220}},
            "x": {"field": "value", "type": "quantitative", "title": unit, "axis": {"format": "~s"}},
            "tooltip": [{"field": "name", "title": what[:-1] if what.endswith("s") else what},
                        {"field": "text", "title": unit}],
        },
    }


def chart_specs(report: Report, charting: Charting) -> Dict[str, Spec]:
    """The charts of a report by id, each a Vega-Lite spec with its data inline; a chart
    with nothing to show (no parameters, no nodes) is left out."""
    specs: Dict[str, Optional[Spec]] = {}
    if report.layers is not None:
        units: List[Tuple[str, int, Dim]] = [(r.name, r.params, r.flops) for r in report.layers]
        what = "layers"
    else:
        units = [(node_label(n), n.params, n.flops) for n in report.nodes]
        what = "nodes"
    specs["params"] = _ranked(f"Parameters per {what[:-1]}", "parameters",
                              [(name, p) for name, p, _ in units], what)
    specs["flops"] = _ranked(f"FLOPs per {what[:-1]}", "FLOPs",
                             [(name, charting.at(f)) for name, _, f in units], what)
    specs["memory"] = _memory(report, charting)
    specs["ops"] = _ranked("Nodes per op type", "nodes", list(report.totals.op_histogram.items()), "op types")
    specs["dtypes"] = _ranked("Parameter bytes by dtype", "bytes",
                              list(report.totals.bytes_by_dtype.items()), "dtypes")
    note = charting.note()
    out: Dict[str, Spec] = {}
    for key, spec in specs.items():
        if spec is None:
            continue
        if note and key in ("flops", "memory"):
            spec["title"] = {"text": spec["title"], "subtitle": note}
        out[key] = spec
    return out


def _memory(report: Report, charting: Charting) -> Optional[Spec]:
    """Live activation bytes along the execution order, the peak marked."""
    rows = []
    for node in report.nodes:
        value = charting.at(node.live_bytes)
        if value is not None:
            rows.append({"step": node.index, "bytes": value, "node": node_label(node), "op": node.op_type})
    if not rows:
        return None
    memory = report.memory
    layers: List[Spec] = [{
        "mark": {"type": "area", "line": True, "opacity": 0.35, "interpolate": "step-after"},
        "encoding": {
            "x": {"field": "step", "type": "quantitative", "title": "node (execution order)"},
            "y": {"field": "bytes", "type": "quantitative", "title": "live activation bytes",
                  "axis": {"format": "~s"}},
            "tooltip": [{"field": "node"}, {"field": "op"}, {"field": "bytes", "format": ","}],
        },
    }]
    peak = next((r for r in rows if memory is not None and r["step"] == memory.peak_index), None)
    if peak is not None:
        layers.append({"data": {"values": [dict(peak, label=f"peak at {peak['node']}")]},
                       "mark": {"type": "point", "filled": True, "size": 80, "color": "#d62728"},
                       "encoding": {"x": {"field": "step", "type": "quantitative"},
                                    "y": {"field": "bytes", "type": "quantitative"},
                                    "tooltip": [{"field": "label"}, {"field": "bytes", "format": ","}]}})
        layers.append({"data": {"values": [dict(peak, label=f"peak: {peak['node']}")]},
                       "mark": {"type": "text", "align": "right", "dx": -8, "dy": -4, "color": "#d62728"},
                       "encoding": {"x": {"field": "step", "type": "quantitative"},
                                    "y": {"field": "bytes", "type": "quantitative"},
                                    "text": {"field": "label"}}})
    return {"title": "Activation memory over the execution order", "width": WIDTH, "height": 220,
            "data": {"values": rows}, "layer": layers}


def combined_svg(specs: Dict[str, Spec]) -> str:
    """Every chart stacked in one SVG picture (``--format svg``)."""
    if not specs:
        raise UsageError("--format svg: nothing to chart (no nodes, parameters or known sizes)")
    vlc = vl_convert()
    svg: str = vlc.vegalite_to_svg({"vconcat": list(specs.values()), "spacing": 30})
    return svg


def plot_paths(specs: Dict[str, Spec], folder: str) -> List[str]:
    """The files ``--plot DIR`` writes: each chart as ``<id>.svg`` and ``<id>.png``."""
    return [os.path.join(folder, f"{key}.{ext}") for key in specs for ext in ("svg", "png")]


def write_plots(specs: Dict[str, Spec], folder: str) -> None:
    """Each chart of ``specs`` into ``folder`` (the files of :func:`plot_paths`)."""
    vlc = vl_convert()
    os.makedirs(folder, exist_ok=True)
    for key, spec in specs.items():
        with open(os.path.join(folder, f"{key}.svg"), "w", encoding="utf-8") as f:
            f.write(vlc.vegalite_to_svg(spec))
        with open(os.path.join(folder, f"{key}.png"), "wb") as fb:
            fb.write(vlc.vegalite_to_png(spec, scale=2))
