"""ONNX element types as lower-case names ("float32", "int64") and their sizes in bytes."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .proto import TensorProto

_NAMES: dict[int, str] = {
    TensorProto.FLOAT: "float32",
    TensorProto.UINT8: "uint8",
    TensorProto.INT8: "int8",
    TensorProto.UINT16: "uint16",
    TensorProto.INT16: "int16",
    TensorProto.INT32: "int32",
    TensorProto.INT64: "int64",
    TensorProto.STRING: "string",
    TensorProto.BOOL: "bool",
    TensorProto.FLOAT16: "float16",
    TensorProto.DOUBLE: "float64",
    TensorProto.UINT32: "uint32",
    TensorProto.UINT64: "uint64",
    TensorProto.COMPLEX64: "complex64",
    TensorProto.COMPLEX128: "complex128",
    TensorProto.BFLOAT16: "bfloat16",
}
for _attr, _name in (
    ("FLOAT8E4M3FN", "float8e4m3fn"),
    ("FLOAT8E4M3FNUZ", "float8e4m3fnuz"),
    ("FLOAT8E5M2", "float8e5m2"),
    ("FLOAT8E5M2FNUZ", "float8e5m2fnuz"),
    ("UINT4", "uint4"),
    ("INT4", "int4"),
    ("FLOAT4E2M1", "float4e2m1"),
):
    if hasattr(TensorProto, _attr):
        _NAMES[getattr(TensorProto, _attr)] = _name

_CODES = {name: code for code, name in _NAMES.items()}

# Bits per element; sub-byte types pack, so bytes are computed from bits.
_BITS: dict[Optional[str], int] = {   # looked up with None (no dtype) too: 0 bits
    "float32": 32, "uint8": 8, "int8": 8, "uint16": 16, "int16": 16, "int32": 32,
    "int64": 64, "bool": 8, "float16": 16, "float64": 64, "uint32": 32, "uint64": 64,
    "complex64": 64, "complex128": 128, "bfloat16": 16, "float8e4m3fn": 8,
    "float8e4m3fnuz": 8, "float8e5m2": 8, "float8e5m2fnuz": 8, "uint4": 4, "int4": 4,
    "float4e2m1": 4,
}

INTEGER_TYPES = frozenset({"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "bool"})
FLOAT_TYPES = frozenset({"float32", "float16", "float64", "bfloat16"})


def dtype_name(code: int) -> Optional[str]:
    """Name for an ONNX element type code; ``None`` for 0 (undefined)."""
    if not code:
        return None
    return _NAMES.get(code, f"type{code}")


# The numpy dtype an element type is stored as, for the types numpy has natively
# (bfloat16, float8, int4 ... need ml_dtypes: their values are never folded).
_NUMPY = {
    "float32": np.float32, "uint8": np.uint8, "int8": np.int8, "uint16": np.uint16,
    "int16": np.int16, "int32": np.int32, "int64": np.int64, "bool": np.bool_,
    "float16": np.float16, "float64": np.float64, "uint32": np.uint32, "uint64": np.uint64,
    "complex64": np.complex64, "complex128": np.complex128, "string": np.object_,
}


def numpy_dtype(name: Optional[str]) -> Optional[np.dtype]:
    """The numpy dtype of an element type name, or None when numpy has none."""
    kind = _NUMPY.get(name) if name else None
    return None if kind is None else np.dtype(kind)


def dtype_code(name: str) -> int:
    return _CODES[name]


def element_bits(name: Optional[str]) -> int:
    return _BITS.get(name, 0)


def nbytes(name: Optional[str], count: int) -> int:
    """Storage bytes of ``count`` elements, rounding packed sub-byte types up."""
    return (element_bits(name) * count + 7) // 8
