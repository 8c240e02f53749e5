"""``onnxinspect diff``: a :class:`~onnxinspect.diff.Diff` as a table, Markdown or JSON.
Format only: every figure, match and change is in the Diff."""

from __future__ import annotations

import json
from typing import Any, Callable, List, Optional, Sequence

from ..diff import Diff, Figure, Item, RowDiff
from ..dims import Dim, format_count, is_int
from .summary import format_bytes
from .table import grid

DIFF_FORMATS = ("table", "json", "markdown")
ROWS_SHOWN = 200   # table and Markdown list at most this many changed rows (JSON has them all)


def render_diff(diff: Diff, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(diff.to_dict(), indent=2, ensure_ascii=False)
    if fmt not in ("table", "markdown"):
        raise ValueError(f"unknown diff format {fmt!r}")
    markdown = fmt == "markdown"
    out: List[str] = []

    def section(title: str, header: List[str], rows: List[List[str]], right: set[int]) -> None:
        if markdown:
            out.append(f"### {title}")
            out.append("")
            out.extend(_markdown(header, rows, right))
        else:
            out.append(f"{title}:")
            out.extend(grid(header, rows, right))
        out.append("")

    title = f"{diff.before_path or 'A'} -> {diff.after_path or 'B'}"
    out.append(f"## Diff: `{title}`" if markdown else f"Diff: {title}")
    out.append("")
    if diff.identical:
        out.append("The models are the same in every figure, tensor and " + diff.by + ".")
        out.append("")

    model = [[f.name, _value(f.before), _value(f.after)] for f in diff.model if f.changed]
    if model:
        section("Model", ["Field", "Before", "After"], model, set())

    tensors = [[t.kind, t.name, t.status, _tensor(t.before_dtype, t.before_shape), _tensor(t.after_dtype, t.after_shape)
                + (" (layout)" if t.layout_only else "")]
               for t in diff.tensors if t.status != "same"]
    if tensors:
        section("Inputs and outputs", ["Kind", "Name", "Status", "Before", "After"], tensors, set())

    figures = [_figure_row(f) for f in diff.figures]
    if diff.bindings:
        at = ", ".join(f"{k}={v}" for k, v in diff.bindings.items())
        figures += [_figure_row(f, at) for f in diff.figures if _symbolic(f)]
    section("Totals", ["Figure", "Before", "After", "Change", "%"], figures, {1, 2, 3, 4})

    ops = [[o.op_type, str(o.before), str(o.after), f"{o.delta:+d}"] for o in diff.ops if o.delta]
    if ops:
        section("Op types", ["Op type", "Before", "After", "Change"], ops, {1, 2, 3})

    what = "Layers" if diff.by == "layer" else "Nodes"
    counts = ", ".join(f"{diff.count(s)} {s}" for s in ("changed", "renamed", "added", "removed", "unchanged"))
    if diff.replaced:
        counts += f", {len(diff.replaced)} replaced"
    listed = [r for r in diff.rows if r.status != "unchanged"]
    if listed:
        shown = [_row(r) for r in listed[:ROWS_SHOWN]]
        section(f"{what} ({counts})", ["Status", what[:-1], "Params", "Output shape", "FLOPs", "Ops"], shown,
                set())
        if len(listed) > len(shown):
            out[-1:] = [f"... {len(listed) - len(shown)} more (--format json lists them all)", ""]
    else:
        out.append(f"{what}: {counts}")
        out.append("")
    if diff.replaced:
        reps = [[_names(r.before), _names(r.after), _delta(r.params_delta), _delta(r.flops_delta)]
                for r in diff.replaced[:ROWS_SHOWN]]
        section("Replaced (fused) nodes", ["Before", "After", "Params", "FLOPs"], reps, {2, 3})
    for note in diff.notes:
        out.append(f"Note: {note}")
    return "\n".join(out).rstrip() + "\n"


def _value(v: Any) -> str:
    return "-" if v is None else str(v)


def _shape(shape: Optional[Sequence[Any]]) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _tensor(dtype: Optional[str], shape: Optional[Sequence[Any]]) -> str:
    if dtype is None and shape is None:
        return "-"
    return f"{dtype or '?'} {_shape(shape)}"


def _symbolic(f: Figure) -> bool:
    return not (is_int(f.before) or f.before is None) or not (is_int(f.after) or f.after is None)


def _bytes(d: Dim) -> str:
    """format_bytes, except a sum of symbolic terms: ``-4,718,592*N + 24,576*batch B``."""
    if d is not None and not is_int(d) and len(d.terms) > 1:
        return f"{format_count(d)} B"
    return format_bytes(d)


def _figure_row(f: Figure, at: Optional[str] = None) -> List[str]:
    fmt: Callable[[Dim], str] = _bytes if f.unit == "bytes" else format_count
    before, after, delta, rel = (f.before_at, f.after_at, f.delta_at, f.relative_at) if at else \
        (f.before, f.after, f.delta, f.relative)
    name = f"{f.name} @ {at}" if at else f.name
    if delta is None:
        change = "?"
    elif delta == 0:
        change = "0"
    else:
        text = fmt(delta)
        change = text if text.startswith("-") else "+" + text
    return [name, fmt(before), fmt(after), change, _percent(rel, delta, before)]


def _percent(rel: Optional[float], delta: Dim, before: Dim) -> str:
    if rel is None:
        return "" if delta == 0 else "new" if before == 0 else "?"
    if rel == 0:
        return "0%" if delta == 0 else "~0%"
    return f"{100 * rel:+.2f}%"


def _delta(d: Dim) -> str:
    if d is None:
        return "?"
    text = format_count(d)
    return text if text.startswith("-") or d == 0 else "+" + text


def _pair(a: str, b: str) -> str:
    return a if a == b else f"{a} -> {b}"


def _row(r: RowDiff) -> List[str]:
    a, b = r.before, r.after
    if a is None or b is None:
        item = a or b
        assert item is not None
        sign = "+" if b is not None else "-"

        def signed(d: Dim) -> str:
            return "0" if d == 0 else f"{sign}{format_count(d)}"
        return [r.status, item.name, signed(item.params), _shape(item.output_shape), signed(item.flops),
                ", ".join(item.op_types)]
    name = _pair(a.name, b.name)
    params = f"{a.params:,}" if a.params == b.params else f"{a.params:,} -> {b.params:,} ({_delta(r.params_delta)})"
    shape = _pair(_shape(a.output_shape), _shape(b.output_shape)) + (" (layout)" if r.layout_only else "")
    flops = format_count(a.flops) if a.flops == b.flops else \
        f"{format_count(a.flops)} -> {format_count(b.flops)} ({_delta(r.flops_delta)})"
    ops = _pair(", ".join(a.op_types), ", ".join(b.op_types))
    status = r.status if r.matched_by in ("name", None) else f"{r.status} ({r.matched_by})"
    return [status, name, params, shape, flops, ops]


def _names(items: Sequence[Item]) -> str:
    shown = ", ".join(f"{i.name or '#' + str(i.index)} ({i.op_types[0]})" for i in items[:4])
    return shown + (f" +{len(items) - 4} more" if len(items) > 4 else "")


def _markdown(header: List[str], rows: List[List[str]], right: set[int]) -> List[str]:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return lines


__all__ = ["DIFF_FORMATS", "render_diff"]
