"""The cells every tabular renderer shows for a node, formatted once."""

from __future__ import annotations

from typing import List, Optional

from ..dims import format_count, format_dim, format_shape
from ..report import NodeReport, Report
from ..tensors import MapInfo, SequenceInfo, TensorInfo
from .summary import share_cell


def node_label(node: NodeReport) -> str:
    return node.name or f"{node.op_type}_{node.index}"


def type_cell(info: Optional[TensorInfo]) -> str:
    """A tensor's shape; a sequence as ``seq<float32 (N, 3)> × 4``, an optional as
    ``opt<...>``, a map as ``map<string, float32 (1,)>`` ('?' for what is unknown)."""
    if info is None or info.kind == "tensor":
        return format_shape(None if info is None else info.shape)
    elem = getattr(info, "elem", None)
    if elem is None:
        inner = "?"
    elif elem.kind == "tensor":
        inner = f"{elem.dtype or '?'} {format_shape(elem.shape)}"
    else:
        inner = type_cell(elem)
    if isinstance(info, SequenceInfo):
        return f"seq<{inner}> × {format_dim(info.length)}"
    if isinstance(info, MapInfo):
        return f"map<{info.key or '?'}, {inner}>"
    return f"opt<{inner}>"


def output_shapes(node: NodeReport) -> str:
    shapes = [type_cell(t) for t in node.outputs if t.name]
    return " ; ".join(shapes) if shapes else "-"


def params_cell(node: NodeReport) -> str:
    text = f"{node.params:,}" if node.params else "0"
    return text + ("*" if node.shared_params else "")


def node_row(node: NodeReport, precision: bool = False) -> List[str]:
    """The node's cells; ``precision`` adds its label (``W4 A32``, '' for a node without one)."""
    row = [str(node.index), node_label(node), node.op_type, output_shapes(node), params_cell(node),
           format_count(node.flops), share_cell(node.flops_share)]
    return row + [node.precision or ""] if precision else row


HEADER = ["#", "Node", "Op", "Output shape", "Params", "FLOPs", "FLOPs %"]
RIGHT = {0, 4, 5, 6}  # numeric columns, right-aligned


def shows_precision(report: Report) -> bool:
    """Whether the node tables carry a Precision column: only for a quantized model, so
    an fp32 model's table stays as it was."""
    return report.precision is not None and report.precision.quantized


def header(precision: bool) -> List[str]:
    return HEADER + ["Precision"] if precision else HEADER


def io_line(tensor: TensorInfo) -> str:
    if tensor.dtype is None and tensor.shape is None:
        return f"{tensor.name}: unknown"   # not "? ?"
    if tensor.kind != "tensor":
        return f"{tensor.name}: {type_cell(tensor)}"
    return f"{tensor.name}: {tensor.dtype or '?'} {format_shape(tensor.shape)}"
