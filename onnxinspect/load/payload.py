"""Drop large tensor payloads from serialized ONNX bytes before protobuf parses them.

Inspecting needs a weight's dims and dtype, never its values (beyond the small
constants the walker folds), so parsing a 300 MB model should not cost 300 MB.  This
pre-pass walks the protobuf wire format (ModelProto -> GraphProto -> initializers,
Constant-node and other attribute tensors, subgraphs), copies every field verbatim
except the payload of tensors with more than ``FOLD_LIMIT`` elements, and marks each
stripped tensor (``metadata_props`` key :data:`ELIDED_KEY`) so nothing mistakes it for
an empty tensor.  Only messages large enough to hold such a payload are descended
into; everything else is copied as one slice, so the cost follows the model's
structure, not its weight bytes.  On malformed bytes the pre-pass gives up and hands
back the input unchanged: protobuf then reports the problem.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Optional, Tuple, Union

from ..proto import ModelProto, StringStringEntryProto, TensorProto
from ..tensors import FOLD_LIMIT

if TYPE_CHECKING:
    from typing_extensions import Buffer

ELIDED_KEY = "onnxinspect.elided"   # value: how many serialized bytes were dropped

# A payload above FOLD_LIMIT elements takes at least this many bytes (4-bit types);
# smaller messages cannot contain one and are copied without a look.
_DESCEND_MIN = FOLD_LIMIT // 4
_MAX_BYTES_PER_ELEMENT = 16        # complex128; more means the payload contradicts dims
_MAX_DEPTH = 100                   # message levels, as protobuf's parser allows; deeper is copied as is

_MODEL, _GRAPH, _NODE, _ATTR, _TENSOR = range(5)
# message kind -> {field number: kind of the sub-message in that field}
_CHILDREN = {
    _MODEL: {7: _GRAPH},                            # ModelProto.graph
    _GRAPH: {1: _NODE, 5: _TENSOR},                 # GraphProto.node, .initializer
    _NODE: {5: _ATTR},                              # NodeProto.attribute
    _ATTR: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH},  # t, g, tensors, graphs
}
# TensorProto payload fields: float, int32, string, int64, raw, double, uint64 data.
_PAYLOAD_FIELDS = frozenset((4, 5, 6, 7, 9, 10, 11))
_TENSOR_DIMS = 1

Chunks = List[Union[bytes, memoryview]]    # a message's bytes, in pieces to join
Releaser = Callable[[int, int], None]      # hands the pages of [start, end) back


class _Malformed(Exception):
    pass


@dataclass
class Elision:
    """What the pre-pass dropped."""

    tensors: int = 0
    bytes: int = 0


def is_elided(tensor: Any) -> bool:
    """True when :func:`strip_payloads` dropped this tensor's values."""
    return any(entry.key == ELIDED_KEY for entry in tensor.metadata_props)


def strip_payloads(data: Buffer) -> Tuple[bytes, Elision]:
    """(bytes to parse, what was dropped) for a serialized ModelProto (bytes, mmap, ...).

    Returns bytes, never a view into ``data``, so a memory map can be closed at once.
    """
    elision = Elision()
    release = _releaser(data)
    with memoryview(data) as view:
        try:
            chunks = _rewrite(view, 0, len(view), _MODEL, 0, elision, release)
        except _Malformed:
            chunks, elision = None, Elision()
        if chunks is None:
            stripped = data if isinstance(data, bytes) else bytes(view)
        else:
            stripped = b"".join(chunks)
            del chunks
        if release is not None:  # copied: the mapped pages are not needed while parsing
            release(0, len(view))
        return stripped, elision


def strip_model(model: Any) -> Any:
    """A copy of ``model`` whose main-graph initializers above the fold limit have no
    payload (for tools that serialize the model, such as onnx.shape_inference).

    Built field by field: serializing the whole model first would cost what it saves.
    Constant nodes and subgraphs are copied as they are."""
    stripped = ModelProto()
    for descriptor, value in model.ListFields():
        if descriptor.name != "graph":
            _copy_field(stripped, descriptor, value)
    graph = stripped.graph
    for descriptor, value in model.graph.ListFields():
        if descriptor.name != "initializer":
            _copy_field(graph, descriptor, value)
    for tensor in model.graph.initializer:
        graph.initializer.append(_without_payload(tensor))
    return stripped


