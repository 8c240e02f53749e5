"""Reconcile a Keras model with its ONNX export: totals, then layer by layer.

Each Keras layer is matched to the ONNX nodes tf2onnx produced for it through their name
scopes (``unet_1/conv2d_3_1/BiasAdd`` -> ``conv2d_3``, see :mod:`onnxinspect.layers`).
Where the counts differ the difference is explained, never hidden:

- InputLayer: no node, no parameters.
- Dropout (and other training-only layers): identity at inference; the converter drops it.
- BatchNormalization after a convolution or dense layer: folded by the converter.  Its
  4*C parameters (gamma, beta, moving mean, moving variance) become the previous layer's
  scaled kernel and a bias of C values (added if that layer had none), so ONNX shows
  3*C fewer parameters (4*C fewer when the layer already had a bias).
- A bias that is exactly zero: tf2onnx's optimiser deletes the Add, and its parameters.

Shapes: Keras is channels-last (N, H, W, C); tf2onnx runs convolutions channels-first
(N, C, H, W) inside the graph, inserting a Transpose (a Reshape when C = 1) after the
input and another before the output.  The table says which layout each shape is in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from onnxinspect.analyse.layers import LAYOUT_OPS, is_layout_conversion, node_layer
from onnxinspect.dims import format_shape, is_int
from onnxinspect.render.table import grid
from onnxinspect.report import iter_nodes

TRAINING_ONLY = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                 "GaussianDropout", "AlphaDropout", "ActivityRegularization"}
BATCH_NORM = {"BatchNormalization"}
TORCH_IDENTITY = {"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Identity"}


@dataclass
class LayerMatch:
    layer: str                      # Keras layer name ("" for converter-inserted nodes)
    kind: str                       # Keras class name
    nodes: List[str]                # ONNX node names
    ops: List[str]
    keras_params: int
    onnx_params: int
    keras_shape: Optional[tuple]    # (None, 96, 96, 32)
    onnx_shape: Optional[tuple]     # inferred, dims as int / str / None
    layout: str                     # "same", "channels-first", "differs", "-"
    notes: List[str] = field(default_factory=list)
    explained: bool = True
    tensor: Optional[str] = None    # the ONNX tensor holding the layer's output (last node's first)
    tensor_dtype: Optional[str] = None

    def to_dict(self) -> dict:
        return {"layer": self.layer, "class": self.kind, "onnx_nodes": self.nodes, "onnx_ops": self.ops,
                "onnx_tensor": self.tensor,
                "keras_params": self.keras_params, "onnx_params": self.onnx_params,
                "keras_shape": None if self.keras_shape is None else list(self.keras_shape),
                "onnx_shape": None if self.onnx_shape is None else list(self.onnx_shape),
                "layout": self.layout, "notes": self.notes, "explained": self.explained}


@dataclass
class Reconciliation:
    keras_params: int
    keras_trainable: int
    keras_non_trainable: int
    onnx_params: int                # unique parameters of the ONNX graph (onnxinspect's totals)
    rows: List[LayerMatch]
    notes: List[str] = field(default_factory=list)         # about the totals (after the table)
    layout_notes: List[str] = field(default_factory=list)  # how to read the table (before it)
    framework: str = "Keras"
    @property
    def totals_match(self) -> bool:
        return self.keras_params == self.onnx_params

    @property
    def all_explained(self) -> bool:
        return all(r.explained for r in self.rows)

    @property
    def consistent(self) -> bool:
        """Every per-layer difference is explained and together they make the total's."""
        rows = sum(r.keras_params - r.onnx_params for r in self.rows)
        return self.all_explained and rows == self.keras_params - self.onnx_params

    def headline(self) -> str:
        relation = "=" if self.totals_match else "!="
        return f"{self.keras_params:,} parameters in {self.framework} {relation} {self.onnx_params:,} in ONNX"

    def to_dict(self) -> dict:
        return {"framework": self.framework, "keras_params": self.keras_params, "keras_trainable": self.keras_trainable,
                "keras_non_trainable": self.keras_non_trainable, "onnx_params": self.onnx_params,
                "totals_match": self.totals_match, "all_explained": self.all_explained,
                "consistent": self.consistent,
                "headline": self.headline(), "notes": self.layout_notes + self.notes,
                "layers": [r.to_dict() for r in self.rows]}


