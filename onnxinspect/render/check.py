"""``--check``'s findings as text: counts per kind, then every disagreement."""

from __future__ import annotations

from typing import List, Optional, Union

from ..dims import format_shape
from ..report import CHECK_KINDS, CheckResult

_LABELS = {"conflict": "conflicts", "ours_unknown": "only onnx knows", "onnx_unknown": "only we know",
           "symbolic": "symbols spelled differently", "naming": "unk__ names only", "agree": "agree"}


def render_check(result: CheckResult) -> str:
    if result.error:
        return f"Check: onnx.shape_inference failed, nothing compared: {result.error}"
    lines = [f"Check against onnx.shape_inference (data_prop=True): {result.compared:,} tensors compared",
             "  " + " · ".join(f"{_LABELS[k]} {result.counts[k]:,}" for k in CHECK_KINDS)]
    if result.symbols and result.counts["agree"] < result.compared:
        names = ", ".join(result.symbols)
        example = " ".join(f"--dim {s}=8" for s in result.symbols)
        lines.append(f"  The inputs keep {names} symbolic and onnx spells derived dims its own way; "
                     f"{example} compares numbers instead.")
    if result.disagreements:
        rows = [["kind", "tensor", "ours", "onnx"]] + [
            [d.kind, d.tensor, _cell(d.ours, d.ours_dtype), _cell(d.onnx, d.onnx_dtype)]
            for d in result.disagreements]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3] for r in rows]
    return "\n".join(lines)


def _cell(shape: Optional[List[Union[int, str, None]]], dtype: Optional[str]) -> str:
    text = "?" if shape is None else format_shape(tuple(shape))
    return f"{dtype or '?'} {text}"
