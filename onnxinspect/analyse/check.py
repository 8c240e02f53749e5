"""``--check``: our shapes against ``onnx.shape_inference.infer_shapes(data_prop=True)``.

onnx's inference runs on a copy of the model without large weight payloads (it
serialises the whole model, so a 100 MB model would otherwise cost 100 MB of copying
for nothing), with the graph inputs set to the shapes the report used (so ``--input``
and ``--dim`` apply to both) and the exporter's ``value_info`` and declared output
shapes removed (what is compared is onnx's inference, not annotations).  Only
main-graph tensors are compared.

Every tensor lands in one kind, the first that applies:

- ``conflict``: both sides know and disagree (a dim, the rank or the dtype);
- ``ours_unknown``: onnx knows something (a dim, the shape) we report unknown;
- ``onnx_unknown``: we know something onnx leaves unknown;
- ``symbolic``: both symbolic and spelled differently (e.g. ``2*N`` vs ``N2``);
- ``naming``: a symbol of ours where onnx invented an ``unk__`` name (not a disagreement;
  an ``unk__`` dim where we know nothing at all counts as agreement);
- ``agree``.

The CLI exits with :data:`~onnxinspect.errors.CONFLICT_EXIT` when there is at least one conflict.
onnx is imported only here, and only when a comparison is asked for.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, Optional, Tuple, Union

from ..dims import Dim, is_int, shape_to_json
from ..dtypes import dtype_name
from ..load import LoadedModel, load_model, strip_model
from ..proto import ModelProto
from ..report import CHECK_KINDS as KINDS
from ..report import CheckResult, Disagreement, Report
from ..tensors import Shape, TensorInfo

LISTED = KINDS[:4]   # the kinds shown as disagreements

OnnxDim = Union[int, str, None]   # a number, a dim_param, or None
OnnxShape = Optional[Tuple[OnnxDim, ...]]


def compare_with_onnx(report: Report, model: Any) -> CheckResult:
    """Compare ``report``'s main-graph shapes with onnx's for ``model`` (a path, bytes,
    ``ModelProto`` or :class:`~onnxinspect.loading.LoadedModel`)."""
    proto = _stripped_proto(model)
    _set_inputs(proto.graph, report.inputs)
    del proto.graph.value_info[:]
    for output in proto.graph.output:   # declared, not inferred
        if output.type.HasField("tensor_type"):
            output.type.tensor_type.ClearField("shape")
    import onnx.shape_inference

    try:
        inferred = onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False,
                                                     data_prop=True)
    except Exception as exc:  # onnx's own failure is a finding, not a crash
        lines = str(exc).strip().splitlines()
        return CheckResult(error=f"{type(exc).__name__}: {lines[0] if lines else ''}")
    theirs = _onnx_shapes(inferred.graph)
    result = CheckResult(symbols=sorted({str(s) for t in report.inputs for d in (t.shape or ())
                                         if d is not None and not is_int(d) for s in d.symbols()}))
    for info in _our_tensors(report):
        onnx_dtype, onnx_shape = theirs.get(info.name, (None, None))
        kind = classify(info.shape, onnx_shape, info.dtype, onnx_dtype)
        result.counts[kind] += 1
        if kind in LISTED:
            result.disagreements.append(Disagreement(
                info.name, kind, shape_to_json(info.shape), None if onnx_shape is None else list(onnx_shape),
                info.dtype, onnx_dtype))
    result.disagreements.sort(key=lambda d: KINDS.index(d.kind))
    return result


def classify(ours: Shape, theirs: OnnxShape, ours_dtype: Optional[str] = None,
             onnx_dtype: Optional[str] = None) -> str:
    """The kind of one tensor's comparison (see the module docstring)."""
    if ours_dtype and onnx_dtype and ours_dtype != onnx_dtype:
        return "conflict"
    if ours is None or theirs is None:
        if ours is None and theirs is None:
            return "agree"
        return "ours_unknown" if ours is None else "onnx_unknown"
    if len(ours) != len(theirs):
        return "conflict"
    kinds = {_dim_kind(o, t) for o, t in zip(ours, theirs, strict=True)}   # same length: checked above
    for kind in KINDS:
        if kind in kinds:
            return kind
    return "agree"


def _dim_kind(ours: Dim, theirs: OnnxDim) -> str:
    invented = isinstance(theirs, str) and theirs.startswith("unk__")   # onnx's "some dim"
    if ours is None:
        return "agree" if theirs is None or invented else "ours_unknown"
    if theirs is None:
        return "onnx_unknown"
    if is_int(ours):
        if isinstance(theirs, int):
            return "agree" if ours == theirs else "conflict"
        return "onnx_unknown"      # onnx has a symbol where we have a number
    if isinstance(theirs, int):
        return "ours_unknown"      # we have a symbol where onnx has a number
    if str(ours) in (theirs, f"({theirs})"):   # a symbol that is no plain name prints in parentheses
        return "agree"
    return "naming" if invented else "symbolic"


def _stripped_proto(model: Any) -> Any:
    if isinstance(model, LoadedModel):
        model = model.model
    if isinstance(model, ModelProto):
        return strip_model(model)
    proto = ModelProto()
    proto.CopyFrom(load_model(model).model)   # loading already dropped the payloads
    return proto


def _set_inputs(graph: Any, inputs: Iterable[TensorInfo]) -> None:
    shapes = {t.name: t.shape for t in inputs}
    for vi in graph.input:
        if vi.name not in shapes or not vi.type.HasField("tensor_type"):
            continue
        shape = shapes[vi.name]
        tensor_type = vi.type.tensor_type
        tensor_type.ClearField("shape")
        if shape is None:
            continue
        proto_shape = tensor_type.shape
        for dim in shape:
            entry = proto_shape.dim.add()
            if is_int(dim):
                entry.dim_value = dim
            elif dim is not None:
                entry.dim_param = str(dim)


def _onnx_shapes(graph: Any) -> Dict[str, Tuple[Optional[str], OnnxShape]]:
    out: Dict[str, Tuple[Optional[str], OnnxShape]] = {}
    for vi in list(graph.value_info) + list(graph.output):
        if not vi.type.HasField("tensor_type"):
            continue
        tensor_type = vi.type.tensor_type
        shape: OnnxShape = None
        if tensor_type.HasField("shape"):
            shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                          for d in tensor_type.shape.dim)
        out[vi.name] = (dtype_name(tensor_type.elem_type), shape)
    return out


def _our_tensors(report: Report) -> Iterator[TensorInfo]:
    seen: set[str] = set()
    for node in report.nodes:
        for info in node.outputs:
            if info.name and info.name not in seen:
                seen.add(info.name)
                yield info
