"""``onnxinspect diff A B``: two reports compared, figure by figure and layer by layer.

Both sides are the "onnxinspect/1" JSON contract (``Report.to_dict()`` of a model, or a
saved ``--format json`` report read back), so a small baseline file and a live model are
equal citizens.  The result is a :class:`Diff` of plain dataclasses; ``Diff.to_dict()``
is the "onnxinspect-diff/1" contract (docs/diff.md).

Matching (layers, or nodes with ``by="node"``) runs in passes, each a dict lookup, so it
is linear in the graph size:

1. the same name and the same structure (op types, weight shapes, input shapes, the
   producers' op types);
2. the same structure, in order of position (a re-export that renumbered the names);
   then, for layers with weights, the same op types, weight and input shapes;
3. the same name (layers: whatever changed; nodes: the same op type);
4. the same op types at the same place: between the same two matched neighbours.

What is left is added or removed, except where removed and added nodes share tensors
(an optimiser fused them: Conv + Relu into FusedConv): those are one replacement.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Dict, Hashable, List, Mapping, Optional, Sequence, Tuple, Union

from .dims import Dim, Expr, KnownDim, floordiv, is_int, sub, sym, to_json
from .errors import InspectError, UsageError
from .report import SCHEMA

DIFF_SCHEMA = "onnxinspect-diff/1"
JsonDim = Union[int, str, None]
JsonShape = Optional[List[JsonDim]]
ReportDict = Dict[str, Any]

# Figure name -> its unit ("count" or "bytes"); bytes[<dtype>] figures are added per dtype.
FIGURES: Dict[str, str] = {
    "nodes": "count", "params": "count", "unique_params": "count", "param_bytes": "bytes",
    "flops": "count", "macs": "count", "peak_memory": "bytes", "activation_bytes": "bytes",
}


ROW_STATUSES = ("unchanged", "renamed", "changed", "added", "removed")


class ReportFormatError(InspectError):
    """A saved report that is not an "onnxinspect/1" JSON report."""


# ---------------------------------------------------------------------------
# Symbolic figures: the JSON text of a dims.Expr back into an Expr (no eval)
# ---------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_.:]*)|(\*\*|[-+*/()]))")
_MAX_TEXT = 20_000
_MAX_POWER = 64


class _Parser:
    """``3390031872*N``, ``N*floor((H + 1)/32) - 2``, ``(batch size)**2``: integers,
    symbols, + - *, integer powers and floor(poly/int), as dims.Expr prints them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: List[Tuple[str, str, int]] = []   # (kind, text, offset)
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                if text[pos:].strip() == "":
                    break
                raise ValueError(f"unexpected {text[pos:pos + 10]!r}")
            pos = m.end()
            kind = "int" if m.group(1) is not None else "name" if m.group(2) is not None else "op"
            index = m.lastindex or 0
            self.tokens.append((kind, m.group(index), m.start(index)))
        self.pos = 0
        self.depth = 0

    def peek(self) -> str:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else ""

    def take(self, value: Optional[str] = None) -> Tuple[str, str, int]:
        if self.pos >= len(self.tokens) or (value is not None and self.tokens[self.pos][1] != value):
            raise ValueError(f"expected {value or 'more'}")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def parse(self) -> KnownDim:
        value = self.expr()
        if self.pos < len(self.tokens):
            raise ValueError(f"unexpected {self.peek()!r}")
        return value

    def expr(self) -> KnownDim:
        self.depth += 1
        if self.depth > 100:
            raise ValueError("nested too deeply")
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            rhs = self.term()
            value = value + rhs if op == "+" else value - rhs
        self.depth -= 1
        return value

    def term(self) -> KnownDim:
        value = self.power()
        while self.peek() == "*":
            self.take()
            value = value * self.power()
        return value

    def power(self) -> KnownDim:
        base = self.unary()
        if self.peek() == "**":
            self.take()
            kind, text, _ = self.take()
            if kind != "int" or int(text) > _MAX_POWER:
                raise ValueError("bad power")
            value: KnownDim = 1
            for _ in range(int(text)):
                value = value * base
            return value
        return base

    def unary(self) -> KnownDim:
        if self.peek() == "-":
            self.take()
            return 0 - self.unary()
        return self.primary()

    def primary(self) -> KnownDim:
        kind, text, offset = self.take()
        if kind == "int":
            return int(text)
        if kind == "name":
            if text == "floor" and self.peek() == "(":
                self.take("(")
                num = self.expr()
                self.take("/")
                den_kind, den, _ = self.take()
                if den_kind != "int" or int(den) < 1:
                    raise ValueError("floor needs a positive integer divisor")
                self.take(")")
                result = floordiv(num, int(den))
                assert result is not None
                return result
            return sym(text)
        if text == "(":
            start, depth = self.pos, self.depth
            try:
                value = self.expr()
                self.take(")")
                return value
            except ValueError:
                # A symbol whose name is not plain prints in parentheses: "(batch size)".
                self.depth = depth
                close = self.text.find(")", offset)
                if close < 0:
                    raise
                self.pos = start
                while self.pos < len(self.tokens) and self.tokens[self.pos][2] < close:
                    self.pos += 1
                self.take(")")
                return sym(self.text[offset + 1:close])
        raise ValueError(f"unexpected {text!r}")


