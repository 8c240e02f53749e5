"""onnxinspect: a framework-agnostic ONNX graph inspector.

>>> from onnxinspect import inspect_model
>>> report = inspect_model("fixtures/unet.onnx")
>>> report.totals.params
7759521
"""

from .api import inspect_model
from .errors import GraphError, InspectError, ModelLoadError, UsageError
from .ops.registry import OpRule, lookup, register, registered_ops
from .report import ModelInfo, NodeReport, Report, Totals
from .tensors import TensorInfo
from .walker import Walker

__version__ = "0.1.0"

__all__ = [
    "GraphError", "InspectError", "ModelInfo", "ModelLoadError", "NodeReport", "OpRule", "Report",
    "TensorInfo", "Totals", "UsageError", "Walker", "inspect_model", "lookup", "register",
    "registered_ops", "__version__",
]
