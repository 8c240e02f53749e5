"""Values out of ONNX messages: tensors as numpy arrays, attributes as Python values.

onnx's own ``numpy_helper`` and ``helper`` would import the whole onnx package (and
``ml_dtypes``); inspecting only ever folds small tensors of numpy's native types, so
this reads the few fields involved directly.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .dtypes import dtype_name, numpy_dtype
from .proto import AttributeProto, TensorProto

# Typed payload field holding each element type when raw_data is empty.
_FIELD = {
    "float32": "float_data", "complex64": "float_data", "float64": "double_data",
    "complex128": "double_data", "int64": "int64_data", "uint32": "uint64_data",
    "uint64": "uint64_data", "string": "string_data",
}
_EXTERNAL = TensorProto.EXTERNAL


def tensor_array(tensor: Any) -> Optional[np.ndarray]:
    """The embedded values of a ``TensorProto``; None for external data, for element
    types numpy cannot hold natively, and for payloads that contradict the dims."""
    if tensor.data_location == _EXTERNAL:
        return None
    name = dtype_name(tensor.data_type)
    shape = tuple(int(d) for d in tensor.dims)
    if name == "bfloat16":
        return _bfloat16(tensor, shape)
    kind = numpy_dtype(name)
    if kind is None or name is None:
        return None
    try:
        if name == "string":
            return np.array(list(tensor.string_data), dtype=object).reshape(shape)
        if tensor.raw_data:
            return np.frombuffer(tensor.raw_data, dtype=kind.newbyteorder("<")).astype(kind).reshape(shape)
        field = _FIELD.get(name, "int32_data")
        data = np.asarray(getattr(tensor, field))
        if name == "float16":       # float16 bits are stored in int32_data
            values = data.astype(np.uint16).view(np.float16)
        elif name in ("complex64", "complex128"):
            values = data.astype(kind.type(0).real.dtype).view(kind)
        else:
            values = data.astype(kind)
        return values.reshape(shape)
    except ValueError:   # payload size and dims disagree: the shape is still known from dims
        return None


def _bfloat16(tensor: Any, shape: tuple[int, ...]) -> Optional[np.ndarray]:
    """bfloat16 values widened to float32 (a bfloat16 is a float32's upper 16 bits): enough
    to fold the sizes a Range or a Resize computes from them."""
    bits: np.ndarray
    try:
        if tensor.raw_data:
            bits = np.frombuffer(tensor.raw_data, dtype="<u2").astype(np.uint32)
        else:
            bits = np.asarray(tensor.int32_data).astype(np.uint32) & 0xFFFF
        return (bits << 16).view(np.float32).reshape(shape)
    except ValueError:
        return None


def attribute_value(attr: Any) -> Any:
    """An ``AttributeProto``'s value: a number, bytes, a message, or a list of them."""
    kind = attr.type
    getter = _ATTRIBUTE_FIELDS.get(kind)
    if getter is None:
        raise ValueError(f"attribute {attr.name!r} has no value (type {kind})")
    value = getattr(attr, getter)
    return list(value) if kind in _LISTS else value


_ATTRIBUTE_FIELDS = {
    AttributeProto.FLOAT: "f", AttributeProto.INT: "i", AttributeProto.STRING: "s",
    AttributeProto.TENSOR: "t", AttributeProto.GRAPH: "g", AttributeProto.SPARSE_TENSOR: "sparse_tensor",
    AttributeProto.TYPE_PROTO: "tp", AttributeProto.FLOATS: "floats", AttributeProto.INTS: "ints",
    AttributeProto.STRINGS: "strings", AttributeProto.TENSORS: "tensors", AttributeProto.GRAPHS: "graphs",
    AttributeProto.SPARSE_TENSORS: "sparse_tensors", AttributeProto.TYPE_PROTOS: "type_protos",
}
_LISTS = frozenset((AttributeProto.FLOATS, AttributeProto.INTS, AttributeProto.STRINGS, AttributeProto.TENSORS,
                    AttributeProto.GRAPHS, AttributeProto.SPARSE_TENSORS, AttributeProto.TYPE_PROTOS))