_PARSED: Dict[str, KnownDim] = {}   # text -> its dim: 20,000 nodes print a few hundred distinct costs


def parse_dim(value: Any) -> Dim:
    """A figure of the JSON contract as a dim: int -> int, None -> None, a string ->
    the dims.Expr it is the text of.  Raises ValueError on anything else."""
    if value is None or is_int(value):
        return value
    if isinstance(value, bool) or not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise ValueError(f"not a dimension: {value!r}"[:80])
    parsed = _PARSED.get(value)
    if parsed is None:
        parsed = _Parser(value).parse()
        if len(_PARSED) > 100_000:
            _PARSED.clear()
        _PARSED[value] = parsed
    return parsed


def evaluate(d: Dim, bindings: Mapping[str, int]) -> Dim:
    """``d`` with ``bindings`` substituted (still an Expr if a symbol is left)."""
    if isinstance(d, Expr):
        return d.subs(bindings)
    return d


def symbols_of(d: Dim) -> List[str]:
    return sorted(d.symbols()) if isinstance(d, Expr) else []


def relative_change(before: Dim, after: Dim) -> Optional[float]:
    """(after - before) / before when it is one number: both ints, or proportional
    expressions (``2*N`` -> ``3*N`` is +50%); None when it depends on the symbols or
    ``before`` is 0 (and ``after`` is not)."""
    if before is None or after is None:
        return None
    if before == after:
        return 0.0
    if is_int(before) and is_int(after):
        return None if before == 0 else (after - before) / before
    a, b = Expr.lift(before), Expr.lift(after)
    if len(a.terms) != len(b.terms) or not a.terms:
        return None
    ratio: Optional[Fraction] = None
    b_terms = dict(b.terms)
    for mono, coeff in a.terms:
        other = b_terms.get(mono)
        if other is None:
            return None
        r = Fraction(other, coeff)
        if ratio is None:
            ratio = r
        elif r != ratio:
            return None
    assert ratio is not None
    return float(ratio - 1)


# ---------------------------------------------------------------------------
# Loading and validating a side
# ---------------------------------------------------------------------------

