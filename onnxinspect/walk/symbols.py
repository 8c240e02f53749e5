"""Named symbols for sizes only known at run time (data-dependent sizes).

NonZero, Unique, Compress with a run-time condition, TopK with a run-time K,
NonMaxSuppression, Range with run-time limits and a Loop's data-dependent trip count
each give a fresh symbol instead of an unknown dim, so that the shapes, FLOPs and
bytes downstream are expressions in it.  One registry per inspection, shared by every
graph, body and function call walked.

A symbol is named after the op and the node's index (``nonzero_3``; a node inside a
body or a function call adds its index after the enclosing nodes', ``topk_5_2``).  Two
requests with the same key (the enclosing nodes, the op, and what decides the size:
the same input tensors and attributes) get the same symbol: a body walked again (the
fixed-point passes of Loop/Scan) and two NonZero over one tensor agree.  A symbol the
caller bound (``--dim nonzero_3=10``) is that number everywhere.
"""

from __future__ import annotations

from typing import Dict, Hashable, Iterable, List, Mapping, Set, Tuple

from ..dims import Dim, Expr, is_int, min_dim, sym
from ..report import DataDependent


class DataDependentSymbols:
    def __init__(self, bindings: Mapping[str, int]) -> None:
        self.bindings = bindings
        self.entries: List[DataDependent] = []
        self._by_key: Dict[Hashable, DataDependent] = {}
        self._taken: Set[str] = set()
        self._scope: Dict[str, Tuple[int, ...]] = {}   # symbol -> indices of the nodes enclosing its node

    def reserve(self, names: Iterable[str]) -> None:
        """Names a data-dependent symbol must not take (the inputs' symbols)."""
        self._taken.update(names)

    def get(self, key: Hashable, base: str, node: str, op_type: str, bound: Dim,
            scope: Tuple[int, ...] = ()) -> Dim:
        """The dim for ``key``: its symbol, or the number the caller bound it to.
        ``scope``: the indices of the nodes whose bodies hold the symbol's node."""
        entry = self._by_key.get(key)
        if entry is None:
            name, n = base, 1
            while name in self._taken:
                n += 1
                name = f"{base}_v{n}"
            self._taken.add(name)
            self._scope[name] = scope
            entry = DataDependent(name, node, op_type, bound, self.bindings.get(name))
            self._by_key[key] = entry
            self.entries.append(entry)
        elif entry.bound is None:
            entry.bound = bound
        elif bound is not None:   # a merged symbol obeys every bound: the smaller, if decidable
            tighter = min_dim(entry.bound, bound)
            entry.bound = entry.bound if tighter is None else tighter
        return entry.value if entry.value is not None else sym(entry.symbol)

    def inner_bound(self, dim: Dim, within: Tuple[int, ...]) -> Dim:
        """``dim``, or, while it is a symbol made inside the bodies of node ``within`` (not
        visible outside them), that symbol's bound (None: unbounded)."""
        while isinstance(dim, Expr):
            entry = next((e for e in self.entries if sym(e.symbol) == dim), None)
            if entry is None or self._scope[entry.symbol][:len(within)] != within:
                break
            dim = entry.bound
        return dim

    def names(self) -> Tuple[str, ...]:
        return tuple(e.symbol for e in self.entries)

    def over_bound(self) -> List[DataDependent]:
        """Entries the caller bound to a number larger than their (numeric) bound."""
        return [e for e in self.entries
                if e.value is not None and is_int(e.bound) and e.value > e.bound]
