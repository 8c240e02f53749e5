"""Activation memory: bytes of every runtime tensor and the peak over one execution.

Semantics (a model of a simple executor, not of any runtime's arena):

- An activation is a graph input or a node output that depends on a graph input.
  Weights (initializers, Constant outputs, anything folded from constants only) are not
  activations: they are counted once in the totals' parameter bytes.
- Nodes run in the report's topological order.  A node's outputs are allocated when it
  runs; a tensor is freed right after its last consumer has run (a subgraph's read of an
  outer tensor counts as a read by the If/Loop/Scan node, whose body temporaries are not
  modelled: only its outputs are counted).  Graph inputs are live from
  the start until their last use, graph outputs until the end.  While a node runs its
  inputs and outputs are live together (no in-place reuse).
- Sizes are symbolic when the batch is: the peak is exact when one step's live bytes
  dominate every other step's for every value of the symbols (coefficient-wise, the
  usual case of one batch symbol).  Otherwise the peak is evaluated with every symbol
  set to 1 and says so (``evaluated_at``).
- A tensor of unknown shape or dtype makes the bytes and the peak unknown (``None``);
  the peak over the known tensors is still given as a lower bound (``known_peak_bytes``).
"""

from __future__ import annotations

import enum
from typing import Dict, Final, List, Mapping, Optional, Tuple, cast

from ..dims import Dim, Expr, Monomial, sum_dims
from ..dtypes import element_bits
from ..report import Memory, Report, iter_nodes
from ..tensors import OptionalInfo, SequenceInfo, TensorInfo


