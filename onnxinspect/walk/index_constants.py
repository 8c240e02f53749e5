"""Integer constants that only index are not parameters.

An integer constant read through a data slot is counted as a parameter by
:meth:`Walker._count_params` unless its node folds.  Some such constants never meet
the data: BERT's ``position_ids`` buffer is Sliced to the sequence length and used as
Gather indices; ConvNeXt / Swin add an int64 offset table to indices before the
relative-position-bias Gather; box decoding concatenates int64 one-element constants
into a Reshape shape.  After a graph is walked, an integer constant counted at a node
is uncounted when the node only carries indices on (:data:`CARRIES`: Slice, Add,
Concat, Gather's table, Unsqueeze, Reshape, Cast, ...) and every path from the node's
outputs ends in an index or shape slot (a rule's ``meta_inputs``: Gather/ScatterND
indices, Slice starts/ends, Reshape's shape, TopK's K, ...) through such nodes only.  A
path that reaches a data slot, a graph output or a subgraph body keeps it a parameter.
One pass from the last node to the first: linear in the graph's size.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Iterable, List, Mapping, Set, Tuple

from ..dims import is_int
from ..dtypes import INTEGER_TYPES
from ..ops.registry import STANDARD_DOMAINS, lookup
from ..report import NodeReport, iter_nodes

_ANY: FrozenSet[int] = frozenset(range(1 << 16))   # every input slot (variadic Concat, Max, ...)
_FIRST = frozenset((0,))

#: ops that pass an index through (slot -> output): their outputs are indices if the input is
CARRIES: Mapping[str, FrozenSet[int]] = {
    **dict.fromkeys(("Slice", "Gather", "GatherElements", "GatherND", "Unsqueeze", "Squeeze", "Reshape",
                     "Flatten", "Expand", "Tile", "Transpose", "Identity", "Cast", "Split"), _FIRST),
    **dict.fromkeys(("Concat", "Add", "Sub", "Mul", "Div", "Mod", "Neg", "Abs", "Max", "Min"), _ANY),
    "Where": frozenset((1, 2)),
}


def uncount_index_constants(reports: List[NodeReport], graph_outputs: Iterable[str]) -> None:
    """Remove from ``reports`` (one graph's nodes, in walk order) the integer constants
    that only index (see the module docstring)."""
    uses: Dict[str, List[Tuple[NodeReport, int]]] = {}
    escapes: Set[str] = set(graph_outputs)
    for report in reports:
        for slot, info in enumerate(report.inputs):
            if info is not None and info.name:
                uses.setdefault(info.name, []).append((report, slot))
        for body in report.subgraphs.values():   # what a body reads from this graph is used there
            escapes.update(i.name for node in iter_nodes(body) for i in node.inputs if i is not None)

    index_only: Dict[str, bool] = {}
    for report in reversed(reports):   # every consumer of an output comes after its producer
        for out in report.outputs:
            if out.name:
                index_only[out.name] = out.name not in escapes and _only_indexes(uses.get(out.name, ()),
                                                                                  index_only)

    for report in reports:
        if not report.param_inputs or not _carries_to_indices(report, index_only):
            continue
        carried = CARRIES[report.op_type]
        for name in list(report.param_inputs):
            slots = [s for s, i in enumerate(report.inputs) if i is not None and i.name == name]
            info = report.inputs[slots[0]]
            if (info is not None and info.dtype in INTEGER_TYPES and is_int(info.size)
                    and all(s in carried for s in slots)):
                report.param_inputs.remove(name)
                report.params -= info.size


def _carries_to_indices(report: NodeReport, index_only: Mapping[str, bool]) -> bool:
    named = [o.name for o in report.outputs if o.name]
    return (report.domain in STANDARD_DOMAINS and report.op_type in CARRIES and bool(named)
            and all(index_only.get(name, False) for name in named))


def _only_indexes(users: Iterable[Tuple[NodeReport, int]], index_only: Mapping[str, bool]) -> bool:
    found = False
    for user, slot in users:
        found = True
        rule = lookup(user.domain, user.op_type)
        if rule is not None and slot in rule.meta_inputs:
            continue
        if not (_carries_to_indices(user, index_only) and slot in CARRIES[user.op_type]):
            return False
    return found
