"""Footer lines for cost and memory, shared by the table and Markdown renderers."""

from __future__ import annotations

from typing import List, Optional

from ..dims import Dim, Expr, format_count, is_int
from ..report import Report, Totals


def format_bytes(d: Dim) -> str:
    """``4,096 B``, ``4.50 MiB``; a symbolic size as ``4.50 MiB × N``; unknown as ``?``."""
    if d is None:
        return "?"
    if is_int(d):
        return _int_bytes(d)
    if isinstance(d, Expr) and len(d.terms) == 1:
        mono, coeff = d.terms[0]
        return f"{_int_bytes(coeff)} × {Expr({mono: 1})}"
    return f"({d}) B"


def _int_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{n:,} B" if unit == "B" else f"{value:,.2f} {unit}"
        value /= 1024
    return f"{n:,} B"


def share_cell(share: Optional[float]) -> str:
    """A FLOPs share as a percentage; ``?`` when it is unknown or depends on the symbols."""
    if share is None:
        return "?"
    return "<0.1%" if 0 < share < 0.0005 else f"{100 * share:.1f}%"


def flops_line(totals: Totals) -> str:
    """Total FLOPs and MACs, or, when some node's cost is unknown, the known part and how
    many nodes are missing from it (never an unknown counted as 0)."""
    if totals.flops is not None:
        return f"FLOPs:         {format_count(totals.flops)}   MACs: {format_count(totals.macs)}"
    missing = totals.unknown_flop_nodes
    return (f"FLOPs:         unknown: ≥ {format_count(totals.flops_known)} from the nodes of known "
            f"cost, {missing} node{'s' if missing != 1 else ''} of unknown cost   "
            f"MACs: ≥ {format_count(totals.macs_known)}")


def memory_lines(report: Report) -> List[str]:
    memory = report.memory
    if memory is None:
        return []
    if memory.peak_node is None:
        return [f"Activations:   {format_bytes(memory.known_peak_bytes)} of inputs (no nodes run)"]
    live = len(memory.live_at_peak)
    where = f"at {memory.peak_node} ({live} tensor{'s' if live != 1 else ''} live)"
    unknown = len(memory.unknown_tensors)
    if memory.peak_bytes is None:
        peak = (f"peak ≥ {format_bytes(memory.known_peak_bytes)} {where}; {unknown} tensor"
                f"{'s' if unknown != 1 else ''} of unknown size not counted")
    else:
        peak = f"peak {format_bytes(memory.peak_bytes)} {where}"
    if memory.evaluated_at:
        bound = ", ".join(f"{k}={v}" for k, v in sorted(memory.evaluated_at.items()))
        peak += f"; evaluated with {bound} (the peak node depends on the symbols)"
    written = (f"unknown ({unknown} tensor{'s' if unknown != 1 else ''} of unknown size)"
               if memory.activation_bytes is None else
               f"{format_bytes(memory.activation_bytes)} of activations in all (weights not included)")
    return [f"Activations:   {peak}", f"Written:       {written}"]