def tensor_bytes(info: Optional[TensorInfo]) -> Dim:
    """dtype size × elements; symbolic for symbolic shapes, None when unknown.  A
    sequence: its positions' bytes added up (its length times its element's when they
    are not told apart); an optional known to hold a value: that value's bytes."""
    if info is not None and info.kind != "tensor":
        return _container_bytes(info)
    if info is None or info.shape is None:
        return None
    bits = element_bits(info.dtype)
    if not bits:
        return None
    size = info.size
    if size is None:
        return None
    return size * (bits // 8) if bits % 8 == 0 else (size * bits + 7) // 8


def _container_bytes(info: TensorInfo) -> Dim:
    if isinstance(info, SequenceInfo):
        if info.items is not None:
            return sum_dims([tensor_bytes(i) for i in info.items]) if info.items else 0
        each = tensor_bytes(info.elem)
        return None if each is None or info.length is None else info.length * each
    if isinstance(info, OptionalInfo) and info.present is not None:
        return tensor_bytes(info.elem) if info.present else 0
    return None


def analyse_memory(report: Report) -> Memory:
    """Activation bytes of every node's outputs and the peak live bytes (see module doc).

    Also sets ``node.output_bytes`` (its activation outputs) and ``node.live_bytes``
    (everything live while it runs, None if any of it is unknown) on the top-level nodes.
    """
    nodes = report.nodes
    sizes = _activation_sizes(report)
    last_use = _last_uses(report, sizes)
    frees: Dict[int, List[str]] = {}
    for name, step in last_use.items():
        frees.setdefault(step, []).append(name)

    symbols = set()
    for size in sizes.values():
        if isinstance(size, Expr):
            symbols |= size.symbols()
    ones = {s: 1 for s in sorted(symbols)}   # sorted: a set of str iterates in a per-process order
    live = _Live(ones)
    for t in report.inputs:  # graph inputs are live from the start (an unread one never is)
        if t.name in last_use:
            live.add(t.name, sizes[t.name])
    steps: List[Dict[Monomial, int]] = []   # known live bytes of every step, as {monomial: coefficient}
    best: Optional[int] = None
    best_value = 0   # read only once best is set
    best_live: List[Tuple[str, Dim]] = []
    for step, node in enumerate(nodes):
        produced = [t.name for t in node.outputs if t.name in sizes]
        node.output_bytes = sizes[produced[0]] if len(produced) == 1 else sum_dims(sizes[n] for n in produced)
        for name in produced:
            live.add(name, sizes[name])
        node.live_bytes = live.total()
        steps.append(dict(live.terms))
        if best is None or live.at_ones > best_value:
            best, best_value, best_live = step, live.at_ones, list(live.names.items())
        for name in produced:
            if name not in last_use:
                live.remove(name)  # never read: freed as soon as it is written
        for name in frees.get(step, ()):
            live.remove(name)

    unknown = [name for name, size in sizes.items() if size is None]
    memory = Memory(activation_bytes=sum_dims(sizes.values()), peak_bytes=None, unknown_tensors=unknown)
    if best is None:  # no nodes: the inputs are all there is
        memory.known_peak_bytes = sum_dims(s for s in sizes.values() if s is not None)
    else:
        exact = all(_dominates(steps[best], other) for other in steps)
        peak = Expr(steps[best])._normal()
        memory.evaluated_at = {} if exact else ones
        memory.known_peak_bytes = peak if exact else best_value
        memory.peak_index = nodes[best].index
        memory.peak_node = nodes[best].name or f"{nodes[best].op_type}_{nodes[best].index}"
        memory.live_at_peak = best_live if exact else [(n, _at(size, ones)) for n, size in best_live]
    if not unknown:
        memory.peak_bytes = memory.known_peak_bytes
    return memory


def _activation_sizes(report: Report) -> Dict[str, Dim]:
    sizes: Dict[str, Dim] = {}
    # (shape, dtype) -> bytes: a deep network repeats a few shapes
    known: Dict[Tuple[Tuple[Dim, ...], Optional[str]], Dim] = {}
    for t in report.inputs:
        if t.name and not t.source:
            sizes[t.name] = tensor_bytes(t)
    for node in report.nodes:
        for t in node.outputs:
            if t.name and not t.const:
                if type(t.shape) is not tuple:
                    sizes[t.name] = tensor_bytes(t)
                    continue
                key = (t.shape, t.dtype)
                size = known.get(key, _MISSING)
                if size is _MISSING:
                    size = known[key] = tensor_bytes(t)
                sizes[t.name] = size
    return sizes


class _Missing(enum.Enum):
    MISSING = 0


_MISSING: Final = _Missing.MISSING


def _last_uses(report: Report, sizes: Mapping[str, Dim]) -> Dict[str, int]:
    """Step of each activation's last read; graph outputs are read "after the end"."""
    last_use: Dict[str, int] = {}
    for step, node in enumerate(report.nodes):
        for inner in iter_nodes([node]) if node.subgraphs else (node,):  # subgraph reads count here
            for t in inner.inputs:
                if t is not None and t.name in sizes:
                    last_use[t.name] = step
    for t in report.outputs:
        if t.name in sizes:
            last_use[t.name] = len(report.nodes)
    return last_use


class _Live:
    """The live set and its byte total, kept as polynomial terms so that each step
    costs only its allocations and frees (graphs of thousands of nodes)."""

    def __init__(self, ones: Mapping[str, int]) -> None:
        self.ones = ones
        self.names: Dict[str, Dim] = {}
        self.terms: Dict[Monomial, int] = {}
        self.at_ones = 0       # the known total with every symbol = 1
        self.unknown = 0       # live tensors of unknown size
        self.evaluated: Dict[Expr, int] = {}   # size -> its value with every symbol = 1

    def add(self, name: str, size: Dim) -> None:
        self.names[name] = size
        self._count(size, 1)

    def remove(self, name: str) -> None:
        if name in self.names:
            self._count(self.names.pop(name), -1)

    def _count(self, size: Dim, sign: int) -> None:
        if size is None:
            self.unknown += sign
        elif isinstance(size, Expr):
            for mono, coeff in size.terms:
                self.terms[mono] = self.terms.get(mono, 0) + sign * coeff
            value = self.evaluated.get(size)
            if value is None:  # equal sizes recur in every block of a deep network
                # ones binds every symbol, so the value is a number
                value = self.evaluated[size] = cast(int, _at(size, self.ones))
            self.at_ones += sign * value
        else:
            self.terms[()] = self.terms.get((), 0) + sign * size
            self.at_ones += sign * size

    def total(self) -> Dim:
        return None if self.unknown else Expr(self.terms)._normal()


def _at(size: Dim, bindings: Mapping[str, int]) -> Dim:
    return size.subs(bindings) if isinstance(size, Expr) else size


def _dominates(a: Mapping[Monomial, int], b: Mapping[Monomial, int]) -> bool:
    """``a >= b`` for all non-negative symbol values: every coefficient of a - b is >= 0
    (floor atoms of non-negative symbols are non-negative too)."""
    return all(a.get(m, 0) >= b.get(m, 0) for m in a.keys() | b.keys())
