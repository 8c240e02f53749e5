"""``verify --layers``: every Keras layer's output against the ONNX tensor it maps to.

The reconciliation (:mod:`.reconcile`) names, for each Keras layer, the ONNX nodes tf2onnx
made for it; the layer's ONNX tensor is the first output of the last of those nodes.  Those
tensors become extra graph outputs of a temporary in-memory copy of the model (the user's
file is only read), a ``keras.Model`` is built whose outputs are the layers' outputs, both
run on the same seeded inputs, and the ONNX side is transposed back from channels-first
(N, C, H, W) to Keras's (N, H, W, C) where the reconciliation says ``channels-first``.

Memory is bounded by comparing in chunks: a few layers at a time, as many as fit in
``chunk_bytes`` (both sides' tensors together), each chunk one onnxruntime run asking only
for its outputs and one Keras call of a sub-model ending at those layers.  The peak bytes of
compared tensors held at once and the time taken are reported.

A layer without an ONNX tensor of its own is listed with the reason: InputLayer, Dropout
(removed), a BatchNormalization folded into the convolution before it (that convolution's
tensor then holds the BatchNormalization's output, and is compared with it).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .reconcile import BATCH_NORM, Reconciliation, _producer
from .verify import (
    Comparison,
    InputSpec,
    VerifyError,
    captured_fd2,
    compare,
    create_session,
    full_reason,
    match_inputs,
    onnx_inputs_for,
    seeded_inputs,
    tolerance,
)

DEFAULT_CHUNK_BYTES = 256 * 2 ** 20


@dataclass
class LayerTarget:
    layer: str
    kind: str
    tensor: Optional[str]        # ONNX tensor compared with the Keras output of ``source``
    source: Optional[str]        # the Keras layer whose output is compared (itself, or the BN folded in)
    layout: str
    reason: str = ""             # why there is no comparison
    nbytes: int = 0              # both sides' bytes at the batch run


@dataclass
class LayerRow:
    layer: str
    kind: str
    tensor: Optional[str]
    layout: str
    comparison: Optional[Comparison] = None
    reason: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return {"layer": self.layer, "class": self.kind, "onnx_tensor": self.tensor, "layout": self.layout,
                "compared": self.comparison is not None, "reason": self.reason or None,
                "passed": None if self.comparison is None else self.comparison.passed,
                "comparison": None if self.comparison is None else self.comparison.to_dict()}


@dataclass
class LayersResult:
    batch: int
    chunk_bytes: int
    rows: List[LayerRow] = field(default_factory=list)
    chunks: int = 0
    peak_bytes: int = 0          # compared tensors (both sides) held at once
    seconds: float = 0.0

    @property
    def first_divergent(self) -> Optional[str]:
        return next((r.layer for r in self.rows if r.comparison is not None and not r.comparison.passed), None)

    @property
    def passed(self) -> bool:
        return self.first_divergent is None

    def to_dict(self) -> Dict[str, Any]:
        return {"batch": self.batch, "chunk_bytes": self.chunk_bytes, "chunks": self.chunks,
                "peak_bytes": self.peak_bytes, "seconds": round(self.seconds, 3),
                "compared": sum(r.comparison is not None for r in self.rows),
                "first_divergent": self.first_divergent, "passed": self.passed,
                "layers": [r.to_dict() for r in self.rows]}


def layer_targets(keras_model: Any, reconciliation: Reconciliation, batch: int) -> List[LayerTarget]:
    """What to compare for each Keras layer, in the model's order."""
    rows = {r.layer: r for r in reconciliation.rows if r.kind != "(converter)"}
    folded: Dict[str, str] = {}  # host conv -> the BatchNormalization folded into it
    for layer in keras_model.layers:
        row = rows.get(layer.name)
        if row is not None and type(layer).__name__ in BATCH_NORM and not row.nodes:
            host = _producer(layer)
            if host and rows.get(host) is not None and rows[host].tensor:
                folded[host] = layer.name
    targets = []
    for layer in keras_model.layers:
        row = rows.get(layer.name)
        kind = type(layer).__name__
        if row is None or not row.tensor:
            reason = (row.notes[0] if row is not None and row.notes else "no ONNX node")
            if layer.name in folded.values():
                host = next(h for h, bn in folded.items() if bn == layer.name)
                reason = f"folded into {host}: compared there, with {host}'s ONNX tensor"
            targets.append(LayerTarget(layer.name, kind, None, None, "-", reason))
            continue
        source = folded.get(layer.name, layer.name)
        try:
            output = keras_model.get_layer(source).output
        except (AttributeError, ValueError) as error:  # shared layers have no single output
            targets.append(LayerTarget(layer.name, kind, row.tensor, None, row.layout,
                                       f"no single Keras output ({full_reason(error, 120)})"))
            continue
        if isinstance(output, (list, tuple, dict)):
            targets.append(LayerTarget(layer.name, kind, row.tensor, None, row.layout,
                                       "several Keras outputs"))
            continue
        dims = [batch if d is None else int(d) for d in output.shape]
        nbytes = 2 * int(np.prod(dims)) * np.dtype(output.dtype).itemsize
        target = LayerTarget(layer.name, kind, row.tensor, source, row.layout, nbytes=nbytes)
        if source != layer.name:
            target.reason = f"its output includes {source} (BatchNormalization folded into it)"
        targets.append(target)
    return targets


def chunks(targets: Sequence[LayerTarget], chunk_bytes: int) -> List[List[LayerTarget]]:
    """Consecutive compared targets, as many per chunk as fit in ``chunk_bytes`` (at least one)."""
    out: List[List[LayerTarget]] = []
    size = 0
    for target in (t for t in targets if t.source is not None):
        if not out or size + target.nbytes > chunk_bytes:
            out.append([])
            size = 0
        out[-1].append(target)
        size += target.nbytes
    return out


