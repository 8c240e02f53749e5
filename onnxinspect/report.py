"""Plain data handed from the walker to the renderers; ``to_dict()`` is the JSON contract.

Schema "onnxinspect/1": the keys documented in docs/json.md are stable; fields added
later are additions, never renames.  Every stage of the pipeline (walk, analyse) fills
these classes; renderers only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from .dims import Dim, shape_to_json, sum_dims, to_json
from .tensors import TensorInfo

SCHEMA = "onnxinspect/1"
# The kinds of a --check comparison, in the order a tensor is classified (analyse/check.py).
CHECK_KINDS = ("conflict", "ours_unknown", "onnx_unknown", "symbolic", "naming", "agree")


@dataclass
class ModelInfo:
    path: Optional[str]
    ir_version: int
    opsets: Dict[str, int]
    producer: str
    producer_version: str = ""
    graph_name: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return {"path": self.path, "ir_version": self.ir_version, "opsets": dict(self.opsets),
                "producer": self.producer, "producer_version": self.producer_version,
                "graph_name": self.graph_name}


@dataclass
class AttributeParams:
    """Learned values a node holds in an attribute rather than in a weight tensor (a
    tree's thresholds, a linear model's coefficients), named ``<node>.<attribute>``."""

    name: str
    dtype: str
    count: int
    what: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "count": self.count, "what": self.what}


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
    attribute_params: List[AttributeParams] = field(default_factory=list)  # counted in params too
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
    # Packed quantized weights counted here: name -> (logical elements, logical dtype)
    packed_params: Dict[str, Tuple[int, str]] = field(default_factory=dict)
    precision: Optional[str] = None       # "W4 A32", "W8 A8 (QDQ)", "fp16" (analyse/precision.py)

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
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
        if self.packed_params:
            out["packed_params"] = {k: {"elements": n, "dtype": d} for k, (n, d) in self.packed_params.items()}
        if self.precision is not None:
            out["precision"] = self.precision
        if self.explanations:
            out["explain"] = [{"kind": k, "text": t} for k, t in self.explanations]
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.attribute_params:
            out["attribute_params"] = [p.to_dict() for p in self.attribute_params]
        if self.subgraphs:
            out["subgraphs"] = {k: [n.to_dict() for n in v] for k, v in self.subgraphs.items()}
        return out


def iter_nodes(nodes: Iterable[NodeReport]) -> Iterator[NodeReport]:
    """Every node, subgraph bodies included (depth first)."""
    for node in nodes:
        yield node
        for body in node.subgraphs.values():
            yield from iter_nodes(body)


def body_cost(nodes: Iterable[NodeReport]) -> Tuple[Dim, Dim]:
    """(MACs, FLOPs) of one pass over ``nodes``; unknown if any node's cost is."""
    nodes = list(nodes)
    flops = sum_dims(n.flops for n in nodes)
    macs = None if flops is None else sum_dims(n.macs or 0 for n in nodes)
    return macs, flops


@dataclass
class DataDependent:
    """A size known only at run time (how many elements NonZero finds, TopK's run-time
    K, a Loop's data-dependent trip count): a named symbol, the node that introduced it
    and an upper bound where the op implies one (``None``: unbounded)."""

    symbol: str
    node: str            # the node's name, or "#<index>" (indices of enclosing nodes first)
    op_type: str
    bound: Dim = None
    value: Optional[int] = None   # bound by --dim: the dims downstream use this number

    def to_dict(self) -> Dict[str, Any]:
        return {"symbol": self.symbol, "node": self.node, "op_type": self.op_type,
                "bound": to_json(self.bound), "value": self.value}


@dataclass
class GraphWalk:
    """The outcome of walking one graph (the main graph or a subgraph body)."""

    nodes: List[NodeReport]
    tensors: Dict[str, TensorInfo]
    inputs: List[TensorInfo]
    outputs: List[TensorInfo]
    warnings: List[str] = field(default_factory=list)


def _tensor_dict(t: Optional[TensorInfo]) -> Dict[str, Any]:
    if t is None:  # an omitted optional input
        return {"name": "", "dtype": None, "shape": None, "type": "tensor"}
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

    def to_dict(self) -> Dict[str, Any]:
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
class Memory:
    """Activation bytes and their peak over one execution (analyse/memory.py)."""

    activation_bytes: Dim                 # every activation summed, as if none were freed
    peak_bytes: Dim                       # live bytes at the peak step; None if any size is unknown
    peak_node: Optional[str] = None       # label of the node running at the peak
    peak_index: Optional[int] = None
    live_at_peak: List[Tuple[str, Dim]] = field(default_factory=list)  # (tensor, bytes)
    known_peak_bytes: Dim = 0             # the peak over tensors of known size: a lower bound
    unknown_tensors: List[str] = field(default_factory=list)
    evaluated_at: Dict[str, int] = field(default_factory=dict)  # symbol bindings the peak used

    def to_dict(self) -> Dict[str, Any]:
        return {
            "activation_bytes": to_json(self.activation_bytes),
            "peak_bytes": to_json(self.peak_bytes),
            "peak_node": self.peak_node,
            "peak_index": self.peak_index,
            "live_at_peak": [{"name": n, "bytes": to_json(b)} for n, b in self.live_at_peak],
            "known_peak_bytes": to_json(self.known_peak_bytes),
            "unknown_tensors": list(self.unknown_tensors),
            "evaluated_at": dict(self.evaluated_at),
        }