def load_report(path: str) -> ReportDict:
    """A saved ``--format json`` report, validated; :class:`ReportFormatError` naming
    ``path`` when it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise ReportFormatError(f"cannot read the report ({exc.strerror or exc})", path) from None
    except (ValueError, RecursionError) as exc:
        raise ReportFormatError(f"not a JSON report ({str(exc)[:80]})", path) from None
    return validate_report(data, path, deep=True)


def validate_report(data: Any, path: Optional[str] = None, deep: bool = False) -> ReportDict:
    """``data`` if it has the shape of an "onnxinspect/1" report, else ReportFormatError:
    the top-level keys and totals, and with ``deep`` (a file) every node and layer too."""
    def bad(why: str) -> ReportFormatError:
        return ReportFormatError(f"not an {SCHEMA} report ({why}); make one with --format json", path)

    if not isinstance(data, dict):
        raise bad("not a JSON object")
    if data.get("schema") != SCHEMA:
        raise bad(f"schema is {data.get('schema')!r}")
    for key, kind in (("model", dict), ("inputs", list), ("outputs", list), ("nodes", list), ("totals", dict)):
        if not isinstance(data.get(key), kind):
            raise bad(f"no {key!r} {kind.__name__}")
    for key in ("memory",):
        if key in data and data[key] is not None and not isinstance(data[key], dict):
            raise bad(f"{key!r} is not an object")
    if "layers" in data and data["layers"] is not None and not isinstance(data["layers"], list):
        raise bad("'layers' is not a list")
    totals = data["totals"]
    try:
        for key in ("params", "unique_params", "param_bytes", "nodes"):
            if not is_int(totals.get(key)):
                raise bad(f"totals.{key} is not an integer")
        for key in ("flops", "macs"):
            parse_dim(totals.get(key))
        if not deep:
            return data
        for node in data["nodes"]:
            if type(node) is not dict or type(node.get("name")) is not str \
                    or type(node.get("op_type")) is not str:
                raise bad("a node without a name or op_type")
            for key in ("inputs", "outputs"):
                tensors = node.get(key, [])
                if type(tensors) is not list or any(type(t) is not dict for t in tensors):
                    raise bad(f"node {node['name']!r}: {key} is not a list of tensors")
        for layer in data.get("layers") or []:
            if not isinstance(layer, dict) or not isinstance(layer.get("name"), str) \
                    or not isinstance(layer.get("nodes"), list):
                raise bad("a layer without a name or nodes")
    except ValueError as exc:
        raise bad(str(exc)) from None
    return data


# ---------------------------------------------------------------------------
# The Diff dataclasses
# ---------------------------------------------------------------------------

@dataclass
class FieldChange:
    """One model field (ir_version, opset:<domain>, producer, producer_version)."""

    name: str
    before: Any
    after: Any

    @property
    def changed(self) -> bool:
        return bool(self.before != self.after)

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "before": self.before, "after": self.after, "changed": self.changed}


@dataclass
class TensorChange:
    """A graph input or output: same, changed (dtype or shape), added or removed."""

    kind: str                 # "input" | "output"
    name: str
    status: str               # "same" | "changed" | "added" | "removed"
    before_dtype: Optional[str] = None
    before_shape: JsonShape = None
    after_dtype: Optional[str] = None
    after_shape: JsonShape = None
    layout_only: bool = False  # the shapes are permutations of each other (NHWC vs NCHW)

    def to_dict(self) -> Dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "status": self.status,
                "before": None if self.status == "added" else {"dtype": self.before_dtype,
                                                              "shape": self.before_shape},
                "after": None if self.status == "removed" else {"dtype": self.after_dtype,
                                                               "shape": self.after_shape},
                "layout_only": self.layout_only}


@dataclass
class Figure:
    """One total on both sides, its change, and all of it at the diff's bindings."""

    name: str
    unit: str                          # "count" | "bytes"
    before: Dim
    after: Dim
    delta: Dim
    relative: Optional[float]          # None: depends on the symbols, or from 0
    before_at: Dim = None              # at Diff.bindings (when there are any)
    after_at: Dim = None
    delta_at: Dim = None
    relative_at: Optional[float] = None

    @property
    def changed(self) -> bool:
        return bool(self.before != self.after)

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "unit": self.unit, "before": to_json(self.before),
                "after": to_json(self.after), "delta": to_json(self.delta), "relative": self.relative,
                "at": {"before": to_json(self.before_at), "after": to_json(self.after_at),
                       "delta": to_json(self.delta_at), "relative": self.relative_at}}


@dataclass
class OpCount:
    op_type: str
    before: int
    after: int

    @property
    def delta(self) -> int:
        return self.after - self.before

    def to_dict(self) -> Dict[str, Any]:
        return {"op_type": self.op_type, "before": self.before, "after": self.after, "delta": self.delta}


