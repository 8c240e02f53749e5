"""export -> inspect -> verify -> reconcile, as one call returning one result.

The Keras side of verification lives here (``keras_specs`` / ``keras_reference``) so that
:mod:`onnxinspect.exporters.verify` never needs TensorFlow.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from .keras.export import DEFAULT_OPSET, _input_name, export
from .layers import DEFAULT_CHUNK_BYTES, verify_layers
from .reconcile import Reconciliation, reconcile
from .verify import InputSpec, VerifyResult, verify


def keras_specs(model) -> List[InputSpec]:
    """The Keras model's inputs as (name, dtype, shape) with the batch dim left free."""
    specs = []
    for index, tensor in enumerate(model.inputs):
        shape = [None] + [None if d is None else int(d) for d in tensor.shape[1:]]
        specs.append(InputSpec(_input_name(tensor, index), np.dtype(tensor.dtype).name, shape))
    return specs


def keras_reference(model) -> Callable[[Dict[str, np.ndarray]], List[np.ndarray]]:
    """Run the Keras model at inference (``training=False``: Dropout off, BN moving stats)."""
    specs = keras_specs(model)

    def run(feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
        args = [feeds[s.name] for s in specs]
        with warnings.catch_warnings():  # Keras warns when a list-built model gets one tensor
            warnings.filterwarnings("ignore", message="The structure of `inputs`")
            outputs = model(args if len(args) > 1 else args[0], training=False)
        if isinstance(outputs, dict):
            outputs = list(outputs.values())
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return [np.asarray(o) for o in outputs]

    return run


def verify_keras(onnx_path: str, keras_model, batches: Sequence[int] = (1, 4), device: str = "auto",
                 atol: Optional[Mapping[str, float]] = None, rtol: Optional[Mapping[str, float]] = None,
                 on_step=lambda text: None, layers: Optional[Reconciliation] = None,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES, min_cosine: Optional[float] = None,
                 min_snr: Optional[float] = None) -> VerifyResult:
    """Outputs at each batch; with ``layers`` (the reconciliation of ``keras_model`` with
    the file) also every layer at the first batch (:mod:`.layers`)."""
    specs = keras_specs(keras_model)
    result = verify(onnx_path, specs, keras_reference(keras_model), batches, device,
                    atol=atol, rtol=rtol, on_step=on_step, min_cosine=min_cosine, min_snr=min_snr)
    if layers is not None:
        result.layers = verify_layers(onnx_path, keras_model, specs, layers, batches[0], 0, device,
                                      chunk_bytes, atol, rtol, on_step)
    return result


def verify_torch(onnx_path: str, module, example, batches: Sequence[int] = (1, 4), device: str = "auto",
                 atol: Optional[Mapping[str, float]] = None, rtol: Optional[Mapping[str, float]] = None,
                 on_step=lambda text: None, min_cosine: Optional[float] = None,
                 min_snr: Optional[float] = None) -> VerifyResult:
    """Outputs at each batch against the torch module (eval mode, no gradients)."""
    from .torch.export import torch_reference, torch_specs

    return verify(onnx_path, torch_specs(module, example), torch_reference(module, example), batches, device,
                  atol=atol, rtol=rtol, on_step=on_step, min_cosine=min_cosine, min_snr=min_snr, side="PyTorch")


def reconcile_file(onnx_path: str, keras_model) -> Reconciliation:
    """The reconciliation of ``keras_model`` with the ONNX file (inspected here)."""
    from onnxinspect import inspect_model

    return reconcile(keras_model, inspect_model(onnx_path))


@dataclass
class PipelineResult:
    exported: object               # keras.export.Exported or torch.export.TorchExported
    path: str
    report: object                 # onnxinspect Report
    verification: VerifyResult
    reconciliation: Reconciliation

    @property
    def passed(self) -> bool:
        return self.verification.passed and self.reconciliation.consistent


def export_and_verify(source: str, output: str, opset: int = DEFAULT_OPSET, seed: Optional[int] = None,
                      batches: Sequence[int] = (1, 4), device: str = "auto",
                      atol: Optional[Mapping[str, float]] = None, rtol: Optional[Mapping[str, float]] = None,
                      on_step=lambda text: None, layers: bool = False,
                      chunk_bytes: int = DEFAULT_CHUNK_BYTES, min_cosine: Optional[float] = None,
                      min_snr: Optional[float] = None, framework: str = "keras") -> PipelineResult:
    from onnxinspect import inspect_model

    if framework == "torch":
        from .reconcile import reconcile_torch
        from .torch.export import export as export_torch

        made = export_torch(source, output, opset, seed, on_step)
        on_step("Inspecting the ONNX graph")
        report = inspect_model(output)
        reconciliation = reconcile_torch(made.module, report)
        verification = verify_torch(output, made.module, made.example, batches, device, atol, rtol, on_step,
                                    min_cosine, min_snr)
        return PipelineResult(made, output, report, verification, reconciliation)
    exported = export(source, output, opset, seed, on_step)
    on_step("Inspecting the ONNX graph")
    report = inspect_model(output)
    model = exported.keras_model
    on_step("Reconciling layers")
    reconciliation = reconcile(model, report)
    verification = verify_keras(output, model, batches, device, atol, rtol, on_step,
                                reconciliation if layers else None, chunk_bytes, min_cosine, min_snr)
    return PipelineResult(exported, output, report, verification, reconciliation)
