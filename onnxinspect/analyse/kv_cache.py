"""The key/value cache of a decoder: which graph inputs and outputs hold it, its bytes
per token, and the cost of a prefill and of one decode step.

Recognised names: ``past_key_values.N.key`` / ``.value`` (onnxruntime-genai, optimum),
``present.N.key``, ``past_key_N`` / ``present_value_N``, ``past_key_values_N_key`` and the
like (torch.onnx): a name holding ``past`` or ``present``, ``key`` or ``value`` and a
layer number.  Each is ``(batch, kv_heads, sequence, head_dim)``.

- ``bytes_per_token`` = Σ over the cache tensors of kv_heads · head_dim · dtype bytes
  (= 2 · layers · kv_heads · head_dim · bytes for a uniform decoder), per sequence.
- ``present_bytes``: the present tensors' bytes, an expression in the model's own
  symbols (``total_sequence_length``, ``past_sequence_length + sequence_length``), a number
  once they are bound with ``--dim``.
- prefill / decode: the model's FLOPs with the past length set to 0 (a prefill of S
  tokens), and with the new tokens set to 1 (one step at past length P); bytes read =
  the stored weights + the past cache read.  Symbols left free stay in the expressions.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

from ..dims import Dim, Expr, add, is_int, mul, sum_dims
from ..dtypes import element_bits
from ..report import KVCache, Report
from ..tensors import TensorInfo
from .memory import tensor_bytes

_LAYER = re.compile(r"(\d+)")
_ROLE = re.compile(r"(past|present)", re.IGNORECASE)
_KIND = re.compile(r"(key|value)", re.IGNORECASE)


def _cache_name(name: str) -> Optional[Tuple[str, int, str]]:
    """(past|present, layer, key|value) for a cache tensor's name, else None."""
    role, kinds, layer = _ROLE.search(name), _KIND.findall(name), _LAYER.search(name)
    if role is None or not kinds or layer is None:
        return None
    return role.group(1).lower(), int(layer.group(1)), kinds[-1].lower()   # (past_KEY_values.0.value)


def _cache(tensors: List[TensorInfo], role: str) -> Dict[Tuple[int, str], Tuple[TensorInfo, Tuple[Dim, ...]]]:
    """(layer, key|value) -> (tensor, its 4-D shape)."""
    found: Dict[Tuple[int, str], Tuple[TensorInfo, Tuple[Dim, ...]]] = {}
    for t in tensors:
        parsed = _cache_name(t.name)
        if parsed and parsed[0] == role and t.shape is not None and len(t.shape) == 4:
            found[(parsed[1], parsed[2])] = (t, t.shape)
    return found


def _symbol(d: Dim) -> Optional[str]:
    if isinstance(d, Expr) and len(d.symbols()) == 1 and d.constant == 0:
        return next(iter(d.symbols()))
    return None


def _at(value: Dim, bindings: Dict[str, int]) -> Dim:
    return value.subs(bindings) if isinstance(value, Expr) and bindings else value


def analyse_kv_cache(report: Report) -> Optional[KVCache]:
    past, present = _cache(report.inputs, "past"), _cache(report.outputs, "present")
    cache = present or past
    if not cache:
        return None
    first, shape = next(iter(cache.values()))
    heads, head_dim = shape[1], shape[3]
    per_token = sum_dims(mul(s[1], s[3], element_bits(t.dtype) // 8) for t, s in cache.values())
    past_bytes = sum_dims(tensor_bytes(t) for t, _ in past.values()) if past else 0
    past_symbol = _symbol(next(iter(past.values()))[1][2]) if past else None
    new_symbol = _new_tokens_symbol(report, past_symbol)
    weights = report.precision.weight_bytes + report.precision.metadata_bytes if report.precision else \
        report.totals.param_bytes
    flops = report.totals.flops
    prefill = {past_symbol: 0} if past_symbol else {}
    decode = {new_symbol: 1} if new_symbol else {}
    return KVCache(
        layers=len({layer for layer, _ in cache}), kv_heads=heads, head_dim=head_dim, dtype=first.dtype,
        tensors=sorted(t.name for t, _ in list(past.values()) + list(present.values())),
        bytes_per_token=per_token,
        present_bytes=sum_dims(tensor_bytes(t) for t, _ in present.values()) if present else None,
        past_symbol=past_symbol, new_tokens_symbol=new_symbol,
        prefill_flops=_at(flops, prefill), decode_flops=_at(flops, decode),
        prefill_bytes_read=weights, decode_bytes_read=add(weights, _at(past_bytes, decode)))


def _new_tokens_symbol(report: Report, past_symbol: Optional[str]) -> Optional[str]:
    """The symbol of the new tokens: dim 1 of ``input_ids`` (or the first 2-D integer input)."""
    candidates = [t for t in report.inputs if t.shape is not None and len(t.shape) == 2
                  and t.dtype in ("int64", "int32") and not is_int(t.shape[1])]
    ids = next((t for t in candidates if "input_ids" in t.name), candidates[0] if candidates else None)
    symbol = _symbol(ids.shape[1]) if ids is not None and ids.shape is not None else None
    return symbol if symbol != past_symbol else None
