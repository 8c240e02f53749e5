"""Keras -> ONNX through tf2onnx 1.17, deterministic for a given seed.

Why the details matter:
- Keras 3 models need an explicit ``input_signature``; its ``None`` batch dim becomes the
  dynamic dim ``N`` (tf2onnx would call it ``unk__NNN``, a counter that changes per run).
- A Keras 3 ``Sequential`` fails inside tf2onnx (``KeyError: 'keras_tensor_N'``), so it is
  rebuilt as a functional model first (same layers, same weights).
- Default initialisation leaves biases at exactly zero and tf2onnx's optimiser then deletes
  them (the U-Net would show 7,756,096 parameters instead of 7,759,521), so every weight is
  randomised from a fixed seed: kernels, biases, BatchNormalization statistics (variances
  positive).
- tf2onnx numbers the nodes it inserts (``X__172``) from a process-wide counter whose value
  depends on what ran before; the numbers are rewritten in order of first appearance, so the
  same seed gives byte-identical ONNX in any process, first export or tenth.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Callable, Dict, Optional

import numpy as np

from onnxinspect.errors import InspectError, first_line

from ..quiet import import_tensorflow
from ..verify import captured_fd2

DEFAULT_OPSET = 17
BATCH_DIM = "N"


class ExportError(InspectError):
    """The model cannot be loaded or converted; the message is one line for the CLI."""


@dataclass
class Exported:
    keras_model: object
    onnx_model: object          # onnx.ModelProto
    source: str                 # "unet" or the user's path
    seed: Optional[int]
    opset: int


def load_keras(source: str, seed: Optional[int] = None):
    """``"unet"`` -> the seed article's U-Net (seeded, ``seed`` defaults to 0); otherwise a
    ``.keras`` / ``.h5`` file or a SavedModel directory, weights kept unless ``seed`` is given."""
    if source != "unet" and not os.path.exists(source):  # before the slow TensorFlow import
        raise ExportError(f"{source}: no such file or directory (expected 'unet', a .keras/.h5 file "
                          "or a SavedModel directory)")
    tf = import_tensorflow()
    import keras

    if source == "unet":
        from .unet import build_unet

        keras.backend.clear_session()  # default layer names (conv2d, conv2d_1, ...) every time
        model = build_unet()
        randomize_weights(model, 0 if seed is None else seed)
        return model
    try:
        with captured_fd2():
            if os.path.isdir(source):
                model = _wrap_savedmodel(tf, keras, source)
            else:
                model = keras.models.load_model(source, compile=False)
    except Exception as error:  # Keras raises many types; the CLI shows one line
        raise ExportError(f"{source}: cannot load as a Keras model: {first_line(error, 300)}") from None
    if seed is not None:
        randomize_weights(model, seed)
    return model


def _wrap_savedmodel(tf, keras, path: str):
    """Keras 3 cannot load a SavedModel directly: wrap its serving signature in a TFSMLayer
    inside a functional model whose inputs come from the signature."""
    signature = tf.saved_model.load(path).signatures["serving_default"]
    specs = signature.structured_input_signature[1]
    inputs = {name: keras.Input(batch_shape=tuple(spec.shape), dtype=spec.dtype.name, name=name)
              for name, spec in specs.items()}
    layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
    outputs = layer(inputs if len(inputs) > 1 else next(iter(inputs.values())))
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    return keras.Model(list(inputs.values()), outputs, name=os.path.basename(os.path.normpath(path)))


def randomize_weights(model, seed: int) -> None:
    """Overwrite every weight with seeded random values that keep activations in range.

    Kernels ~ N(0, 2/fan_in) (He), biases and BN betas/means ~ N(0, 0.05^2), BN gammas and
    variances ~ U(0.5, 1.5) (variances must stay positive).  Nothing is left at zero.
    """
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape = tuple(weight.shape)
        name = weight.name.rsplit("/", 1)[-1]
        if name in ("gamma", "moving_variance") or name.endswith("variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) >= 2:
            fan_in = int(np.prod(shape[:-1])) or 1
            value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        else:
            value = rng.standard_normal(shape) * 0.05
        weight.assign(value.astype(weight.dtype))


def functional(model):
    """A functional model with the same layers and weights (tf2onnx cannot take a Keras 3
    ``Sequential``: it fails with ``KeyError: 'keras_tensor_N'``)."""
    import keras

    if not isinstance(model, keras.Sequential):
        return model
    inputs = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype,
                         name=model.layers[0].name + "_input" if model.layers else "input")
    x = inputs
    for layer in model.layers:
        x = layer(x)
    return keras.Model(inputs, x, name=model.name)


def input_signature(model):
    """One ``tf.TensorSpec`` per Keras input, batch dim dynamic, named after the input layer."""
    tf = import_tensorflow()
    specs = []
    for index, tensor in enumerate(model.inputs):
        shape = (None,) + tuple(tensor.shape[1:])
        specs.append(tf.TensorSpec(shape, tensor.dtype, name=_input_name(tensor, index)))
    return specs


def _input_name(tensor, index: int) -> str:
    """The InputLayer's name (``input_1``), the names users see in ``model.summary()``."""
    history = getattr(tensor, "_keras_history", None)
    operation = getattr(history, "operation", None)
    return operation.name if operation is not None else f"input_{index}"


