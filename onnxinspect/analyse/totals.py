"""The totals of a walked graph: parameters (each weight once in ``unique_params``),
bytes by dtype, the op histogram and the summed cost."""

from __future__ import annotations

from collections import Counter
from typing import Dict, List, Mapping

from ..dtypes import nbytes
from ..report import AttributeParams, NodeReport, Totals, body_cost, iter_nodes
from ..tensors import TensorInfo


def sum_totals(nodes: List[NodeReport], tensors: Mapping[str, TensorInfo]) -> Totals:
    """Sum parameters, bytes, ops and cost over ``nodes`` (subgraph bodies included)."""
    params = 0
    unique: Dict[str, TensorInfo] = {}
    histogram: Counter[str] = Counter()
    unknown_ops = []
    held: Dict[str, AttributeParams] = {}
    for node in iter_nodes(nodes):
        params += node.params
        for name in node.param_inputs:
            unique.setdefault(name, tensors.get(name) or _find_input(node, name))
        for values in node.attribute_params:  # learned values in attributes, by "<node>.<attribute>"
            held.setdefault(values.name, values)
        histogram[node.op_type] += 1
        if not node.known_op:
            unknown_ops.append(node.op_type)
    # One unknown cost makes the total unknown: never an undercount.
    # Top-level nodes only: an If/Loop/Scan/function call's cost already covers its body.
    macs, flops = body_cost(nodes)
    by_dtype: Counter[str] = Counter()
    bytes_by_dtype: Counter[str] = Counter()
    for values in held.values():
        by_dtype[values.dtype] += values.count
        bytes_by_dtype[values.dtype] += nbytes(values.dtype, values.count)
    packed = {name: counted for node in iter_nodes(nodes) for name, counted in node.packed_params.items()}
    for name, info in unique.items():
        size = info.size
        if isinstance(size, int):
            # A packed quantized weight: its logical elements, under its logical dtype, and
            # the bytes it is stored in (the uint8 blob).
            logical, dtype = packed.get(name, (size, info.dtype or "?"))
            by_dtype[dtype] += logical
            bytes_by_dtype[dtype] += nbytes(info.dtype, size)
    return Totals(params=params, unique_params=sum(by_dtype.values()),
                  param_bytes=sum(bytes_by_dtype.values()), nodes=len(nodes),
                  params_by_dtype=dict(by_dtype), bytes_by_dtype=dict(bytes_by_dtype),
                  op_histogram=dict(histogram.most_common()),
                  macs=macs, flops=flops, unknown_ops=sorted(set(unknown_ops)))


def _find_input(node: NodeReport, name: str) -> TensorInfo:
    return next(t for t in node.inputs if t is not None and t.name == name)
