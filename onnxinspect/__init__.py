"""onnxinspect: a framework-agnostic ONNX graph inspector.

>>> from onnxinspect import inspect_model
>>> report = inspect_model("fixtures/unet.onnx")
>>> report.totals.params
7759521

The public names are imported on first use, so ``onnxinspect --help`` and
``import onnxinspect`` cost nothing until a model is inspected.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .api import inspect_model
    from .errors import GraphError, InspectError, ModelLoadError, UsageError
    from .ops.registry import OpRule, lookup, register, registered_ops
    from .report import LayerRow, Memory, ModelInfo, NodeReport, Report, Totals
    from .tensors import TensorInfo
    from .walk import Walker

# public name -> the module that defines it
_EXPORTS = {
    "inspect_model": "api",
    "GraphError": "errors", "InspectError": "errors", "ModelLoadError": "errors", "UsageError": "errors",
    "OpRule": "ops.registry", "lookup": "ops.registry", "register": "ops.registry",
    "registered_ops": "ops.registry",
    "LayerRow": "report", "Memory": "report", "ModelInfo": "report", "NodeReport": "report",
    "Report": "report", "Totals": "report",
    "TensorInfo": "tensors",
    "Walker": "walk",
}

__all__ = [
    "GraphError", "InspectError", "LayerRow", "Memory", "ModelInfo", "ModelLoadError", "NodeReport", "OpRule",
    "Report", "TensorInfo", "Totals", "UsageError", "Walker", "__version__", "inspect_model", "lookup",
    "register", "registered_ops",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'onnxinspect' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
