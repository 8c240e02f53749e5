"""Precision of each compute node and the size of the weights against fp32.

Labels (``NodeReport.precision``), for nodes that multiply-accumulate or hold weights:

- ``W4 A32``: weight bits, activation bits, for the quantized ops that carry their own
  integer weights (MatMulNBits, QLinearConv, MatMulInteger, QGemm, ...); ``(dynamic)``
  when the activation is quantized on the fly (DynamicQuantizeMatMul).
- ``W8 A8 (QDQ)``: a float op (MatMul, Conv, Gemm) whose inputs come out of
  DequantizeLinear nodes; a float activation gives ``A32``.
- ``fp32`` / ``fp16`` / ``bf16``: a float op on float weights.

Sizes (:class:`~onnxinspect.report.Precision`): the weights as stored (packed 4-bit blobs
at their real size), the scales and zero points beside them, and the fp32 size of the
same logical parameters.  A model that says it is quantized (QDQ or quantized ops, or a
``quant`` producer) yet feeds an fp32 weight straight into a MatMul / Conv / Gemm gets
one warning per such node.
"""

from __future__ import annotations

from collections import Counter
from typing import Dict, List, Optional

from ..dtypes import FLOAT_TYPES, element_bits, nbytes
from ..ops.registry import lookup
from ..report import NodeReport, Precision, Report, iter_nodes
from ..tensors import TensorInfo

# Ops that carry integer weights themselves: (weight slot, activation slot).
INTEGER_OPS = {
    "MatMulNBits": (1, 0), "QLinearConv": (3, 0), "QLinearMatMul": (3, 0), "MatMulInteger": (1, 0),
    "ConvInteger": (1, 0), "QGemm": (3, 0), "QAttention": (1, 0), "DynamicQuantizeMatMul": (1, 0),
    "MatMulIntegerToFloat": (1, 0), "GatherBlockQuantized": (0, 0),
}
FLOAT_COMPUTE = frozenset({"MatMul", "Conv", "Gemm", "ConvTranspose", "FusedMatMul", "FusedConv", "FusedGemm"})
QDQ = frozenset({"QuantizeLinear", "DequantizeLinear"})
_SHORT = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64"}


def _bits(dtype: Optional[str]) -> str:
    return str(element_bits(dtype)) if dtype else "?"


def _label(node: NodeReport, producers: Dict[str, NodeReport]) -> Optional[str]:
    if node.op_type in INTEGER_OPS:
        w_slot, a_slot = INTEGER_OPS[node.op_type]
        weight = node.inputs[w_slot] if w_slot < len(node.inputs) else None
        packed = node.packed_params.get(weight.name) if weight is not None else None
        w_dtype = packed[1] if packed else (weight.dtype if weight else None)
        activation = node.inputs[a_slot] if a_slot < len(node.inputs) else None
        a_dtype = activation.dtype if activation is not None else None
        if node.op_type == "DynamicQuantizeMatMul":
            return f"W{_bits(w_dtype)} A8 (dynamic)"
        return f"W{_bits(w_dtype)} A{_bits(a_dtype)}"
    if node.op_type not in FLOAT_COMPUTE and not (node.params and node.macs):
        return None
    # input 0 is the activation, input 1 the weight (MatMul's B, Conv's W, Gemm's B)
    sides = [_through_dequantize(t, producers) for t in node.inputs[:2]]
    if len(sides) == 2 and (sides[0][1] or sides[1][1]):
        return f"W{_bits(sides[1][0])} A{_bits(sides[0][0])} (QDQ)"
    dtype = next((t.dtype for t in node.inputs if t is not None and t.dtype in FLOAT_TYPES), None)
    return _SHORT.get(dtype or "", dtype)


def _through_dequantize(info: Optional[TensorInfo], producers: Dict[str, NodeReport]) -> "tuple[Optional[str], bool]":
    """(dtype before any DequantizeLinear, whether there was one)."""
    if info is None:
        return None, False
    producer = producers.get(info.name)
    if producer is not None and producer.op_type == "DequantizeLinear" and producer.inputs[0] is not None:
        return producer.inputs[0].dtype, True
    return info.dtype, False


def analyse_precision(report: Report) -> Optional[Precision]:
    """Label every compute node (``node.precision``) and size the weights; None for a
    model without parameters."""
    producers = {t.name: n for n in iter_nodes(report.nodes) for t in n.outputs if t.name}
    labels: Counter[str] = Counter()
    metadata: Dict[str, TensorInfo] = {}
    quantized = "quant" in report.model.producer.lower()
    float_weights: List[str] = []
    for node in iter_nodes(report.nodes):
        node.precision = _label(node, producers)
        if node.precision:
            labels[node.precision] += 1
        rule = lookup(node.domain, node.op_type)
        if node.op_type in INTEGER_OPS or node.op_type in QDQ or node.op_type.startswith("QLinear"):
            quantized = True
            for slot in rule.meta_inputs if rule is not None else ():
                info = node.inputs[slot] if slot < len(node.inputs) else None
                if info is not None and info.source:
                    metadata.setdefault(info.name, info)
        if node.op_type in FLOAT_COMPUTE and node.precision in _SHORT.values():
            float_weights += [f"node {node.name or f'#{node.index}'} ({node.op_type}): weight {name!r} is "
                              f"{node.precision}" for name in node.param_inputs[:1]
                              if node.inputs[1] is not None and node.inputs[1].name == name]
    totals = report.totals
    if not totals.unique_params:
        return None
    meta_bytes = sum(nbytes(t.dtype, t.size) for t in metadata.values() if isinstance(t.size, int))
    fp32 = 4 * totals.unique_params
    stored = totals.param_bytes + meta_bytes
    if quantized:
        report.warnings += [f"{line} in a quantized model: not quantized" for line in float_weights]
    return Precision(labels=dict(labels.most_common()), weight_bytes=totals.param_bytes,
                     metadata_bytes=meta_bytes, fp32_bytes=fp32, quantized=quantized,
                     compression=round(fp32 / stored, 3) if stored else None)
