"""File or ``ModelProto`` -> a validated model, without reading external weight payloads.

Only structure is needed to inspect a model: weight sizes come from their dims, so
external data files are never opened (a missing one is a warning, not an error).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List, Optional, Union

import onnx
from google.protobuf.message import DecodeError

from .errors import ModelLoadError

Source = Union[str, os.PathLike, bytes, onnx.ModelProto]


@dataclass
class LoadedModel:
    model: onnx.ModelProto
    path: Optional[str]
    warnings: List[str] = field(default_factory=list)


def load_model(source: Source) -> LoadedModel:
    """Load a model from a path, raw bytes or an in-memory ``ModelProto``."""
    if isinstance(source, onnx.ModelProto):
        loaded = LoadedModel(source, None)
    elif isinstance(source, (bytes, bytearray)):
        loaded = LoadedModel(_parse(bytes(source), "<bytes>"), None)
    else:
        path = os.fspath(source)
        loaded = LoadedModel(_parse(_read(path), path), path)
    _validate(loaded)
    loaded.warnings.extend(_missing_external_data(loaded))
    return loaded


def _read(path: str) -> bytes:
    if not os.path.exists(path):
        raise ModelLoadError("no such file", path)
    if os.path.isdir(path):
        raise ModelLoadError("is a directory, not an ONNX file", path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ModelLoadError(f"cannot read: {exc.strerror or exc}", path) from None
    if not data:
        raise ModelLoadError("file is empty", path)
    return data


def _parse(data: bytes, path: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelLoadError(f"not a valid ONNX protobuf ({_short(exc)})", path) from None
    return model


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _validate(loaded: LoadedModel) -> None:
    model, path = loaded.model, loaded.path
    if not model.HasField("graph"):
        raise ModelLoadError("not an ONNX model (no graph)", path)
    if model.ir_version <= 0:
        raise ModelLoadError("not an ONNX model (no ir_version)", path)
    if model.ir_version >= 3 and not model.opset_import:
        raise ModelLoadError("model has no opset_import", path)


def _missing_external_data(loaded: LoadedModel) -> List[str]:
    base = os.path.dirname(os.path.abspath(loaded.path)) if loaded.path else os.getcwd()
    missing = {}
    for tensor in loaded.model.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), None)
        if location and not os.path.exists(os.path.join(base, location)):
            missing.setdefault(location, []).append(tensor.name)
    return [
        f"{loaded.path or '<model>'}: external data file {loc!r} not found "
        f"({len(names)} tensor(s)); sizes taken from dims"
        for loc, names in missing.items()
    ]
