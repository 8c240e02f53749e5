"""File or ``ModelProto`` -> a validated model, without reading weight payloads.

Only structure is needed to inspect a model: weight sizes come from their dims, so
external data files are never opened (a missing one is a warning, not an error) and
embedded payloads above the fold limit are dropped before parsing (see
:mod:`onnxinspect.load.payload`): the file is memory-mapped and only its structure is read.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

from google.protobuf.message import DecodeError

from ..errors import ModelLoadError, first_line
from ..proto import ModelProto, TensorProto
from .payload import Elision, strip_payloads

# A path, the file's bytes, or an onnx.ModelProto (the same class as proto.ModelProto).
Source = Union[str, "os.PathLike[str]", bytes, Any]
# A model's serialized bytes in memory or memory-mapped.
Serialized = Union[bytes, bytearray, memoryview, mmap.mmap]


@dataclass
class LoadedModel:
    model: Any                      # a ModelProto
    path: Optional[str]
    warnings: List[str] = field(default_factory=list)
    elided: Elision = field(default_factory=Elision)   # payloads dropped before parsing


def load_model(source: Source) -> LoadedModel:
    """Load a model from a path, raw bytes or an in-memory ``ModelProto``."""
    if isinstance(source, ModelProto):
        loaded = LoadedModel(source, None)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        loaded = _parse(source, None)
    else:
        path = os.fspath(source)
        _check_file(path)
        try:
            with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                loaded = _parse(data, path)
        except OSError as exc:
            raise ModelLoadError(f"cannot read: {exc.strerror or exc}", path) from None
    _validate(loaded)
    loaded.warnings.extend(_missing_external_data(loaded))
    return loaded


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise ModelLoadError("no such file", path)
    if os.path.isdir(path):
        raise ModelLoadError("is a directory, not an ONNX file", path)
    if not os.path.isfile(path):
        raise ModelLoadError("not a regular file", path)
    if os.path.getsize(path) == 0:
        raise ModelLoadError("file is empty", path)


def _parse(data: Serialized, path: Optional[str]) -> LoadedModel:
    """Parse ``data`` (bytes or a read-only mmap) with large payloads stripped first."""
    if len(data) == 0:
        raise ModelLoadError("model bytes are empty", path or "<bytes>")
    stripped, elided = strip_payloads(data)
    model = ModelProto()
    try:
        model.ParseFromString(stripped)
    except (DecodeError, RuntimeError, ValueError) as exc:
        if "MaxDepth" in str(exc) or "recursion" in str(exc).lower():
            reason = "messages nested deeper than protobuf allows (subgraphs nested over ~30 levels?)"
        else:
            reason = _foreign(data) or f"not a valid ONNX protobuf ({first_line(exc)})"
        raise ModelLoadError(reason, path or "<bytes>") from None
    if not model.HasField("graph"):
        raise ModelLoadError(_foreign(data) or "not an ONNX model (a protobuf without a graph)",
                             path or "<bytes>")
    return LoadedModel(model, path, elided=elided)


# Leading bytes of formats people mistake for ONNX files.
_MAGIC = (
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a zip archive (PyTorch .pt, Keras .keras, .npz?)"),
    (b"\x89HDF", "an HDF5 file (Keras .h5?)"), (b"\x1f\x8b", "a gzip file"),
    (b"\x7fELF", "an executable"), (b"%PDF", "a PDF document"),
    (b"\x80\x02", "a Python pickle"), (b"\x80\x04", "a Python pickle"),
    (b"{", "JSON or text"), (b"<", "XML or HTML"),
)


def _foreign(data: Serialized) -> Optional[str]:
    """'looks like ...' when the bytes start like a known non-ONNX format."""
    head = bytes(data[:8])
    if head[4:8] == b"TFL3":
        return "not an ONNX model: looks like a TensorFlow Lite flatbuffer"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"not an ONNX model: looks like {what}"
    return None


def _validate(loaded: LoadedModel) -> None:
    model, path = loaded.model, loaded.path
    texts = [model.producer_name, model.producer_version, model.domain, model.graph.name]
    texts += [op.domain for op in model.opset_import]
    if any(type(text) is not str for text in texts):
        raise ModelLoadError("not valid UTF-8 in the producer, domain or graph name", path)
    if not model.HasField("graph"):
        raise ModelLoadError("not an ONNX model (no graph)", path)
    if model.ir_version <= 0:
        raise ModelLoadError("not an ONNX model (no ir_version)", path)
    if model.ir_version >= 3 and not model.opset_import:
        raise ModelLoadError("model has no opset_import", path)


def _missing_external_data(loaded: LoadedModel) -> List[str]:
    base = os.path.dirname(os.path.abspath(loaded.path)) if loaded.path else os.getcwd()
    missing: Dict[str, List[str]] = {}
    for tensor in loaded.model.graph.initializer:
        if tensor.data_location != TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), None)
        if location and not os.path.exists(os.path.join(base, location)):
            missing.setdefault(location, []).append(tensor.name)
    return [
        f"{loaded.path or '<model>'}: external data file {loc!r} not found "
        f"({len(names)} tensor(s)); sizes taken from dims"
        for loc, names in missing.items()
    ]
