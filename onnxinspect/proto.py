"""ONNX's protobuf messages without importing the ``onnx`` package.

``import onnx`` costs about half a second today (it pulls ``ml_dtypes`` and the
reference helpers), while inspecting needs only the generated ``onnx_ml_pb2`` module.
That module is loaded from the installed onnx distribution under its own name,
``onnx.onnx_ml_pb2``, so a later ``import onnx`` (by the user, by ``--check``) reuses
it and both see the same message classes: an ``onnx.ModelProto`` handed to
:func:`onnxinspect.inspect_model` is one of ours.  If onnx is already imported, its
module is used as is.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, Optional, Sequence

PB2 = "onnx.onnx_ml_pb2"


class _BindOnImport(importlib.abc.MetaPathFinder):
    """When ``onnx`` is imported after we loaded its pb2 module, set ``onnx.onnx_ml_pb2``
    too (Python binds a submodule to its package only when it loads the submodule)."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        if fullname != "onnx":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("onnx")
        loader = spec.loader if spec is not None else None
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            module.onnx_ml_pb2 = sys.modules[PB2]  # type: ignore[attr-defined]

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _load() -> Any:
    module = sys.modules.get(PB2)
    if module is not None:
        return module
    spec = importlib.util.find_spec("onnx")   # locates the package without running it
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        raise ImportError("onnxinspect needs the onnx package (pip install onnx)")
    pb2_spec = importlib.util.spec_from_file_location(PB2, os.path.join(list(locations)[0], "onnx_ml_pb2.py"))
    if pb2_spec is None or pb2_spec.loader is None:
        raise ImportError("the installed onnx package has no onnx_ml_pb2 module")
    module = importlib.util.module_from_spec(pb2_spec)
    sys.modules[PB2] = module
    try:
        pb2_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[PB2]
        raise
    sys.meta_path.insert(0, _BindOnImport())
    return module


onnx_pb: Any = _load()

ModelProto: Any = onnx_pb.ModelProto
GraphProto: Any = onnx_pb.GraphProto
NodeProto: Any = onnx_pb.NodeProto
TensorProto: Any = onnx_pb.TensorProto
AttributeProto: Any = onnx_pb.AttributeProto
ValueInfoProto: Any = onnx_pb.ValueInfoProto
TypeProto: Any = onnx_pb.TypeProto
FunctionProto: Any = onnx_pb.FunctionProto
StringStringEntryProto: Any = onnx_pb.StringStringEntryProto
