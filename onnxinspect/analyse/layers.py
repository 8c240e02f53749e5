"""Group nodes back into the source framework's layers, from their name scopes.

Exporters keep the layer a node came from in its name:

- tf2onnx (Keras): ``<model>/<layer>/<op...>``.  Keras 3 calls each layer (and the model)
  inside a TF name scope that TensorFlow made unique by appending one ``_<k>`` to the
  layer's own name (``conv2d`` -> ``conv2d_1``, ``conv2d_1`` -> ``conv2d_1_2``,
  ``conv2d_3`` -> ``conv2d_3_1``): the model scope then ends in ``_<k>`` too
  (``functional_1``, ``unet_1``), and exactly one ``_<k>`` is stripped from the layer
  scope.  tf.keras 2 scopes are the plain names (``model/conv2d_3/BiasAdd``) and are
  kept as they are.  (A tf.keras 2 model whose own name ends in ``_<k>`` is
  indistinguishable from Keras 3 by name alone and is read as Keras 3.)
- PyTorch: ``/<module>/<submodule>/<Op>``, where children of containers carry their
  qualified name (``/layer1/layer1.0/downsample/downsample.0/Conv``): the module path
  is rebuilt as ``layer1.0.downsample.0``.
- PyTorch's dynamo exporter (``torch.onnx.export(dynamo=True)``): nodes are named
  ``node_Conv_12``; the module path is the node's ``pkg.torch.onnx.name_scopes``
  metadata, ``['', 'layer1', 'layer1.0', 'layer1.0.bn1', '<fx node>']`` (root module
  first, the fx node last): the deepest module, ``layer1.0.bn1``, is the layer.  (Its
  rewriter fuses BatchNorm into the Conv before it and keeps the BatchNorm's path.)

A node with no recognisable scope gets its own row in the layer view, and so does a
layout conversion tf2onnx inserts at the graph's edges (a ``Transpose``/``Reshape``
named ``<layer>/...__<k>`` that turns channels-last into channels-first): it carries a
nearby layer's name but belongs to no layer (the export reconciliation agrees).
"""

from __future__ import annotations

import ast
import re
from typing import Dict, List, Optional, Set

from ..dims import add
from ..report import LayerRow, NodeReport, Report, iter_nodes
from .cost import share

LAYOUT_OPS = ("Transpose", "Reshape")
_INSERTED = re.compile(r"__\d+$")     # tf2onnx's suffix for the nodes it adds
_UNIQUE_SUFFIX = re.compile(r"^(.+)_\d+$")
# Wrappers tf2onnx keeps from a SavedModel's call graph; never a layer.
_TF_WRAPPERS = {"StatefulPartitionedCall", "PartitionedCall"}


def layer_name(node_name: str) -> Optional[str]:
    """The framework layer ``node_name`` belongs to, or None when the name has no layer scope."""
    if not node_name:
        return None
    if node_name.startswith("/"):
        return _torch_layer(node_name[1:].split("/"))
    return _tf_layer(node_name.split("/"))


def _torch_layer(parts: List[str]) -> Optional[str]:
    scopes = [p for p in parts[:-1] if p]  # the last part is the op (Conv, Add_1, ...)
    path: List[str] = []
    for scope in scopes:
        if path and scope.startswith(path[-1] + "."):
            path[-1] = scope  # a container's child: "layer1" then "layer1.0"
        else:
            path.append(scope)
    return ".".join(path) or None


def scopes_layer(name_scopes: str) -> Optional[str]:
    """The deepest module in a dynamo export's ``name_scopes`` metadata, or None for an op
    of the root module (``['', 'relu']``) or of no module at all."""
    try:
        scopes = ast.literal_eval(name_scopes)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(scopes, list) or len(scopes) < 3 or scopes[0] != "":
        return None
    module = scopes[-2]
    return module if isinstance(module, str) and module else None


def _tf_layer(parts: List[str]) -> Optional[str]:
    while parts and parts[0] in _TF_WRAPPERS:
        parts = parts[1:]
    if len(parts) < 3 or not parts[0] or not parts[1]:
        return None  # need <model>/<layer>/<op>
    model, layer = parts[0], parts[1]
    if _UNIQUE_SUFFIX.match(model):  # Keras 3: both scopes carry TF's uniquifying suffix
        match = _UNIQUE_SUFFIX.match(layer)
        if match:
            layer = match.group(1)
    return layer


def node_layer(node: NodeReport) -> Optional[str]:
    """The node's layer from its name, else from its outputs' or its weights' names
    (tf2onnx renames some fused nodes, ``Conv__206``, but keeps the layer's weight names)."""
    layer = layer_name(node.name)
    if layer is None and node.name_scopes:
        layer = scopes_layer(node.name_scopes)
    if layer is not None:
        return layer
    for name in [t.name for t in node.outputs if t.name] + list(node.param_inputs):
        layer = layer_name(name)
        if layer is not None:
            return layer
    return None


def is_layout_conversion(node: NodeReport, inputs: Set[str], outputs: Set[str]) -> bool:
    """A Transpose/Reshape tf2onnx inserted that reads a graph input or writes a graph output."""
    return (node.op_type in LAYOUT_OPS and bool(_INSERTED.search(node.name or ""))
            and (any(t is not None and t.name in inputs for t in node.inputs)
                 or any(t.name in outputs for t in node.outputs)))


def group_layers(report: Report) -> List[LayerRow]:
    """Rows of the ``--by layer`` view, in order of first appearance.

    Nodes of one layer are grouped even when other nodes come between them.  Rows sum
    to the totals the way the totals are summed: params include subgraph bodies'
    weights, while a control-flow node's FLOPs already cover its body.  One unknown
    FLOP count makes the row's FLOPs unknown.
    """
    rows: Dict[str, LayerRow] = {}
    inputs = {t.name for t in report.inputs}
    outputs = {t.name for t in report.outputs}
    for node in report.nodes:
        converter = is_layout_conversion(node, inputs, outputs)
        layer = None if converter else node_layer(node)
        key = layer if layer is not None else f"\0{node.index}"  # unscoped: a row of its own
        row = rows.get(key)
        if row is None:
            row = rows[key] = LayerRow(layer if layer is not None else (node.name or node.op_type),
                                       converter=converter)
        row.nodes.append(node)
        if node.op_type not in row.op_types:
            row.op_types.append(node.op_type)
        if node.outputs:
            row.output = node.outputs[0]
        row.params += sum(inner.params for inner in iter_nodes([node]))
        row.flops = add(row.flops, node.flops)  # a control-flow node's cost covers its body
    for row in rows.values():
        row.flops_share = share(row.flops, report.totals.flops)
    return list(rows.values())