def with_outputs(model_proto: Any, tensors: Sequence[Tuple[str, str]]) -> bytes:
    """A copy of ``model_proto`` (an ``onnx.ModelProto``) whose graph also outputs
    ``tensors`` ((name, numpy dtype name) pairs), serialized."""
    import onnx
    from onnx import helper

    copy = onnx.ModelProto()
    copy.CopyFrom(model_proto)
    present = {o.name for o in copy.graph.output}
    for name, dtype in tensors:
        if name not in present:
            elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
            copy.graph.output.append(helper.make_tensor_value_info(name, elem, None))
            present.add(name)
    return bytes(copy.SerializeToString())


def to_keras_layout(array: np.ndarray, layout: str) -> np.ndarray:
    """ONNX's channels-first (N, C, ...) as Keras's channels-last (N, ..., C)."""
    return np.moveaxis(array, 1, -1) if layout == "channels-first" and array.ndim >= 3 else array


def verify_layers(model_path: str, keras_model: Any, specs: Sequence[InputSpec], reconciliation: Reconciliation,
                  batch: int = 1, seed: int = 0, device: str = "auto", chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                  atol: Optional[Mapping[str, float]] = None, rtol: Optional[Mapping[str, float]] = None,
                  on_step: Callable[[str], None] = lambda text: None) -> LayersResult:
    """Compare each layer (see the module docstring) at ``batch`` on the seeded inputs
    :func:`.verify.verify` uses at that batch (``specs``: the Keras inputs)."""
    import keras  # type: ignore[import-untyped]
    import onnx

    started = time.monotonic()
    targets = layer_targets(keras_model, reconciliation, batch)
    compared = [t for t in targets if t.source is not None]
    dtypes = {r.tensor: r.tensor_dtype or "float32" for r in reconciliation.rows if r.tensor}
    on_step("Exposing the layers' ONNX tensors")
    proto = onnx.load(model_path)
    session = create_session(with_outputs(proto, [(t.tensor, dtypes[t.tensor]) for t in compared
                                                  if t.tensor]), device)
    del proto
    runner: Any = session.session
    onnx_inputs = list(runner.get_inputs())
    try:
        paired = match_inputs(onnx_inputs, specs, (batch,))
    except VerifyError as error:
        raise VerifyError(error.reason, model_path) from None
    feeds = seeded_inputs(specs, batch, seed)
    onnx_feeds = onnx_inputs_for(onnx_inputs, paired, feeds)
    args = [feeds[s.name] for s in specs]
    result = LayersResult(batch, chunk_bytes)
    found: Dict[str, Comparison] = {}
    groups = chunks(targets, chunk_bytes)
    for number, group in enumerate(groups, 1):
        on_step(f"Comparing layers, chunk {number}/{len(groups)}")
        names = [t.tensor for t in group]
        try:
            with captured_fd2():
                actual = runner.run(names, onnx_feeds)
        except Exception as error:
            raise VerifyError(f"onnxruntime failed on the layers' tensors: {full_reason(error)}",
                              model_path) from None
        sub = keras.Model(keras_model.inputs, [keras_model.get_layer(t.source).output for t in group])
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The structure of `inputs`")
            expected = sub(args if len(args) > 1 else args[0], training=False)
        expected = [np.asarray(e) for e in (expected if isinstance(expected, (list, tuple)) else [expected])]
        held = sum(a.nbytes for a in actual) + sum(e.nbytes for e in expected)
        result.peak_bytes = max(result.peak_bytes, held)
        for target, ref, got in zip(group, expected, actual, strict=True):
            a, r = tolerance(ref.dtype.name, target.layer, atol, rtol)
            found[target.layer] = compare(target.layer, ref, to_keras_layout(got, target.layout), a, r)
        del actual, expected, sub
    result.chunks = len(groups)
    result.rows = [LayerRow(t.layer, t.kind, t.tensor, t.layout, found.get(t.layer), t.reason) for t in targets]
    result.seconds = time.monotonic() - started
    return result


def format_layers(result: LayersResult) -> List[str]:
    """The per-layer table: a marker on the first layer over tolerance."""
    from onnxinspect.render.table import grid

    first = result.first_divergent
    header = ["", "Keras layer", "Class", "ONNX tensor", "Layout", "Max abs", "Max rel", "Outside", "Result"]
    body: List[List[str]] = []
    for row in result.rows:
        c = row.comparison
        marker = ">>" if row.layer == first else ""
        if c is None:
            body.append([marker, row.layer, row.kind, row.tensor or "-", row.layout, "-", "-", "-",
                         f"not compared: {row.reason}"])
            continue
        verdict = "ok" if c.passed else ("FIRST DIVERGENT" if row.layer == first else "MISMATCH")
        if not c.shape_ok:
            verdict += f" (shape {tuple(c.shape)})"
        if row.reason:
            verdict += f"; {row.reason}"
        body.append([marker, row.layer, row.kind, row.tensor or "-", row.layout, f"{c.max_abs:.3g}",
                     f"{c.max_rel:.3g}", f"{c.mismatches:,}/{c.size:,}", verdict])
    compared = sum(r.comparison is not None for r in result.rows)
    lines = grid(header, body, right={5, 6, 7})
    lines.append(f"Layers:        {compared} of {len(result.rows)} compared at batch {result.batch} in "
                 f"{result.chunks} chunk(s) of <= {result.chunk_bytes / 2 ** 20:g} MiB; peak "
                 f"{result.peak_bytes / 2 ** 20:.1f} MiB of compared tensors, {result.seconds:.1f} s")
    lines.append("First divergent layer: " + (first if first else "none (every compared layer within tolerance)"))
    return lines
