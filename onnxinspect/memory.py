"""Activation memory: bytes of every runtime tensor and the peak over one execution.

Semantics (a model of a simple executor, not of any runtime's arena):

- An activation is a graph input or a node output that depends on a graph input.
  Weights (initializers, Constant outputs, anything folded from constants only) are not
  activations: they are counted once in the totals' parameter bytes.
- Nodes run in the report's topological order.  A node's outputs are allocated when it
  runs; a tensor is freed right after its last consumer has run (a subgraph's read of an
  outer tensor counts as a read by the If/Loop/Scan node).  Graph inputs are live from
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

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional

from .dims import Dim, Expr, is_int, sub, sum_dims, to_json
from .dtypes import element_bits
from .tensors import TensorInfo


@dataclass
class Memory:
    activation_bytes: Dim                 # every activation summed, as if none were freed
    peak_bytes: Dim                       # live bytes at the peak step; None if any size is unknown
    peak_node: Optional[str] = None       # label of the node running at the peak
    peak_index: Optional[int] = None
    live_at_peak: List[str] = field(default_factory=list)
    known_peak_bytes: Dim = 0             # the peak over tensors of known size: a lower bound
    unknown_tensors: List[str] = field(default_factory=list)
    evaluated_at: Dict[str, int] = field(default_factory=dict)  # symbol bindings the peak used

    def to_dict(self) -> dict:
        return {
            "activation_bytes": to_json(self.activation_bytes),
            "peak_bytes": to_json(self.peak_bytes),
            "peak_node": self.peak_node,
            "peak_index": self.peak_index,
            "live_at_peak": list(self.live_at_peak),
            "known_peak_bytes": to_json(self.known_peak_bytes),
            "unknown_tensors": list(self.unknown_tensors),
            "evaluated_at": dict(self.evaluated_at),
        }


def tensor_bytes(info: Optional[TensorInfo]) -> Dim:
    """dtype size × elements; symbolic for symbolic shapes, None when unknown."""
    if info is None or info.shape is None or not element_bits(info.dtype):
        return None
    size = info.size
    if size is None:
        return None
    bits = element_bits(info.dtype)
    return size * (bits // 8) if bits % 8 == 0 else (size * bits + 7) // 8


def analyse(report) -> Memory:
    """Activation bytes of every node's outputs and the peak live bytes (see module doc).

    Also sets ``node.output_bytes`` (its activation outputs) and ``node.live_bytes``
    (everything live while it runs) on the report's top-level nodes.
    """
    from .api import iter_nodes

    nodes = report.nodes
    sizes: Dict[str, Dim] = {}
    for t in report.inputs:
        if t.name and not t.source:
            sizes[t.name] = tensor_bytes(t)
    for node in nodes:
        for t in node.outputs:
            if t.name and not t.const:
                sizes[t.name] = tensor_bytes(t)

    last_use: Dict[str, int] = {}
    for step, node in enumerate(nodes):
        for inner in iter_nodes([node]):
            for t in inner.inputs:
                if t is not None and t.name in sizes:
                    last_use[t.name] = step
    end = len(nodes)
    for t in report.outputs:
        if t.name in sizes:
            last_use[t.name] = end

    # Graph inputs are live from the start (an unread one never is).
    live = {t.name: sizes[t.name] for t in report.inputs if t.name in last_use}
    frees: Dict[int, List[str]] = {}
    for name, step in last_use.items():
        frees.setdefault(step, []).append(name)
    steps = []
    for step, node in enumerate(nodes):
        produced = [t.name for t in node.outputs if t.name in sizes]
        node.output_bytes = sum_dims(sizes[n] for n in produced)
        for name in produced:
            live[name] = sizes[name]
        node.live_bytes = sum_dims(live.values())
        steps.append((step, list(live)))
        for name in produced:
            if name not in last_use:
                del live[name]  # never read: freed as soon as it is written
        for name in frees.get(step, ()):
            live.pop(name, None)

    unknown = [name for name, size in sizes.items() if size is None]
    known = {name: size for name, size in sizes.items() if size is not None}
    memory = Memory(activation_bytes=sum_dims(sizes.values()) if sizes else 0, peak_bytes=None,
                    unknown_tensors=unknown)
    if not steps:
        memory.peak_bytes = memory.known_peak_bytes = sum_dims(known.values()) if known else 0
        return memory
    totals = [sum_dims(known[n] for n in names if n in known) for _, names in steps]
    best, bindings = _peak(totals)
    memory.peak_index = nodes[best].index
    memory.peak_node = nodes[best].name or f"{nodes[best].op_type}_{nodes[best].index}"
    memory.live_at_peak = steps[best][1]
    memory.evaluated_at = bindings
    memory.known_peak_bytes = _subs(totals[best], bindings)
    if not unknown:
        memory.peak_bytes = memory.known_peak_bytes
    return memory


def _peak(totals: List[Dim]):
    """Index of the largest total and the bindings needed to say so ({} when exact)."""
    symbols = set()
    for t in totals:
        if isinstance(t, Expr):
            symbols |= t.symbols()
    ones = {s: 1 for s in symbols}
    values = [_subs(t, ones) for t in totals]
    best = max(range(len(totals)), key=lambda i: values[i])
    if not symbols or all(_dominates(totals[best], t) for t in totals):
        return best, {}
    return best, ones


def _dominates(a: Dim, b: Dim) -> bool:
    """``a >= b`` for all non-negative symbol values: every coefficient of a - b is >= 0."""
    diff = sub(a, b)
    if is_int(diff):
        return diff >= 0
    return all(coeff >= 0 for _, coeff in diff.terms)


def _subs(d: Dim, bindings: Mapping[str, int]) -> Dim:
    return d.subs(bindings) if isinstance(d, Expr) and bindings else d
