"""Plain data handed from the walker to the renderers; ``to_dict()`` is the JSON contract.

Schema "onnxinspect/1": the keys documented in the README are stable; fields added
later are additions, never renames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from .dims import Dim, to_json
from .tensors import TensorInfo

if TYPE_CHECKING:
    from .memory import Memory

SCHEMA = "onnxinspect/1"


@dataclass
class ModelInfo:
    path: Optional[str]
    ir_version: int
    opsets: Dict[str, int]
    producer: str
    producer_version: str = ""
    graph_name: str = ""

    def to_dict(self) -> dict:
        return {"path": self.path, "ir_version": self.ir_version, "opsets": dict(self.opsets),
                "producer": self.producer, "producer_version": self.producer_version,
                "graph_name": self.graph_name}


@dataclass
class NodeReport:
    index: int
    name: str
    op_type: str
    domain: str
    inputs: List[Optional[TensorInfo]]
    outputs: List[TensorInfo]
    params: int = 0
    param_inputs: List[str] = field(default_factory=list)   # the weights counted here
    shared_params: List[str] = field(default_factory=list)  # of those, weights other nodes use too
    macs: Dim = None
    flops: Dim = None
    known_op: bool = True
    explanations: List[Tuple[str, str]] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    subgraphs: Dict[str, List["NodeReport"]] = field(default_factory=dict)
    name_scopes: Optional[str] = None     # torch dynamo exporter's module path (metadata), for layers.py
    flops_share: Optional[float] = None   # of the total FLOPs (cost.annotate)
    output_bytes: Dim = None              # activation bytes it writes (memory.analyse)
    live_bytes: Dim = None                # activation bytes live while it runs

    def to_dict(self) -> dict:
        out = {
            "index": self.index,
            "name": self.name,
            "op_type": self.op_type,
            "domain": self.domain,
            "inputs": [_tensor_dict(t) for t in self.inputs],
            "outputs": [_tensor_dict(t) for t in self.outputs],
            "params": self.params,
            "flops": to_json(self.flops),
            "macs": to_json(self.macs),
            "param_inputs": list(self.param_inputs),
            "shared_params": list(self.shared_params),
            "known_op": self.known_op,
            "flops_share": self.flops_share,
            "output_bytes": to_json(self.output_bytes),
            "live_bytes": to_json(self.live_bytes),
        }
        if self.explanations:
            out["explain"] = [{"kind": k, "text": t} for k, t in self.explanations]
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.subgraphs:
            out["subgraphs"] = {k: [n.to_dict() for n in v] for k, v in self.subgraphs.items()}
        return out


def iter_nodes(nodes: List[NodeReport]):
    """Every node, subgraph bodies included (depth first)."""
    for node in nodes:
        yield node
        for body in node.subgraphs.values():
            yield from iter_nodes(body)


def _tensor_dict(t: Optional[TensorInfo]) -> dict:
    if t is None:  # an omitted optional input
        return {"name": "", "dtype": None, "shape": None}
    return t.to_dict()


@dataclass
class Totals:
    params: int
    unique_params: int
    param_bytes: int
    nodes: int
    params_by_dtype: Dict[str, int] = field(default_factory=dict)
    bytes_by_dtype: Dict[str, int] = field(default_factory=dict)
    op_histogram: Dict[str, int] = field(default_factory=dict)
    macs: Dim = None
    flops: Dim = None
    unknown_ops: List[str] = field(default_factory=list)
    flops_known: Dim = None       # the sum over nodes whose cost is known (cost.annotate)
    macs_known: Dim = None
    unknown_flop_nodes: int = 0   # nodes whose cost is unknown

    def to_dict(self) -> dict:
        return {
            "params": self.params,
            "unique_params": self.unique_params,
            "param_bytes": self.param_bytes,
            "nodes": self.nodes,
            "params_by_dtype": dict(self.params_by_dtype),
            "bytes_by_dtype": dict(self.bytes_by_dtype),
            "op_histogram": dict(self.op_histogram),
            "macs": to_json(self.macs),
            "flops": to_json(self.flops),
            "unknown_ops": list(self.unknown_ops),
            "flops_known": to_json(self.flops_known),
            "macs_known": to_json(self.macs_known),
            "unknown_flop_nodes": self.unknown_flop_nodes,
        }


@dataclass
class Report:
    model: ModelInfo
    inputs: List[TensorInfo]
    outputs: List[TensorInfo]
    nodes: List[NodeReport]
    totals: Totals
    warnings: List[str] = field(default_factory=list)
    memory: Optional["Memory"] = None  # activation bytes and peak (memory.analyse)

    def to_dict(self) -> dict:
        out = {
            "schema": SCHEMA,
            "model": self.model.to_dict(),
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "nodes": [n.to_dict() for n in self.nodes],
            "totals": self.totals.to_dict(),
            "warnings": list(self.warnings),
        }
        if self.memory is not None:
            out["memory"] = self.memory.to_dict()
        return out

    def node(self, name: str) -> NodeReport:
        """The node called ``name`` (a convenience for library users and tests)."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)