@dataclass(slots=True)
class Item:
    """One layer (or node) of one side, as far as matching and the table need it."""

    index: int
    name: str
    op_types: List[str]
    params: int
    flops: Dim
    output_shape: JsonShape
    weight_shapes: List[JsonShape] = field(default_factory=list)
    input_shapes: List[JsonShape] = field(default_factory=list)
    producers: List[str] = field(default_factory=list)   # op types of the nodes feeding it
    tensors_in: List[str] = field(default_factory=list)
    tensors_out: List[str] = field(default_factory=list)
    key: Hashable = field(default=None, repr=False, compare=False)    # the structure matching uses
    loose: Hashable = field(default=None, repr=False, compare=False)  # op types, weights, inputs

    def to_dict(self) -> Dict[str, Any]:
        return {"index": self.index, "name": self.name, "op_types": list(self.op_types),
                "params": self.params, "flops": to_json(self.flops), "output_shape": self.output_shape,
                "weight_shapes": list(self.weight_shapes)}


@dataclass
class RowDiff:
    """A matched, added or removed layer (node)."""

    status: str                      # "unchanged" | "renamed" | "changed" | "added" | "removed"
    before: Optional[Item]
    after: Optional[Item]
    matched_by: Optional[str] = None  # "name" | "structure" | "position"
    changes: List[str] = field(default_factory=list)   # name, params, weights, output_shape, flops, op_types
    layout_only: bool = False         # the output shapes differ only by a permutation

    @property
    def params_delta(self) -> int:
        return (self.after.params if self.after else 0) - (self.before.params if self.before else 0)

    @property
    def flops_delta(self) -> Dim:
        return sub(self.after.flops if self.after else 0, self.before.flops if self.before else 0)

    def to_dict(self) -> Dict[str, Any]:
        return {"status": self.status, "matched_by": self.matched_by, "changes": list(self.changes),
                "before": self.before.to_dict() if self.before else None,
                "after": self.after.to_dict() if self.after else None,
                "params_delta": self.params_delta, "flops_delta": to_json(self.flops_delta),
                "layout_only": self.layout_only}


@dataclass
class Replacement:
    """Nodes of the first model that became other nodes of the second (a fusion)."""

    before: List[Item]
    after: List[Item]

    @property
    def params_delta(self) -> int:
        return sum(i.params for i in self.after) - sum(i.params for i in self.before)

    @property
    def flops_delta(self) -> Dim:
        total: Dim = 0
        for item in self.after:
            total = None if total is None or item.flops is None else total + item.flops
        for item in self.before:
            total = None if total is None or item.flops is None else total - item.flops
        return total

    def to_dict(self) -> Dict[str, Any]:
        return {"before": [i.to_dict() for i in self.before], "after": [i.to_dict() for i in self.after],
                "params_delta": self.params_delta, "flops_delta": to_json(self.flops_delta)}


@dataclass
class Diff:
    before_path: Optional[str]
    after_path: Optional[str]
    by: str                                   # "layer" | "node"
    bindings: Dict[str, int]
    model: List[FieldChange]
    tensors: List[TensorChange]
    figures: List[Figure]
    ops: List[OpCount]
    rows: List[RowDiff]
    replaced: List[Replacement] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def figure(self, name: str) -> Figure:
        for figure in self.figures:
            if figure.name == name:
                return figure
        raise KeyError(name)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def identical(self) -> bool:
        return not (any(f.changed for f in self.model) or any(t.status != "same" for t in self.tensors)
                    or any(f.changed for f in self.figures) or any(o.delta for o in self.ops)
                    or any(r.status != "unchanged" for r in self.rows) or self.replaced)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema": DIFF_SCHEMA,
            "before": self.before_path,
            "after": self.after_path,
            "by": self.by,
            "bindings": dict(self.bindings),
            "identical": self.identical,
            "model": [f.to_dict() for f in self.model],
            "tensors": [t.to_dict() for t in self.tensors],
            "figures": [f.to_dict() for f in self.figures],
            "ops": [o.to_dict() for o in self.ops],
            "summary": {s: self.count(s) for s in ROW_STATUSES}
            | {"replaced": len(self.replaced)},
            "rows": [r.to_dict() for r in self.rows],
            "replaced": [r.to_dict() for r in self.replaced],
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------
# Building a Diff
# ---------------------------------------------------------------------------

