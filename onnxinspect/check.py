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

The CLI exits with :data:`CONFLICT_EXIT` when there is at least one conflict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import onnx

from .dims import format_shape, is_int, shape_to_json
from .dtypes import dtype_name
from .loading import LoadedModel, load_model
from .payload import strip_model

CONFLICT_EXIT = 3
KINDS = ("conflict", "ours_unknown", "onnx_unknown", "symbolic", "naming", "agree")
LISTED = KINDS[:4]   # the kinds shown as disagreements
_LABELS = {"conflict": "conflicts", "ours_unknown": "only onnx knows", "onnx_unknown": "only we know",
           "symbolic": "symbols spelled differently", "naming": "unk__ names only", "agree": "agree"}

OnnxShape = Optional[Tuple]   # dims: int, str (dim_param) or None


@dataclass
class Disagreement:
    tensor: str
    kind: str
    ours: Optional[list]        # JSON dims (int / str / None), None = unknown shape
    onnx: Optional[list]
    ours_dtype: Optional[str] = None
    onnx_dtype: Optional[str] = None

    def to_dict(self) -> dict:
        return {"tensor": self.tensor, "kind": self.kind, "ours": self.ours, "onnx": self.onnx,
                "ours_dtype": self.ours_dtype, "onnx_dtype": self.onnx_dtype}


@dataclass
class CheckResult:
    counts: Dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    disagreements: List[Disagreement] = field(default_factory=list)
    error: Optional[str] = None        # onnx's inference failed; nothing compared

    @property
    def compared(self) -> int:
        return sum(self.counts.values())

    @property
    def conflicts(self) -> List[Disagreement]:
        return [d for d in self.disagreements if d.kind == "conflict"]

    def to_dict(self) -> dict:
        return {"against": "onnx.shape_inference(data_prop=True)", "compared": self.compared,
                "counts": dict(self.counts), "error": self.error,
                "disagreements": [d.to_dict() for d in self.disagreements]}

    def render_text(self) -> str:
        if self.error:
            return f"Check: onnx.shape_inference failed, nothing compared: {self.error}"
        lines = [f"Check against onnx.shape_inference (data_prop=True): {self.compared:,} tensors compared",
                 "  " + " · ".join(f"{_LABELS[k]} {self.counts[k]:,}" for k in KINDS)]
        if self.disagreements:
            rows = [["kind", "tensor", "ours", "onnx"]] + [
                [d.kind, d.tensor, _cell(d.ours, d.ours_dtype), _cell(d.onnx, d.onnx_dtype)]
                for d in self.disagreements]
            widths = [max(len(r[i]) for r in rows) for i in range(3)]
            lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3]
                      for r in rows]
        return "\n".join(lines)


def compare_with_onnx(report, model) -> CheckResult:
    """Compare ``report``'s main-graph shapes with onnx's for ``model`` (a path, bytes,
    ``ModelProto`` or :class:`~onnxinspect.loading.LoadedModel`)."""
    proto = _stripped_proto(model)
    _set_inputs(proto.graph, report.inputs)
    del proto.graph.value_info[:]
    for output in proto.graph.output:   # declared, not inferred
        if output.type.HasField("tensor_type"):
            output.type.tensor_type.ClearField("shape")
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False,
                                                     data_prop=True)
    except Exception as exc:  # onnx's own failure is a finding, not a crash
        lines = str(exc).strip().splitlines()
        return CheckResult(error=f"{type(exc).__name__}: {lines[0] if lines else ''}")
    theirs = _onnx_shapes(inferred.graph)
    result = CheckResult()
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


def classify(ours, theirs: OnnxShape, ours_dtype: Optional[str] = None,
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
    kinds = {_dim_kind(o, t) for o, t in zip(ours, theirs)}
    for kind in KINDS:
        if kind in kinds:
            return kind
    return "agree"


def _dim_kind(ours, theirs) -> str:
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


def _stripped_proto(model) -> onnx.ModelProto:
    if isinstance(model, LoadedModel):
        model = model.model
    if isinstance(model, onnx.ModelProto):
        return strip_model(model)
    proto = onnx.ModelProto()
    proto.CopyFrom(load_model(model).model)   # loading already dropped the payloads
    return proto


def _set_inputs(graph: onnx.GraphProto, inputs) -> None:
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


def _onnx_shapes(graph: onnx.GraphProto) -> Dict[str, Tuple[Optional[str], OnnxShape]]:
    out = {}
    for vi in list(graph.value_info) + list(graph.output):
        if not vi.type.HasField("tensor_type"):
            continue
        tensor_type = vi.type.tensor_type
        shape = None
        if tensor_type.HasField("shape"):
            shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                          for d in tensor_type.shape.dim)
        out[vi.name] = (dtype_name(tensor_type.elem_type), shape)
    return out


def _our_tensors(report):
    seen = set()
    for node in report.nodes:
        for info in node.outputs:
            if info.name and info.name not in seen:
                seen.add(info.name)
                yield info


def _cell(shape, dtype) -> str:
    text = "?" if shape is None else format_shape(tuple(shape))
    return f"{dtype or '?'} {text}"