def reconcile(keras_model, report) -> Reconciliation:
    """Match ``keras_model``'s layers with the ONNX ``report``'s nodes (see module docstring)."""
    groups = _group_nodes(report)
    layers = list(keras_model.layers)
    rows: List[LayerMatch] = []
    by_name: Dict[str, LayerMatch] = {}
    for layer in layers:
        nodes = groups.pop(layer.name, [])
        keras_shape = _keras_shape(layer)
        onnx_shape = _last_output_shape(nodes)
        row = LayerMatch(layer.name, type(layer).__name__, [n.name for n in nodes], _ops(nodes),
                         int(layer.count_params()), _params(nodes), keras_shape, onnx_shape,
                         _layout(keras_shape, onnx_shape) if nodes else "-")
        if nodes and nodes[-1].outputs:
            row.tensor, row.tensor_dtype = nodes[-1].outputs[0].name, nodes[-1].outputs[0].dtype
        rows.append(row)
        by_name[layer.name] = row
    # BatchNormalization first: folding it changes the numbers of the layer before it
    for layer, row in sorted(zip(layers, rows, strict=True), key=lambda pair: pair[1].kind not in BATCH_NORM):
        _explain(layer, row, by_name)
    for key, nodes in groups.items():  # nodes no Keras layer owns
        params = _params(nodes)
        transpose = all(n.op_type in LAYOUT_OPS for n in nodes)
        note = ("layout conversion inserted by tf2onnx (channels-last <-> channels-first)" if transpose
                else "inserted by the converter (no Keras layer in its name scope)")
        rows.append(LayerMatch(key if not key.startswith("\0") else "", "(converter)", [n.name for n in nodes],
                               _ops(nodes), 0, params, None, _last_output_shape(nodes), "-", [note],
                               explained=params == 0))
    trainable = sum(int(np.prod(w.shape)) for w in keras_model.trainable_weights)
    total = int(keras_model.count_params())
    result = Reconciliation(total, trainable, total - trainable, report.totals.unique_params, rows)
    result.layout_notes = _layout_notes(report, rows)
    result.notes = _total_notes(result)
    return result


def reconcile_torch(module, report) -> Reconciliation:
    """Match a torch ``module``'s leaf modules (by their dotted names, which the dynamo
    exporter records in each node's name scopes) with the ONNX ``report``'s nodes.  Torch
    and ONNX share the channels-first layout, so there is no layout conversion."""
    groups = _group_nodes(report)
    rows: List[LayerMatch] = []
    for name, child in module.named_modules():
        if not name or any(True for _ in child.children()):
            continue
        nodes = groups.pop(name, [])
        params = sum(int(p.numel()) for p in child.parameters(recurse=False))
        row = LayerMatch(name, type(child).__name__, [n.name for n in nodes], _ops(nodes), params,
                         _params(nodes), None, _last_output_shape(nodes), "same" if nodes else "-")
        if not nodes and type(child).__name__ in TORCH_IDENTITY:
            row.notes.append("identity in eval mode: not exported")
        elif row.keras_params != row.onnx_params:
            row.notes.append(f"unexplained difference of {row.keras_params - row.onnx_params:+,} params")
            row.explained = False
        rows.append(row)
    for key, nodes in groups.items():  # torch.relu, torch.cat, ... called in forward
        params = _params(nodes)
        name = key if not key.startswith("\0") else nodes[0].name
        rows.append(LayerMatch(name, "(functional)", [n.name for n in nodes], _ops(nodes), 0, params, None,
                               _last_output_shape(nodes), "same",
                               ["a function called in forward, no module: no parameters"], explained=params == 0))
    total = sum(int(p.numel()) for p in module.parameters())
    trainable = sum(int(p.numel()) for p in module.parameters() if p.requires_grad)
    result = Reconciliation(total, trainable, total - trainable, report.totals.unique_params, rows,
                            framework="PyTorch")
    result.notes = _total_notes(result)
    return result