def figures_of(report: Mapping[str, Any]) -> Dict[str, Tuple[Dim, str]]:
    """Every comparable total of a report dict: name -> (value, unit)."""
    totals = report.get("totals") or {}
    memory = report.get("memory") or {}
    out: Dict[str, Tuple[Dim, str]] = {
        "nodes": (totals.get("nodes"), "count"),
        "params": (totals.get("params"), "count"),
        "unique_params": (totals.get("unique_params"), "count"),
        "param_bytes": (totals.get("param_bytes"), "bytes"),
    }
    for dtype, n in sorted((totals.get("bytes_by_dtype") or {}).items()):
        out[f"bytes[{dtype}]"] = (n, "bytes")
    out["flops"] = (parse_dim(totals.get("flops")), "count")
    out["macs"] = (parse_dim(totals.get("macs")), "count")
    out["peak_memory"] = (parse_dim(memory.get("peak_bytes")), "bytes")
    out["activation_bytes"] = (parse_dim(memory.get("activation_bytes")), "bytes")
    return out


def diff_reports(before: ReportDict, after: ReportDict, by: str = "layer",
                 bindings: Optional[Mapping[str, int]] = None,
                 labels: Optional[Tuple[str, str]] = None) -> Diff:
    """Compare two "onnxinspect/1" report dicts (``by``: "layer" or "node").  Symbolic
    figures are compared as expressions and also evaluated at ``bindings``; ``labels``
    names the two sides (default: the reports' model paths)."""
    if by not in ("layer", "node"):
        raise UsageError(f"by must be 'layer' or 'node', not {by!r}", option="--by")
    before = validate_report(before, (before.get("model") or {}).get("path") if isinstance(before, dict) else None)
    after = validate_report(after, (after.get("model") or {}).get("path") if isinstance(after, dict) else None)
    binds = dict(bindings or {})
    notes: List[str] = []
    names = labels or (before["model"].get("path"), after["model"].get("path"))
    diff = Diff(names[0], names[1], by, binds,
                _model_fields(before["model"], after["model"]),
                _tensors(before, after), _figures(before, after, binds), _ops(before, after), [], [], notes)
    if by == "layer" and not (before.get("layers") is not None and after.get("layers") is not None):
        notes.append("a saved report has no layers (save it with --by layer --format json): "
                     "comparing nodes instead")
        by = diff.by = "node"
    if by == "layer":
        old, new = _layer_items(before), _layer_items(after)
    else:
        old, new = _node_items(before["nodes"]), _node_items(after["nodes"])
    pairs = match_items(old, new, nodes=by == "node")
    diff.rows, diff.replaced = _rows(old, new, pairs, by == "node")
    return diff


def _model_fields(a: Mapping[str, Any], b: Mapping[str, Any]) -> List[FieldChange]:
    out = [FieldChange("ir_version", a.get("ir_version"), b.get("ir_version"))]
    opsets_a, opsets_b = a.get("opsets") or {}, b.get("opsets") or {}
    for domain in sorted(set(opsets_a) | set(opsets_b), key=lambda d: (d != "ai.onnx", d)):
        out.append(FieldChange(f"opset {domain}", opsets_a.get(domain), opsets_b.get(domain)))
    out.append(FieldChange("producer", a.get("producer"), b.get("producer")))
    out.append(FieldChange("producer_version", a.get("producer_version"), b.get("producer_version")))
    return out


def _layout_only(a: JsonShape, b: JsonShape) -> bool:
    return a is not None and b is not None and a != b and len(a) == len(b) and \
        sorted(map(str, a)) == sorted(map(str, b))