def to_onnx(model, opset: int = DEFAULT_OPSET):
    """Convert a Keras model to an ``onnx.ModelProto`` (dynamic batch dim ``N``)."""
    import_tensorflow()
    import tf2onnx
    import tf2onnx.utils

    model = functional(model)
    try:
        with captured_fd2():
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=input_signature(model),
                                                  opset=opset)
    except Exception as error:
        raise ExportError(f"tf2onnx could not convert {model.name!r} at opset {opset}: "
                          f"{first_line(error, 300)}") from None
    _name_batch_dim(proto)
    _renumber_inserted_names(proto)
    return proto


_INSERTED = re.compile(r"^(.*?__)(\d+)(:\d+)?$")


def _renumber_inserted_names(proto) -> None:
    """Rewrite tf2onnx's ``name__<counter>`` suffixes as 1, 2, 3, ... in order of appearance,
    and sort the initializers by name."""
    numbers: Dict[str, str] = {}

    def rename(name: str) -> str:
        match = _INSERTED.match(name)
        if not match:
            return name
        key = match.group(1) + match.group(2)
        if key not in numbers:
            numbers[key] = f"{match.group(1)}{len(numbers) + 1}"
        return numbers[key] + (match.group(3) or "")

    graph = proto.graph
    for node in graph.node:
        node.name = rename(node.name)
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    for item in list(graph.initializer) + list(graph.input) + list(graph.output) + list(graph.value_info):
        item.name = rename(item.name)
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        for dim in vi.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_param = rename(dim.dim_param)
    # tf2onnx emits some initializers in a set's order, which varies between processes
    ordered = sorted(graph.initializer, key=lambda t: t.name)
    ordered = [type(t).FromString(t.SerializeToString()) for t in ordered]
    del graph.initializer[:]
    graph.initializer.extend(ordered)


def _name_batch_dim(proto) -> None:
    """tf2onnx calls the dynamic batch dim ``unk__NNN`` (a different one on each output);
    Keras's leading dim is the batch on every input and output, so call it ``N`` everywhere."""
    renamed = set()
    for vi in list(proto.graph.input) + list(proto.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if dims and dims[0].dim_param:
            renamed.add(dims[0].dim_param)
    for vi in list(proto.graph.input) + list(proto.graph.output) + list(proto.graph.value_info):
        for dim in vi.type.tensor_type.shape.dim:
            if dim.dim_param in renamed:
                dim.dim_param = BATCH_DIM


def export(source: str = "unet", output: Optional[str] = None, opset: int = DEFAULT_OPSET,
           seed: Optional[int] = None, on_step: Callable[[str], None] = lambda text: None) -> Exported:
    """Load or build the Keras model, convert it, and save it to ``output`` if given.
    ``on_step`` is told when each slow step starts (the CLI's spinner)."""
    if output:
        directory = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(directory):
            raise ExportError(f"{output}: directory {directory} does not exist")
    on_step("Importing TensorFlow")
    import_tensorflow()
    on_step("Building the U-Net" if source == "unet" else f"Loading {source}")
    model = load_keras(source, seed)
    on_step(f"Converting to ONNX (tf2onnx, opset {opset})")
    proto = to_onnx(model, opset)
    if output:
        with open(output, "wb") as handle:
            handle.write(proto.SerializeToString())
    used_seed = (0 if seed is None else seed) if source == "unet" else seed
    return Exported(model, proto, source, used_seed, opset)