def _group_nodes(report) -> Dict[str, list]:
    """Nodes by Keras layer (:func:`onnxinspect.analyse.layers.node_layer`), in graph order.  The
    layout conversions tf2onnx inserts at the graph's edges are named after a nearby layer
    but belong to none: they get rows of their own, as do nodes without a layer scope."""
    inputs = {t.name for t in report.inputs}
    outputs = {t.name for t in report.outputs}
    groups: Dict[str, list] = {}
    for node in report.nodes:
        layer = None if is_layout_conversion(node, inputs, outputs) else node_layer(node)
        groups.setdefault(layer if layer is not None else f"\0{node.name or node.index}", []).append(node)
    return groups


def _at_edge(node, inputs, outputs) -> bool:
    """The node reads a graph input or writes a graph output."""
    return (any(t is not None and t.name in inputs for t in node.inputs)
            or any(t.name in outputs for t in node.outputs))


def _params(nodes) -> int:
    return sum(inner.params for node in nodes for inner in iter_nodes([node]))


def _ops(nodes) -> List[str]:
    return list(dict.fromkeys(n.op_type for n in nodes))


def _last_output_shape(nodes) -> Optional[tuple]:
    if not nodes or not nodes[-1].outputs:
        return None
    return _onnx_shape(nodes[-1].outputs[0].shape)


def _explain(layer, row: LayerMatch, by_name: Dict[str, LayerMatch]) -> None:
    kind = row.kind
    if kind == "InputLayer":
        row.notes.append("input: no ONNX node, no parameters")
        row.layout = "-"
        return
    if not row.nodes and kind in TRAINING_ONLY:
        row.notes.append("identity at inference: removed by the converter")
        return
    if kind in BATCH_NORM:
        _explain_batch_norm(layer, row, by_name)
        return
    if row.keras_params == row.onnx_params:
        return
    zero_bias = _zero_bias_size(layer)
    if zero_bias and row.keras_params - row.onnx_params == zero_bias:
        row.notes.append(f"bias is all zeros: tf2onnx removed it ({zero_bias:,} params; "
                         "--seed randomises every weight)")
        return
    if any("absorbed" in note for note in row.notes):
        return  # explained by the BatchNormalization that follows
    row.notes.append(f"unexplained difference of {row.keras_params - row.onnx_params:+,} params")
    row.explained = False


def _explain_batch_norm(layer, row: LayerMatch, by_name: Dict[str, LayerMatch]) -> None:
    channels = int(np.prod(layer.moving_mean.shape))
    if not row.nodes:
        target = _producer(layer)
        host = by_name.get(target) if target else None
        if host is None or not host.nodes:
            row.notes.append("no ONNX node, and no convolution/dense layer before it to fold into")
            row.explained = False
            return
        added = host.onnx_params - host.keras_params
        row.notes.append(
            f"folded into {target} by the converter: gamma, beta, moving mean and moving variance "
            f"(4*{channels} = {4 * channels:,} params) became {target}'s scaled kernel and bias")
        host.notes.append(f"absorbed {layer.name} (BatchNormalization): kernel rescaled, "
                          + (f"bias of {added:,} added" if added else "bias adjusted"))
        host.explained = added in (0, channels)
        return
    if row.onnx_params == 2 * channels:
        row.notes.append(f"converted to an affine Mul/Add: scale = gamma/sqrt(var + eps) and "
                         f"shift = beta - mean*scale precomputed, 2*{channels} params instead of 4*{channels}")
        return
    if row.onnx_params != row.keras_params:
        row.notes.append(f"unexplained difference of {row.keras_params - row.onnx_params:+,} params")
        row.explained = False