def _tensors(before: ReportDict, after: ReportDict) -> List[TensorChange]:
    out: List[TensorChange] = []
    for kind, key in (("input", "inputs"), ("output", "outputs")):
        old, new = before[key], after[key]
        new_by_name = {t.get("name"): t for t in new}
        old_names = {t.get("name") for t in old}
        # Renamed tensors (different exporters) pair by position.
        unpaired_new = [t for t in new if t.get("name") not in old_names]
        for t in old:
            other = new_by_name.get(t.get("name"))
            if other is None and unpaired_new:
                other = unpaired_new.pop(0)
            if other is None:
                out.append(TensorChange(kind, t.get("name", ""), "removed", t.get("dtype"), t.get("shape")))
                continue
            name = t.get("name", "")
            if other.get("name") != name:
                name = f"{name} -> {other.get('name')}"
            same = t.get("dtype") == other.get("dtype") and t.get("shape") == other.get("shape") \
                and other.get("name") == t.get("name")
            out.append(TensorChange(kind, name, "same" if same else "changed", t.get("dtype"), t.get("shape"),
                                    other.get("dtype"), other.get("shape"),
                                    _layout_only(t.get("shape"), other.get("shape"))))
        for t in unpaired_new:
            out.append(TensorChange(kind, t.get("name", ""), "added", after_dtype=t.get("dtype"),
                                    after_shape=t.get("shape")))
    return out


def _figures(before: ReportDict, after: ReportDict, bindings: Mapping[str, int]) -> List[Figure]:
    a, b = figures_of(before), figures_of(after)
    names = list(a) + [n for n in b if n not in a]
    order = {n: i for i, n in enumerate(FIGURES)}
    names.sort(key=lambda n: order.get(n, order["param_bytes"] + 0.5))
    out = []
    for name in names:
        va, unit = a.get(name, (0, "bytes"))
        vb, _ = b.get(name, (0, unit))
        figure = Figure(name, unit, va, vb, sub(vb, va), relative_change(va, vb))
        if bindings:
            figure.before_at, figure.after_at = evaluate(va, bindings), evaluate(vb, bindings)
            figure.delta_at = sub(figure.after_at, figure.before_at)
            figure.relative_at = relative_change(figure.before_at, figure.after_at)
        out.append(figure)
    return out


def _ops(before: ReportDict, after: ReportDict) -> List[OpCount]:
    a = before["totals"].get("op_histogram") or {}
    b = after["totals"].get("op_histogram") or {}
    names = list(a) + [n for n in b if n not in a]
    return [OpCount(n, int(a.get(n, 0)), int(b.get(n, 0))) for n in names]


def _flops(value: Any) -> Dim:
    try:
        return parse_dim(value)
    except ValueError:
        return None


def _shape(shape: Any) -> Hashable:
    return None if shape is None else tuple(shape)


def _producers(nodes: Sequence[Mapping[str, Any]]) -> Dict[str, str]:
    producer: Dict[str, str] = {}
    for node in nodes:
        for t in node.get("outputs") or ():
            producer[t.get("name", "")] = node["op_type"]
    return producer


def _item(index: int, name: str, op_types: List[str], params: int, flops: Any, output_shape: JsonShape,
          members: Sequence[Mapping[str, Any]], producer: Mapping[str, str], tensors: bool = True) -> Item:
    """One layer (or node) from its member nodes' JSON: weights, the first member's
    inputs and their producers, and (``tensors``: for the fusions) every tensor read
    and written."""
    weight_shapes: List[JsonShape] = []
    input_shapes: List[JsonShape] = []
    producers: List[str] = []
    tensors_in: List[str] = []
    tensors_out: List[str] = []
    get_producer = producer.get
    for k, node in enumerate(members):
        weights = node.get("param_inputs") or ()
        for t in node.get("inputs") or ():
            tensor = t.get("name")
            if tensor and tensors:
                tensors_in.append(tensor)
            if tensor in weights:
                weight_shapes.append(t.get("shape"))
            elif k == 0:
                input_shapes.append(t.get("shape"))
                producers.append(get_producer(tensor or "", ""))
        if tensors:
            tensors_out.extend(t["name"] for t in node.get("outputs") or () if t.get("name"))
    item = Item(index, name, op_types, params, _flops(flops), output_shape, weight_shapes, input_shapes,
                producers, tensors_in, tensors_out)
    ops = tuple(op_types)
    weights_key = tuple(map(_shape, weight_shapes))
    inputs_key = tuple(map(_shape, input_shapes))
    item.key = (ops, weights_key, inputs_key, tuple(producers), _shape(output_shape))
    item.loose = (ops, weights_key, inputs_key) if weight_shapes else None
    return item