@dataclass
class LayerRow:
    """One framework layer (or one unscoped node): its nodes and their summed cost."""

    name: str
    nodes: List[NodeReport] = field(default_factory=list)
    op_types: List[str] = field(default_factory=list)   # distinct, in order of appearance
    output: Optional[TensorInfo] = None                  # first output of the layer's last node
    params: int = 0
    flops: Dim = 0
    flops_share: Optional[float] = None                  # of the total FLOPs
    converter: bool = False                              # a layout node the converter inserted

    def to_dict(self) -> Dict[str, Any]:
        output = None if self.output is None else {
            "name": self.output.name, "dtype": self.output.dtype, "shape": shape_to_json(self.output.shape)}
        return {"name": self.name, "op_types": list(self.op_types), "nodes": [n.index for n in self.nodes],
                "output": output, "params": self.params, "flops": to_json(self.flops),
                "flops_share": self.flops_share, "converter": self.converter}


@dataclass
class Disagreement:
    """One tensor on which --check's two sides differ."""

    tensor: str
    kind: str
    ours: Optional[List[Union[int, str, None]]]   # JSON dims, None = unknown shape
    onnx: Optional[List[Union[int, str, None]]]
    ours_dtype: Optional[str] = None
    onnx_dtype: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return {"tensor": self.tensor, "kind": self.kind, "ours": self.ours, "onnx": self.onnx,
                "ours_dtype": self.ours_dtype, "onnx_dtype": self.onnx_dtype}


@dataclass
class CheckResult:
    """The --check comparison with onnx.shape_inference (analyse/check.py)."""

    counts: Dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECK_KINDS, 0))
    disagreements: List[Disagreement] = field(default_factory=list)
    error: Optional[str] = None        # onnx's inference failed; nothing compared
    symbols: List[str] = field(default_factory=list)   # input symbols left unbound

    @property
    def compared(self) -> int:
        return sum(self.counts.values())

    @property
    def conflicts(self) -> List[Disagreement]:
        return [d for d in self.disagreements if d.kind == "conflict"]

    def to_dict(self) -> Dict[str, Any]:
        return {"against": "onnx.shape_inference(data_prop=True)", "compared": self.compared,
                "counts": dict(self.counts), "error": self.error, "unbound_symbols": list(self.symbols),
                "disagreements": [d.to_dict() for d in self.disagreements]}


@dataclass
class Precision:
    """Weight precision and size against fp32 (analyse/precision.py)."""

    labels: Dict[str, int]              # node precision label -> nodes
    weight_bytes: int                   # the parameters as stored (packed blobs at their size)
    metadata_bytes: int                 # scales and zero points of the quantized ops
    fp32_bytes: int                     # the same logical parameters at fp32
    quantized: bool
    compression: Optional[float]        # fp32_bytes / (weight_bytes + metadata_bytes)

    def to_dict(self) -> Dict[str, Any]:
        return {"labels": dict(self.labels), "weight_bytes": self.weight_bytes,
                "metadata_bytes": self.metadata_bytes, "fp32_bytes": self.fp32_bytes,
                "quantized": self.quantized, "compression": self.compression}


@dataclass
class KVCache:
    """The key/value cache of a decoder and its prefill / decode cost (analyse/kv_cache.py)."""

    layers: int
    kv_heads: Dim
    head_dim: Dim
    dtype: Optional[str]
    tensors: List[str]
    bytes_per_token: Dim                # per sequence: Σ kv_heads·head_dim·dtype bytes
    present_bytes: Dim                  # the present tensors, in the model's symbols
    past_symbol: Optional[str]
    new_tokens_symbol: Optional[str]
    prefill_flops: Dim                  # past length 0
    decode_flops: Dim                   # one new token
    prefill_bytes_read: Dim
    decode_bytes_read: Dim

    def to_dict(self) -> Dict[str, Any]:
        return {"layers": self.layers, "kv_heads": to_json(self.kv_heads), "head_dim": to_json(self.head_dim),
                "dtype": self.dtype, "tensors": list(self.tensors),
                "bytes_per_token": to_json(self.bytes_per_token), "present_bytes": to_json(self.present_bytes),
                "past_symbol": self.past_symbol, "new_tokens_symbol": self.new_tokens_symbol,
                "prefill": {"flops": to_json(self.prefill_flops), "bytes_read": to_json(self.prefill_bytes_read)},
                "decode": {"flops": to_json(self.decode_flops), "bytes_read": to_json(self.decode_bytes_read)}}


@dataclass
class Report:
    model: ModelInfo
    inputs: List[TensorInfo]
    outputs: List[TensorInfo]
    nodes: List[NodeReport]
    totals: Totals
    warnings: List[str] = field(default_factory=list)
    memory: Optional[Memory] = None               # activation bytes and peak (analyse/memory.py)
    layers: Optional[List[LayerRow]] = None       # the --by layer rows (analyse/layers.py)
    check: Optional[CheckResult] = None           # --check's comparison (analyse/check.py)
    data_dependent: List[DataDependent] = field(default_factory=list)  # run-time sizes (walk/symbols.py)
    precision: Optional[Precision] = None         # weight precision and size (analyse/precision.py)
    kv_cache: Optional[KVCache] = None            # a decoder's key/value cache (analyse/kv_cache.py)

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "schema": SCHEMA,
            "model": self.model.to_dict(),
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "nodes": [n.to_dict() for n in self.nodes],
            "totals": self.totals.to_dict(),
            "warnings": list(self.warnings),
            "data_dependent": [d.to_dict() for d in self.data_dependent],
        }
        if self.memory is not None:
            out["memory"] = self.memory.to_dict()
        if self.layers is not None:
            out["layers"] = [row.to_dict() for row in self.layers]
        if self.check is not None:
            out["check"] = self.check.to_dict()
        if self.precision is not None:
            out["precision"] = self.precision.to_dict()
        if self.kv_cache is not None:
            out["kv_cache"] = self.kv_cache.to_dict()
        return out

    def node(self, name: str) -> NodeReport:
        """The node called ``name`` (a convenience for library users and tests)."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)