def _producer(layer) -> Optional[str]:
    """The name of the layer whose output feeds ``layer`` (Keras 3 node history)."""
    try:
        tensor = layer._inbound_nodes[0].input_tensors[0]
        return tensor._keras_history.operation.name
    except (AttributeError, IndexError):
        return None


def _zero_bias_size(layer) -> int:
    """Values in the layer's all-zero vectors (biases; any rank-1 weight, so a wrapped
    SavedModel's are found too): tf2onnx's optimiser removes an Add of zeros."""
    total = 0
    for weight in layer.weights:
        value = np.asarray(weight)
        if value.ndim == 1 and value.size and not value.any():
            total += int(value.size)
    return total


def _keras_shape(layer) -> Optional[tuple]:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return None
    return tuple(shape) if shape is not None else None


def _onnx_shape(shape) -> Optional[tuple]:
    if shape is None:
        return None
    return tuple(d if d is None or is_int(d) else str(d) for d in shape)


def _same(keras_dim, onnx_dim) -> bool:
    if keras_dim is None:
        return onnx_dim is None or not isinstance(onnx_dim, int)  # the batch: a symbol in ONNX
    return keras_dim == onnx_dim


def _layout(keras_shape, onnx_shape) -> str:
    if keras_shape is None or onnx_shape is None:
        return "?"
    if len(keras_shape) == len(onnx_shape) and all(map(_same, keras_shape, onnx_shape)):
        return "same"
    if len(keras_shape) == len(onnx_shape) >= 3:
        first = (keras_shape[0], keras_shape[-1]) + tuple(keras_shape[1:-1])
        if all(map(_same, first, onnx_shape)):
            return "channels-first"
    return "differs"


def _layout_notes(report, rows: List[LayerMatch]) -> List[str]:
    if not any(r.layout == "channels-first" for r in rows):
        return []
    inputs = {t.name for t in report.inputs}
    outputs = {t.name for t in report.outputs}
    converts = [n for n in report.nodes if n.op_type in LAYOUT_OPS and _at_edge(n, inputs, outputs)]
    where = ", ".join(f"{n.op_type} {n.name}" for n in converts) or "none found at the graph edges"
    return ["Keras is channels-last (N, H, W, C); tf2onnx runs the convolutions channels-first "
            f"(N, C, H, W) and converts at the graph's edges ({where}); a Reshape does it when C = 1. "
            "'channels-first' below means the same tensor in that layout."]


def _total_notes(result: Reconciliation) -> List[str]:
    if result.totals_match:
        return []
    verdict = ("the sum of the per-layer differences above, all explained" if result.consistent
               else "NOT accounted for by the explained per-layer differences")
    return [f"{result.framework} {result.keras_params:,} - ONNX {result.onnx_params:,} = "
            f"{result.keras_params - result.onnx_params:,}: {verdict}"]


def format_reconciliation(result: Reconciliation) -> List[str]:
    """A text table: one row per Keras layer (and per converter-only node group)."""
    f = result.framework
    header = [f"{f} layer", "Class", "ONNX nodes", f"{f} params", "ONNX params", f"{f} shape",
              "ONNX shape", "Layout", "Notes"]
    body: List[List[str]] = []
    for r in result.rows:
        ops = ", ".join(r.ops) if r.ops else "-"
        body.append([r.layer or "-", r.kind, f"{len(r.nodes)} ({ops})" if r.nodes else "0",
                     f"{r.keras_params:,}", f"{r.onnx_params:,}",
                     str(r.keras_shape) if r.keras_shape is not None else "?",
                     format_shape(r.onnx_shape) if r.onnx_shape is not None else "-", r.layout,
                     "; ".join(r.notes)])
    lines = list(result.layout_notes) + grid(header, body, right={3, 4})
    lines.append(f"{f}: {result.keras_params:,} params ({result.keras_trainable:,} trainable, "
                 f"{result.keras_non_trainable:,} non-trainable)")
    lines.append(result.headline())
    lines += result.notes
    return lines