def _node_items(nodes: Sequence[Mapping[str, Any]]) -> List[Item]:
    producer = _producers(nodes)
    items = []
    for i, node in enumerate(nodes):
        outputs = node.get("outputs") or ()
        items.append(_item(i, node["name"], [node["op_type"]], int(node.get("params") or 0), node.get("flops"),
                           outputs[0].get("shape") if outputs else None, (node,), producer))
    return items


def _layer_items(report: ReportDict) -> List[Item]:
    nodes = report["nodes"]
    producer = _producers(nodes)
    count = len(nodes)
    items = []
    for i, layer in enumerate(report["layers"]):
        members = [nodes[k] for k in layer["nodes"] if is_int(k) and 0 <= k < count]
        output = layer.get("output") or {}
        items.append(_item(i, layer["name"], list(layer.get("op_types") or ()), int(layer.get("params") or 0),
                           layer.get("flops"), output.get("shape"), members, producer, tensors=False))
    return items


Pair = Tuple[int, int, str]


def match_items(old: Sequence[Item], new: Sequence[Item], nodes: bool = False) -> List[Pair]:
    """(old index, new index, how) for every matched pair; see the module docstring."""
    old_free = [True] * len(old)
    new_free = [True] * len(new)
    pairs: List[Pair] = []

    def by_key(key: Callable[[Item], Hashable], how: str) -> None:
        """Equal keys pair up in order of position (a None key never pairs)."""
        waiting: Dict[Hashable, List[int]] = {}
        for j in range(len(new) - 1, -1, -1):
            if new_free[j]:
                k = key(new[j])
                if k is not None:
                    waiting.setdefault(k, []).append(j)
        if not waiting:
            return
        for i, item in enumerate(old):
            if old_free[i]:
                queue = waiting.get(key(item))
                if queue:
                    j = queue.pop()
                    old_free[i] = new_free[j] = False
                    pairs.append((i, j, how))

    def by_name(same: Callable[[Item, Item], bool]) -> None:
        """Items of the same (unique) name, if ``same`` holds."""
        for i, item in enumerate(old):
            if old_free[i]:
                j = new_names.get(item.name, -1)
                if j >= 0 and new_free[j] and item.name in old_names and same(item, new[j]):
                    old_free[i] = new_free[j] = False
                    pairs.append((i, j, "name"))

    old_names = _unique_names(old)
    unique_new = _unique_names(new)
    new_names = {it.name: j for j, it in enumerate(new) if it.name in unique_new}
    by_name(lambda a, b: a.key == b.key)
    by_key(lambda it: it.key, "structure")
    # Weights pin a layer down even where its neighbours changed (a Transpose dropped in front).
    by_key(lambda it: it.loose, "structure")
    if nodes:
        by_name(lambda a, b: a.op_types == b.op_types)
    else:
        by_name(lambda a, b: True)

    # Position: between the same matched neighbours, the same op types, in order.
    partner = {i: j for i, j, _ in pairs}
    anchor_old: List[int] = []
    last = -1
    for i in range(len(old)):
        if i in partner:
            last = partner[i]
        anchor_old.append(last)
    matched_new = {j for _, j, _ in pairs}
    waiting: Dict[Hashable, List[int]] = {}
    last = -1
    for j in range(len(new)):
        if j in matched_new:
            last = j
        elif new_free[j]:
            waiting.setdefault((last, tuple(new[j].op_types)), []).append(j)
    for pending in waiting.values():
        pending.reverse()
    for i in range(len(old)):
        if old_free[i]:
            queue = waiting.get((anchor_old[i], tuple(old[i].op_types)))
            if queue:
                j = queue.pop()
                old_free[i] = new_free[j] = False
                pairs.append((i, j, "position"))
    return pairs


def _unique_names(items: Sequence[Item]) -> set[str]:
    seen: Dict[str, int] = {}
    for item in items:
        seen[item.name] = seen.get(item.name, 0) + 1
    return {n for n, c in seen.items() if c == 1 and n}


def _changes(a: Item, b: Item) -> List[str]:
    out = []
    if a.name != b.name:
        out.append("name")
    if a.op_types != b.op_types:
        out.append("op_types")
    if a.params != b.params:
        out.append("params")
    if a.weight_shapes != b.weight_shapes:
        out.append("weights")
    if a.output_shape != b.output_shape:
        out.append("output_shape")
    if a.flops != b.flops:
        out.append("flops")
    return out


