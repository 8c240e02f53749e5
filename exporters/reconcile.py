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

from onnxinspect.dims import format_shape, is_int
from onnxinspect.layers import group_layers

TRAINING_ONLY = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                 "GaussianDropout", "AlphaDropout", "ActivityRegularization"}
BATCH_NORM = {"BatchNormalization"}


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

    def to_dict(self) -> dict:
        return {"layer": self.layer, "class": self.kind, "onnx_nodes": self.nodes, "onnx_ops": self.ops,
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
    notes: List[str] = field(default_factory=list)

    @property
    def totals_match(self) -> bool:
        return self.keras_params == self.onnx_params

    @property
    def all_explained(self) -> bool:
        return all(r.explained for r in self.rows)

    def headline(self) -> str:
        relation = "=" if self.totals_match else "!="
        return f"{self.keras_params:,} parameters in Keras {relation} {self.onnx_params:,} in ONNX"

    def to_dict(self) -> dict:
        return {"keras_params": self.keras_params, "keras_trainable": self.keras_trainable,
                "keras_non_trainable": self.keras_non_trainable, "onnx_params": self.onnx_params,
                "totals_match": self.totals_match, "all_explained": self.all_explained,
                "headline": self.headline(), "notes": self.notes, "layers": [r.to_dict() for r in self.rows]}


def reconcile(keras_model, report) -> Reconciliation:
    """Match ``keras_model``'s layers with the ONNX ``report``'s nodes (see module docstring)."""
    groups = {row.name: row for row in group_layers(report)}
    layers = list(keras_model.layers)
    rows: List[LayerMatch] = []
    by_name: Dict[str, LayerMatch] = {}
    for layer in layers:
        group = groups.pop(layer.name, None)
        keras_shape = _keras_shape(layer)
        onnx_shape = _onnx_shape(group.output.shape) if group and group.output is not None else None
        row = LayerMatch(layer.name, type(layer).__name__,
                         [n.name for n in group.nodes] if group else [],
                         list(group.op_types) if group else [],
                         int(layer.count_params()), group.params if group else 0,
                         keras_shape, onnx_shape, _layout(keras_shape, onnx_shape) if group else "-")
        rows.append(row)
        by_name[layer.name] = row
    for layer, row in zip(layers, rows):
        _explain(layer, row, by_name)
    for group in groups.values():  # nodes no Keras layer owns
        rows.append(LayerMatch("", "(converter)", [n.name for n in group.nodes], list(group.op_types), 0,
                               group.params, None,
                               _onnx_shape(group.output.shape) if group.output is not None else None, "-",
                               ["inserted by the converter (no Keras layer in its name scope)"],
                               explained=group.params == 0))
    trainable = sum(int(np.prod(w.shape)) for w in keras_model.trainable_weights)
    total = int(keras_model.count_params())
    result = Reconciliation(total, trainable, total - trainable, report.totals.unique_params, rows)
    result.notes = _layout_notes(report, rows) + _total_notes(result)
    return result


def _explain(layer, row: LayerMatch, by_name: Dict[str, LayerMatch]) -> None:
    kind = row.kind
    if kind == "InputLayer":
        row.notes.append("input: no ONNX node, no parameters")
        row.layout = "-"
        return
    if not row.nodes and kind in TRAINING_ONLY:
        row.notes.append("identity at inference: removed by the converter")
        return
    if not row.nodes and kind in BATCH_NORM:
        target = _producer(layer)
        channels = int(layer.gamma.shape[0]) if getattr(layer, "gamma", None) is not None else \
            int(np.prod(layer.moving_mean.shape))
        if target is not None and target in by_name and by_name[target].nodes:
            host = by_name[target]
            added = host.onnx_params - host.keras_params
            row.notes.append(
                f"folded into {target} by the converter: gamma, beta, moving mean and moving variance "
                f"(4*{channels} = {4 * channels:,} params) became {target}'s scaled kernel and bias")
            host.notes.append(f"absorbed {layer.name} (BatchNormalization): kernel rescaled"
                              + (f", bias of {added:,} added" if added else ", bias adjusted"))
            host.explained = added in (0, channels)
            return
        row.notes.append("no ONNX node and no convolution/dense layer before it to fold into")
        row.explained = row.keras_params == 0
        return
    if row.keras_params == row.onnx_params:
        return
    zero_bias = _zero_bias_size(layer)
    if zero_bias and row.keras_params - row.onnx_params == zero_bias:
        row.notes.append(f"bias is all zeros: tf2onnx removed it ({zero_bias:,} params)")
        return
    if any("absorbed" in note for note in row.notes):
        return  # explained by the BatchNormalization that follows
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
    bias = getattr(layer, "bias", None)
    if bias is None:
        return 0
    value = np.asarray(bias)
    return int(value.size) if value.size and not value.any() else 0


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
    converts = [n for n in report.nodes if n.op_type in ("Transpose", "Reshape")
                and (any(t is not None and t.name in inputs for t in n.inputs)
                     or any(t.name in outputs for t in n.outputs))]
    where = ", ".join(f"{n.op_type} {n.name}" for n in converts) or "none found at the graph edges"
    return ["Keras is channels-last (N, H, W, C); tf2onnx runs the convolutions channels-first "
            f"(N, C, H, W) and converts at the graph's edges ({where}); a Reshape does it when C = 1. "
            "'channels-first' below means the same tensor in that layout."]


def _total_notes(result: Reconciliation) -> List[str]:
    if result.totals_match:
        return []
    return [f"Keras {result.keras_params:,} - ONNX {result.onnx_params:,} = "
            f"{result.keras_params - result.onnx_params:,}: see the notes per layer"]


def format_reconciliation(result: Reconciliation) -> List[str]:
    """A text table: one row per Keras layer (and per converter-only node group)."""
    header = ["Keras layer", "Class", "ONNX nodes", "Keras params", "ONNX params", "Keras shape",
              "ONNX shape", "Layout", "Notes"]
    body = []
    for r in result.rows:
        ops = ", ".join(r.ops) if r.ops else "-"
        body.append([r.layer or "-", r.kind, f"{len(r.nodes)} ({ops})" if r.nodes else "0",
                     f"{r.keras_params:,}", f"{r.onnx_params:,}",
                     str(r.keras_shape) if r.keras_shape is not None else "?",
                     format_shape(r.onnx_shape) if r.onnx_shape is not None else "-", r.layout,
                     "; ".join(r.notes)])
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    right = {3, 4}

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "─" * len(line(header))
    lines = [line(header), rule] + [line(row) for row in body] + [rule]
    lines.append(f"Keras: {result.keras_params:,} params ({result.keras_trainable:,} trainable, "
                 f"{result.keras_non_trainable:,} non-trainable)")
    lines.append(result.headline())
    lines += result.notes
    return lines
