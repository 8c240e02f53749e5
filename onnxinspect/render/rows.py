"""The cells every tabular renderer shows for a node, formatted once."""

from __future__ import annotations

from typing import List

from ..dims import format_count, format_shape
from ..report import NodeReport
from ..tensors import TensorInfo
from .summary import share_cell


def node_label(node: NodeReport) -> str:
    return node.name or f"{node.op_type}_{node.index}"


def output_shapes(node: NodeReport) -> str:
    shapes = [format_shape(t.shape) for t in node.outputs if t.name]
    return " ; ".join(shapes) if shapes else "-"


def params_cell(node: NodeReport) -> str:
    text = f"{node.params:,}" if node.params else "0"
    return text + ("*" if node.shared_params else "")


def node_row(node: NodeReport) -> List[str]:
    return [str(node.index), node_label(node), node.op_type, output_shapes(node), params_cell(node),
            format_count(node.flops), share_cell(node.flops_share)]


HEADER = ["#", "Node", "Op", "Output shape", "Params", "FLOPs", "FLOPs %"]
RIGHT = {0, 4, 5, 6}  # numeric columns, right-aligned


def io_line(tensor: TensorInfo) -> str:
    if tensor.dtype is None and tensor.shape is None:
        return f"{tensor.name}: unknown"   # not "? ?"
    return f"{tensor.name}: {tensor.dtype or '?'} {format_shape(tensor.shape)}"