def _rows(old: List[Item], new: List[Item], pairs: List[Pair],
          nodes: bool) -> Tuple[List[RowDiff], List[Replacement]]:
    partner = {i: (j, how) for i, j, how in pairs}
    matched_new = {j: i for i, j, _ in pairs}
    removed = [i for i in range(len(old)) if i not in partner]
    added = [j for j in range(len(new)) if j not in matched_new]
    replaced: List[Replacement] = []
    taken_old: set[int] = set()
    taken_new: set[int] = set()
    if nodes and removed:
        replaced = _replacements(old, new, removed, added, matched_new, taken_old, taken_new)

    keyed: List[Tuple[float, int, RowDiff]] = []
    last = -1.0
    for i, item in enumerate(old):
        if i in partner:
            j, how = partner[i]
            last = float(j)
            if j in taken_new:
                continue
            changes = _changes(item, new[j])
            status = "changed" if [c for c in changes if c != "name"] else "renamed" if changes else "unchanged"
            keyed.append((float(j), 0, RowDiff(status, item, new[j], how, changes,
                                               _layout_only(item.output_shape, new[j].output_shape))))
        elif i not in taken_old:
            keyed.append((last + 0.5, i, RowDiff("removed", item, None)))
    for j in added:
        if j not in taken_new:
            keyed.append((float(j), 0, RowDiff("added", None, new[j])))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [row for _, _, row in keyed], replaced


def _replacements(old: List[Item], new: List[Item], removed: List[int], added: List[int],
                  matched_new: Mapping[int, int], taken_old: set[int],
                  taken_new: set[int]) -> List[Replacement]:
    """Fusions: a node of the second model that writes a tensor a removed node wrote in
    the first replaced the removed nodes between its inputs and that output (Conv +
    Relu -> FusedConv; Conv + BatchNormalization -> Conv, the Conv then matched too).
    Added nodes that took over the same removed nodes are one replacement."""
    removed_set = set(removed)
    producer: Dict[str, int] = {}
    for i, item in enumerate(old):
        for t in item.tensors_out:
            producer.setdefault(t, i)
    claimed: Dict[int, int] = {}            # removed old node -> the new node that replaced it
    regions: Dict[int, List[int]] = {}      # new node -> removed old nodes it took over
    for j, item in enumerate(new):
        seeds = [producer[t] for t in item.tensors_out if producer.get(t) in removed_set]
        if not seeds:
            continue
        boundary = set(item.tensors_in)
        region: List[int] = []
        seen: set[int] = set()
        stack = list(seeds)
        while stack:
            i = stack.pop()
            if i in claimed or i in seen:
                continue
            seen.add(i)
            region.append(i)
            for t in old[i].tensors_in:
                k = producer.get(t)
                if t not in boundary and k is not None and k in removed_set:
                    stack.append(k)
        for i in region:
            claimed[i] = j
        if region:
            regions[j] = region
    # A removed node no writer took over, that read what an added node reads, was replaced by it.
    readers: Dict[str, int] = {}
    for j in added:
        for t in new[j].tensors_in:
            readers.setdefault(t, j)
    for i in removed:
        if i not in claimed:
            for t in old[i].tensors_in:
                reader = readers.get(t)
                if reader is not None:
                    claimed[i] = reader
                    regions.setdefault(reader, []).append(i)
                    break
    out = []
    for j in sorted(regions):
        olds = sorted(regions[j])
        before = [old[i] for i in olds]
        if j in matched_new:     # the matched node absorbed the removed ones
            before = sorted(before + [old[matched_new[j]]], key=lambda it: it.index)
        taken_old.update(olds)
        taken_new.add(j)
        out.append(Replacement(before, [new[j]]))
    return out


__all__ = ["DIFF_SCHEMA", "Diff", "FieldChange", "Figure", "Item", "OpCount", "Replacement", "ReportFormatError",
           "RowDiff", "TensorChange", "diff_reports", "evaluate", "figures_of", "load_report", "match_items",
           "parse_dim", "relative_change", "validate_report"]
