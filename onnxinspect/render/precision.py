"""Footer lines for a quantized model's precision and a decoder's KV cache."""

from __future__ import annotations

from typing import List

from ..dims import format_count
from ..report import Report
from .summary import format_bytes


def precision_lines(report: Report) -> List[str]:
    """``Precision:`` when the model is quantized, ``KV cache:`` and the prefill / decode
    figures when it has one (nothing otherwise)."""
    lines = []
    p = report.precision
    if p is not None and p.quantized:
        labels = ", ".join(f"{label} ×{n}" for label, n in p.labels.items())
        ratio = f" ({p.compression:g}× smaller)" if p.compression else ""
        lines.append(f"Precision:     {labels}; weights {format_bytes(p.weight_bytes)} + "
                     f"{format_bytes(p.metadata_bytes)} scales/zero points vs {format_bytes(p.fp32_bytes)} "
                     f"at fp32{ratio}")
    kv = report.kv_cache
    if kv is not None:
        lines.append(f"KV cache:      {kv.layers} layers × {format_count(kv.kv_heads)} heads × "
                     f"{format_count(kv.head_dim)} {kv.dtype}: {format_bytes(kv.bytes_per_token)} per token; "
                     f"present {format_bytes(kv.present_bytes)}")
        lines.append(f"Prefill:       {format_count(kv.prefill_flops)} FLOPs, "
                     f"{format_bytes(kv.prefill_bytes_read)} read ({kv.past_symbol or 'past'} = 0)")
        lines.append(f"Decode step:   {format_count(kv.decode_flops)} FLOPs, "
                     f"{format_bytes(kv.decode_bytes_read)} read ({kv.new_tokens_symbol or 'new tokens'} = 1)")
    return lines
