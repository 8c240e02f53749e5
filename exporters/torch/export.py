"""PyTorch -> ONNX through ``torch.onnx.export(dynamo=True)``, and torch as verify's reference.

Why dynamo: with torch 2.13 and onnxscript it exports the U-Net as is (50 nodes, dynamic batch
``N`` from ``dynamic_shapes``, opset 18) and records each node's module path in its ``name_scopes``
metadata, which :func:`onnxinspect.analyse.layers.node_layer` reads, so the reconciliation maps
``conv2d_5`` to its Conv node without name parsing.  The legacy TorchScript exporter is
deprecated in torch 2.9+ and is not used.

A source is ``unet`` (:func:`.unet.unet_factory`) or ``package.module:factory``, a callable
returning ``(module, example_inputs)``; the example inputs' leading dim is the batch.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from onnxinspect.errors import first_line

from ..keras.export import ExportError
from ..verify import InputSpec, captured_fd2

DEFAULT_OPSET = 18   # the dynamo exporter's own: a lower one goes through onnx's version
                     # converter, which drops the name-scope metadata the reconciliation reads


@dataclass
class TorchExported:
    module: Any
    example: Tuple[Any, ...]
    onnx_model: Any            # onnx.ModelProto
    source: str
    seed: Optional[int]
    opset: int


def load_torch(source: str, seed: Optional[int] = None) -> Tuple[Any, Tuple[Any, ...]]:
    """``unet`` -> the seeded U-Net (seed 0 by default); ``package.module:factory`` -> what
    the factory returns, checked: an ``nn.Module`` (put in eval mode) and a tuple of tensors."""
    import torch

    if source == "unet":
        from .unet import unet_factory

        return unet_factory(0 if seed is None else seed)
    module_name, sep, attribute = source.partition(":")
    if not sep or not module_name or not attribute:
        raise ExportError(f"--torch {source!r}: expected 'unet' or package.module:factory")
    sys.path.insert(0, os.getcwd())    # a module next to the user, as `python -m` finds it
    try:
        imported = importlib.import_module(module_name)
    except Exception as error:
        raise ExportError(f"--torch {source!r}: cannot import {module_name}: "
                          f"{type(error).__name__}: {first_line(error, 300)}") from None
    finally:
        sys.path.remove(os.getcwd())
    factory = getattr(imported, attribute, None)
    if not callable(factory):
        raise ExportError(f"--torch {source!r}: {module_name} has no callable {attribute!r}")
    try:
        made = factory()
    except Exception as error:
        raise ExportError(f"--torch {source!r}: the factory raised {type(error).__name__}: "
                          f"{first_line(error, 300)}") from None
    if not (isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], torch.nn.Module)):
        raise ExportError(f"--torch {source!r}: the factory must return (module, example_inputs), "
                          f"got {type(made).__name__}")
    module, example = made
    example = tuple(example) if isinstance(example, (tuple, list)) else (example,)
    if not example or not all(isinstance(t, torch.Tensor) and t.dim() >= 1 for t in example):
        raise ExportError(f"--torch {source!r}: example_inputs must be tensors with a batch dim")
    if seed is not None:
        from .unet import randomize_weights

        randomize_weights(module, seed)
    return module.eval(), example


def input_names(module: Any, example: Sequence[Any]) -> List[str]:
    """The forward's parameter names, as the dynamo exporter names the ONNX inputs."""
    try:
        names = [p for p in inspect.signature(module.forward).parameters]
    except (TypeError, ValueError):
        names = []
    return names[:len(example)] if len(names) >= len(example) else [f"input_{i}" for i in range(len(example))]


def to_onnx(module: Any, example: Tuple[Any, ...], opset: int = DEFAULT_OPSET) -> Any:
    """An ``onnx.ModelProto`` with the leading dim of every input dynamic (``N``)."""
    import torch

    batch = torch.export.Dim("N")
    shapes = tuple({0: batch} for _ in example)
    try:
        with captured_fd2(), _quiet():
            program = torch.onnx.export(module, example, dynamo=True, dynamic_shapes=shapes,
                                        opset_version=opset, verbose=False)
    except Exception as error:
        raise ExportError(f"torch.onnx could not export {type(module).__name__} at opset {opset}: "
                          f"{type(error).__name__}: {first_line(error, 300)}") from None
    return program.model_proto


class _quiet:
    """The dynamo exporter prints its progress ('[torch.onnx] ...') on stdout."""

    def __enter__(self) -> None:
        import contextlib
        import io
        import warnings

        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        self._stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def export(source: str = "unet", output: Optional[str] = None, opset: int = DEFAULT_OPSET,
           seed: Optional[int] = None, on_step: Callable[[str], None] = lambda text: None) -> TorchExported:
    """Load or build the module, export it, save it to ``output`` if given."""
    import onnx

    if output and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise ExportError(f"{output}: directory {os.path.dirname(os.path.abspath(output))} does not exist")
    on_step("Building the U-Net (PyTorch)" if source == "unet" else f"Loading {source}")
    module, example = load_torch(source, seed)
    on_step(f"Exporting to ONNX (torch.onnx dynamo, opset {opset})")
    proto = to_onnx(module, example, opset)
    if output:
        onnx.save(proto, output)
    used_seed = (0 if seed is None else seed) if source == "unet" else seed
    return TorchExported(module, example, proto, source, used_seed, opset)


def torch_specs(module: Any, example: Sequence[Any]) -> List[InputSpec]:
    """The module's inputs (batch dim free), named as the ONNX inputs."""
    return [InputSpec(name, str(t.dtype).replace("torch.", ""), [None] + [int(d) for d in t.shape[1:]])
            for name, t in zip(input_names(module, example), example, strict=True)]


def torch_reference(module: Any, example: Sequence[Any]) -> Callable[[Dict[str, np.ndarray]], List[np.ndarray]]:
    """Run the module in eval mode without gradients on the seeded feeds."""
    import torch

    names = input_names(module, example)

    def run(feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
        with torch.no_grad():
            outputs = module(*[torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in names])
        if isinstance(outputs, dict):
            outputs = list(outputs.values())
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return [o.detach().numpy() for o in outputs]

    return run