def _copy_field(target: Any, descriptor: Any, value: Any) -> None:
    repeated = (descriptor.is_repeated if hasattr(descriptor, "is_repeated")  # protobuf >= 5.29
                else descriptor.label == descriptor.LABEL_REPEATED)
    if repeated:
        getattr(target, descriptor.name).extend(value)
    elif descriptor.message_type is not None:
        getattr(target, descriptor.name).CopyFrom(value)
    else:
        setattr(target, descriptor.name, value)


def _without_payload(tensor: Any) -> Any:
    count = 1
    for dim in tensor.dims:
        count *= dim
    if count <= FOLD_LIMIT or tensor.data_location == TensorProto.EXTERNAL:
        return tensor
    light = TensorProto()
    for descriptor, value in tensor.ListFields():
        if descriptor.number not in _PAYLOAD_FIELDS:
            _copy_field(light, descriptor, value)
    light.metadata_props.add(key=ELIDED_KEY, value=str(tensor.ByteSize() - light.ByteSize()))
    return light


def _varint(buf: memoryview, pos: int, end: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Malformed
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(buf: memoryview, start: int, end: int) -> Iterator[Tuple[int, int, int, int, int]]:
    """(field number, wire type, field start, value start, value end) of each field."""
    pos = start
    while pos < end:
        field_start = pos
        tag = buf[pos]
        if tag < 0x80:   # one-byte varints (most tags and lengths) without a call
            pos += 1
        else:
            tag, pos = _varint(buf, pos, end)
        wire = tag & 7
        value_start = pos
        if wire == 2:
            if pos >= end:
                raise _Malformed
            length = buf[pos]
            if length < 0x80:
                pos += 1
            else:
                length, pos = _varint(buf, pos, end)
            value_start = pos
            pos += length
        elif wire == 0:
            _, pos = _varint(buf, pos, end)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise _Malformed
        if pos > end:
            raise _Malformed
        yield tag >> 3, wire, field_start, value_start, pos


def _releaser(data: Buffer) -> Optional[Releaser]:
    """For a memory map: a function handing the pages of a dropped payload back.

    Reading a tensor's header maps the file pages around it too (fault-around; here a
    whole 2 MB folio per touch), so a model of many mid-sized weights would otherwise end
    the pass with most of its payload bytes resident (666 weights of 147 KB: 122 MiB
    peak RSS instead of 49).  Pages wholly inside a dropped payload are never read again."""
    if not isinstance(data, mmap.mmap) or not hasattr(mmap, "MADV_DONTNEED"):
        return None
    page = mmap.PAGESIZE

    def release(start: int, end: int) -> None:
        first = -(-start // page) * page
        last = end // page * page
        if last > first:
            try:
                data.madvise(mmap.MADV_DONTNEED, first, last - first)
            except (OSError, ValueError):
                pass  # only an optimisation

    return release


def _rewrite(buf: memoryview, start: int, end: int, kind: int, depth: int,
             elision: Elision, release: Optional[Releaser] = None) -> Optional[Chunks]:
    """The message's bytes as chunks with large payloads dropped, or None if unchanged."""
    if kind == _TENSOR:
        return _rewrite_tensor(buf, start, end, elision, release)
    if depth > _MAX_DEPTH:
        return None
    children = _CHILDREN[kind]
    chunks: Chunks = []
    copied_from = start
    changed = False
    for number, wire, field_start, value_start, value_end in _fields(buf, start, end):
        child = children.get(number)
        if child is None or wire != 2 or value_end - value_start <= _DESCEND_MIN:
            continue
        inner = _rewrite(buf, value_start, value_end, child, depth + 1, elision, release)
        if inner is None:
            continue
        changed = True
        chunks.append(buf[copied_from:field_start])
        length = sum(len(c) for c in inner)
        chunks.append(_encode_varint((number << 3) | 2) + _encode_varint(length))
        chunks.extend(inner)
        copied_from = value_end
    if not changed:
        return None
    chunks.append(buf[copied_from:end])
    return chunks


def _rewrite_tensor(buf: memoryview, start: int, end: int, elision: Elision,
                    release: Optional[Releaser] = None) -> Optional[Chunks]:
    try:
        size = _tensor_size(buf, start, end)
    except _Malformed:
        size = None
    if size is not None and _kept(*size):
        return None  # the common case, decided in one plain loop
    fields = list(_fields(buf, start, end))
    count = 1
    payload = 0
    for number, wire, field_start, value_start, value_end in fields:
        if number == _TENSOR_DIMS:
            for dim in _dims(buf, wire, value_start, value_end):
                if dim < 0:
                    return None  # invalid; left for validation to report
                count *= dim
        elif number in _PAYLOAD_FIELDS:
            payload += value_end - field_start
    if _kept(count, payload):
        return None
    # Copied now (a few header bytes): joined later from the mapping, they would fault its
    # pages back in after the payload's were released.
    chunks: Chunks = [bytes(buf[field_start:value_end]) for number, _, field_start, _, value_end in fields
              if number not in _PAYLOAD_FIELDS]
    chunks.append(_marker(payload))
    elision.tensors += 1
    elision.bytes += payload
    if release is not None:
        for number, _, field_start, _, value_end in fields:
            if number in _PAYLOAD_FIELDS:
                release(field_start, value_end)
    return chunks


def _kept(count: int, payload: int) -> bool:
    """A payload is kept when it is absent, or both its element count and bytes are small."""
    return payload == 0 or (count <= FOLD_LIMIT and payload <= FOLD_LIMIT * _MAX_BYTES_PER_ELEMENT)


def _tensor_size(buf: memoryview, start: int, end: int) -> Optional[Tuple[int, int]]:
    """(elements, payload bytes) of a well-formed tensor with one-byte tags and
    non-negative dims (every writer's layout); None for anything else, which the field
    by field path then decides (its errors included).  ``_fields`` without a generator:
    this runs for every weight of the model."""
    pos = start
    count = 1
    payload = 0
    while pos < end:
        field_start = pos
        tag = buf[pos]
        if tag >= 0x80:
            return None
        pos += 1
        number = tag >> 3
        wire = tag & 7
        if wire == 2:
            length, pos = _varint(buf, pos, end)
            value_start = pos
            pos += length
            if pos > end:
                return None
            if number == _TENSOR_DIMS:
                while value_start < pos:
                    dim, value_start = _varint(buf, value_start, pos)
                    if dim >= 1 << 63:
                        return None
                    count *= dim
        elif wire == 0:
            dim, pos = _varint(buf, pos, end)
            if number == _TENSOR_DIMS:
                if dim >= 1 << 63:
                    return None
                count *= dim
        elif wire == 5 or wire == 1:
            if number == _TENSOR_DIMS:
                return None
            pos += 4 if wire == 5 else 8
            if pos > end:
                return None
        else:
            return None
        if number in _PAYLOAD_FIELDS:
            payload += pos - field_start
    return count, payload


def _dims(buf: memoryview, wire: int, start: int, end: int) -> Iterator[int]:
    """int64 dims, packed (wire 2) or one per field (wire 0)."""
    if wire not in (0, 2):
        raise _Malformed
    pos = start
    while pos < end:
        value, pos = _varint(buf, pos, end)
        yield value - (1 << 64) if value >= 1 << 63 else value


def _marker(payload_bytes: int) -> bytes:
    entry: bytes = StringStringEntryProto(key=ELIDED_KEY, value=str(payload_bytes)).SerializeToString()
    return _encode_varint((16 << 3) | 2) + _encode_varint(len(entry)) + entry
