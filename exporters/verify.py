"""Run an ONNX model on onnxruntime and compare its outputs with a reference (Keras).

Imported only by the ``verify`` / ``export-and-verify`` commands, never by the inspector:
it needs onnxruntime, and the reference side (TensorFlow) is supplied by the caller.

Device selection (``--device``):
- ``cpu``: CPUExecutionProvider.
- ``cuda``: CUDAExecutionProvider or a one-line error saying why it is not usable.
- ``auto``: CUDA only if a session *really* gets it (onnxruntime-gpu silently falls back to
  CPU when the CUDA/cuDNN libraries are missing, so ``session.get_providers()`` is checked
  after creation), else CPU; the result says which one ran and why.

Tolerances: an element passes when ``|onnx - ref| <= atol + rtol * |ref|`` (numpy's
``allclose`` rule).  Defaults by dtype, chosen for float32 round-off over a few dozen layers
with different summation orders (oneDNN vs MLAS vs cuDNN) and for half precision's 11-bit
mantissa: float64 1e-7/1e-6, float32 1e-4/1e-3, float16 1e-2/1e-2, bfloat16 5e-2/5e-2;
integer and bool outputs must be equal.  Both are overridable, globally or per output.

Converted models (:func:`detect_precision`) get the tolerance set of their *weights'*
precision, whatever their IO dtype: float16 weights (convert_float_to_float16, with or
without keep_io_types) 1e-2/1e-2 on every output; int8 (quantize_dynamic, QDQ) no
element-wise bound (the error of a quantized output scales with its quantization steps),
judged by cosine similarity and SNR.  Every output's cosine similarity and SNR (dB) are
reported and must reach the set's minimum (``--min-cosine``, ``--min-snr``):
float 0.9999 / 60 dB, float16 0.999 / 40 dB, int8 0.99 / 20 dB
(docs/export-and-verify.md gives the reasoning).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from onnxinspect.errors import InspectError

if TYPE_CHECKING:
    from .layers import LayersResult

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
DEVICES = ("auto", "cuda", "cpu")

DEFAULT_TOLERANCES: Dict[str, Tuple[float, float]] = {
    "float64": (1e-7, 1e-6),
    "float32": (1e-4, 1e-3),
    "float16": (1e-2, 1e-2),
    "bfloat16": (5e-2, 5e-2),
}
EXACT = (0.0, 0.0)
ORT_DEFAULT_SEVERITY = 2  # warnings
TOP_K = 5
REASON_LIMIT = 1000  # characters of a library's error quoted in ours


@dataclass(frozen=True)
class ToleranceSet:
    """How strict verification is for a model of this precision."""

    name: str                    # "float", "float16", "int8"
    min_cosine: float
    min_snr: float               # dB
    default: Optional[Tuple[float, float]] = None   # (atol, rtol) for every output; None: by dtype
    elementwise: bool = True     # False: atol/rtol reported, not enforced (unless given)


TOLERANCE_SETS: Dict[str, ToleranceSet] = {
    "float": ToleranceSet("float", 0.9999, 60.0),
    "float16": ToleranceSet("float16", 0.999, 40.0, (1e-2, 1e-2)),
    "int8": ToleranceSet("int8", 0.99, 20.0, (1e-1, 1e-1), elementwise=False),
}
QUANT_OPS = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "ConvInteger", "MatMulInteger",
             "QLinearConv", "QLinearMatMul", "QGemm", "DynamicQuantizeMatMul", "MatMulNBits"}


class VerifyError(InspectError):
    """Verification could not run (no CUDA, unreadable model, input mismatch)."""


def full_reason(error: BaseException, limit: int = REASON_LIMIT) -> str:
    """An exception's whole message on one line: onnxruntime puts the useful part after the
    first line ("Got invalid dimensions for input: x for the following indices" / "index: 1
    Got: 64 Expected: 96"), so the lines are joined with "; " (a space after one that already
    ends in punctuation), cut to ``limit`` characters with an ellipsis."""
    parts = [" ".join(line.split()) for line in str(error).splitlines()]
    text = ""
    for part in filter(None, parts):
        text += ("" if not text else " " if text.endswith((":", ".", ";", ",")) else "; ") + part
    text = text or type(error).__name__
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


@contextlib.contextmanager
def captured_fd2():
    """Run the block with file descriptor 2 pointed at a temporary file and discard it.

    Native libraries (onnxruntime's provider loader, TensorFlow, absl) write to fd 2
    directly, past ``sys.stderr``.  Their failures still surface as Python exceptions,
    which the CLI turns into one line.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


# -- device selection ---------------------------------------------------------------------

def providers_to_try(device: str, available: Sequence[str]) -> List[List[str]]:
    """The provider lists to try in order for ``device``, given onnxruntime's available
    providers; raises VerifyError when ``cuda`` is asked for and this onnxruntime has none."""
    if device not in DEVICES:
        raise VerifyError(f"--device {device!r}: expected one of {', '.join(DEVICES)}")
    if device == "cpu":
        return [[CPU]]
    if device == "cuda":
        if CUDA not in available:
            raise VerifyError("--device cuda: CUDA is not usable: this onnxruntime has no "
                              f"CUDAExecutionProvider (available: {', '.join(available) or 'none'}; "
                              "install onnxruntime-gpu)")
        return [[CUDA, CPU]]
    return [[CUDA, CPU], [CPU]] if CUDA in available else [[CPU]]


@dataclass
class Session:
    session: object          # onnxruntime.InferenceSession
    device: str              # "cuda" or "cpu": what actually runs
    providers: List[str]     # session.get_providers()
    note: str = ""           # why auto chose what it chose


def create_session(model: Union[str, bytes], device: str = "auto") -> Session:
    """An InferenceSession on ``device`` (see the module docstring); ``model`` is a path
    (external-data weights next to it are loaded) or serialized bytes."""
    import onnxruntime as ort

    available = list(ort.get_available_providers())
    attempts = providers_to_try(device, available)
    note = "" if CUDA in available or device == "cpu" else \
        "CUDAExecutionProvider not in this onnxruntime build"
    for providers in attempts:
        session = _new_session(ort, model, providers)
        used = list(session.get_providers())
        if providers[0] != CUDA or (used and used[0] == CUDA):
            return Session(session, "cuda" if used and used[0] == CUDA else "cpu", used, note)
        # CUDA was asked for but the session fell back to CPU (missing CUDA/cuDNN libraries)
        if device == "cuda":
            raise VerifyError("--device cuda: CUDA is not usable: onnxruntime could not initialise "
                              "CUDAExecutionProvider (CUDA or cuDNN libraries missing, or no GPU)")
        note = "CUDAExecutionProvider failed to initialise (no GPU or CUDA libraries)"
    raise AssertionError("unreachable: the last attempt is always CPU")  # pragma: no cover


def _new_session(ort, model, providers):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    ort.set_default_logger_severity(3)  # the provider loader logs through the default logger
    try:
        with captured_fd2(), _warnings_off():
            return ort.InferenceSession(model, options, providers=providers)
    except InspectError:
        raise
    except Exception as error:
        where = model if isinstance(model, str) else "model"
        raise VerifyError(f"onnxruntime cannot load it: {full_reason(error)}", where) from None
    finally:
        ort.set_default_logger_severity(ORT_DEFAULT_SEVERITY)


@contextlib.contextmanager
def _warnings_off():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# -- comparison ---------------------------------------------------------------------------

@dataclass
class Comparison:
    """One output at one batch size."""

    name: str
    dtype: str
    shape: List[int]
    atol: float
    rtol: float
    max_abs: float
    max_rel: float               # over elements whose reference is non-zero
    mismatches: int              # elements with |d| > atol + rtol*|ref|
    size: int
    min_atol: float              # the smallest atol that would have passed with this rtol
    argmax_agree: Optional[bool] = None   # classifier-like outputs (2-D, last dim > 1) only
    topk_agree: Optional[bool] = None
    shape_ok: bool = True
    cosine: Optional[float] = None        # of the flattened outputs (float outputs)
    snr_db: Optional[float] = None        # 10 log10(sum ref^2 / sum (onnx - ref)^2)
    min_cosine: Optional[float] = None
    min_snr: Optional[float] = None
    elementwise: bool = True              # False: mismatches are reported, not a failure

    @property
    def passed(self) -> bool:
        return (self.shape_ok and (self.mismatches == 0 or not self.elementwise)
                and self.argmax_agree is not False
                and (self.min_cosine is None or (self.cosine is not None and self.cosine >= self.min_cosine))
                and (self.min_snr is None or (self.snr_db is not None and self.snr_db >= self.min_snr)))

    def to_dict(self) -> dict:
        out = asdict(self)
        out["passed"] = self.passed
        return out


def tolerance(dtype: str, output: str, atol: Optional[Mapping[str, float]] = None,
              rtol: Optional[Mapping[str, float]] = None,
              default: Optional[Tuple[float, float]] = None) -> Tuple[float, float]:
    """(atol, rtol) for an output: per-output override (key = output name), then the
    global override (key ``""``), then ``default`` (a tolerance set's), then the dtype default."""
    a, r = default if default is not None else DEFAULT_TOLERANCES.get(dtype, EXACT)
    for table, index in ((atol or {}, 0), (rtol or {}, 1)):
        value = table.get(output, table.get(""))
        if value is not None:
            if index == 0:
                a = value
            else:
                r = value
    return float(a), float(r)


def similarity(ref: np.ndarray, got: np.ndarray) -> Tuple[float, float]:
    """(cosine similarity, SNR in dB) of float64 arrays of one shape: 1.0 / inf when they are
    equal, the cosine 0.0 when exactly one of them is all zeros."""
    signal, noise = float(np.sum(ref * ref)), float(np.sum((got - ref) ** 2))
    if noise == 0:
        return 1.0, float("inf")
    norms = np.sqrt(signal * float(np.sum(got * got)))
    cosine = float(np.sum(ref * got) / norms) if norms > 0 else 0.0
    return cosine, (10 * float(np.log10(signal / noise)) if signal > 0 else float("-inf"))


def compare(name: str, reference: np.ndarray, actual: np.ndarray, atol: float, rtol: float,
            tolerances: Optional[ToleranceSet] = None, atol_given: bool = False) -> Comparison:
    """Error figures of ``actual`` (ONNX) against ``reference`` (Keras); with ``tolerances``
    the cosine and SNR minima apply too (and its element-wise rule, unless ``atol_given``)."""
    reference = np.asarray(reference)
    actual = np.asarray(actual)
    dtype = reference.dtype.name
    if reference.shape != actual.shape:
        return Comparison(name, dtype, list(actual.shape), atol, rtol, float("inf"), float("inf"),
                          int(reference.size), int(reference.size), float("inf"), shape_ok=False)
    ref = reference.astype(np.float64)
    got = actual.astype(np.float64)
    diff = np.abs(got - ref)
    nonfinite = ~(np.isfinite(ref) & np.isfinite(got))
    same_nonfinite = nonfinite & ((ref == got) | (np.isnan(ref) & np.isnan(got)))
    diff = np.where(same_nonfinite, 0.0, np.where(nonfinite, np.inf, diff))
    scale = np.abs(np.where(np.isfinite(ref), ref, 0.0))
    bound = atol + rtol * scale
    nonzero = scale > 0
    max_rel = float(np.max(diff[nonzero] / scale[nonzero])) if nonzero.any() else 0.0
    needed = np.max(diff - rtol * scale) if diff.size else 0.0
    result = Comparison(name, dtype, list(reference.shape), atol, rtol,
                        float(diff.max()) if diff.size else 0.0, max_rel,
                        int(np.count_nonzero(diff > bound)), int(diff.size), float(max(needed, 0.0)))
    if np.issubdtype(reference.dtype, np.floating) and not nonfinite.any():
        result.cosine, result.snr_db = similarity(ref, got)
    if tolerances is not None:
        result.min_cosine, result.min_snr = tolerances.min_cosine, tolerances.min_snr
        result.elementwise = tolerances.elementwise or atol_given
    if reference.ndim == 2 and reference.shape[-1] > 1 and np.issubdtype(reference.dtype, np.number):
        result.argmax_agree = bool(np.array_equal(ref.argmax(-1), got.argmax(-1)))
        k = min(TOP_K, reference.shape[-1])
        top_ref = np.sort(np.argsort(-ref, axis=-1, kind="stable")[:, :k], axis=-1)
        top_got = np.sort(np.argsort(-got, axis=-1, kind="stable")[:, :k], axis=-1)
        result.topk_agree = bool(np.array_equal(top_ref, top_got))
    return result


# -- the run ------------------------------------------------------------------------------

@dataclass
class InputSpec:
    name: str
    dtype: str                    # numpy dtype name
    shape: List[Optional[int]]    # None = the batch (or another free) dim


CASTABLE = {"float16", "float32"}  # a float16-converted model's IO (keep_io_types=False): inputs are cast
ORT_TYPES = {"float": "float32", "double": "float64"}  # the rest keep numpy's name: tensor(int64) -> int64


def _ort_dtype(ort_type: str) -> str:
    """``tensor(float)`` -> ``float32``: onnxruntime's type string as a numpy dtype name."""
    inner = ort_type[len("tensor("):-1] if ort_type.startswith("tensor(") and ort_type.endswith(")") else ort_type
    return ORT_TYPES.get(inner, inner)


def _shape_text(shape) -> str:
    dims = ["?" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def match_inputs(onnx_inputs, specs: Sequence[InputSpec], batches: Sequence[int] = (),
                 side: str = "Keras") -> List[InputSpec]:
    """The reference's input spec for each ONNX input (``onnx_inputs``: onnxruntime's
    ``session.get_inputs()``), in the ONNX model's order: by name when both sides have the
    same names, else by position (the exporter may rename the inputs of a Sequential).
    Raises VerifyError, one line naming both sides' inputs and shapes, when the counts,
    ranks, dtypes or fixed dims differ (an ONNX dim fixed where the reference's batch is
    free must equal every batch that is run)."""
    def onnx_text(i) -> str:
        return f"ONNX input {i.name!r} {_ort_dtype(i.type)} {_shape_text(i.shape)}"

    def keras_text(spec: InputSpec) -> str:
        shape = "(" + ", ".join("None" if d is None else str(d) for d in spec.shape) \
            + ("," if len(spec.shape) == 1 else "") + ")"
        return f"{side} input {spec.name!r} {spec.dtype} {shape}"

    if len(onnx_inputs) != len(specs):
        raise VerifyError(f"the ONNX model has {len(onnx_inputs)} inputs "
                          f"({', '.join(onnx_text(i)[len('ONNX input '):] for i in onnx_inputs) or 'none'}), "
                          f"the {side} model {len(specs)} "
                          f"({', '.join(keras_text(s)[len(side + ' input '):] for s in specs) or 'none'})")
    by_name = {s.name: s for s in specs}
    paired = [by_name[i.name] for i in onnx_inputs] if set(by_name) == {i.name for i in onnx_inputs} \
        else list(specs)
    for onnx_input, spec in zip(onnx_inputs, paired, strict=True):
        problem = None
        dims = list(onnx_input.shape) if onnx_input.shape is not None else None
        if dims is not None and len(dims) != len(spec.shape):
            problem = f"rank {len(dims)} vs {len(spec.shape)}"
        elif _ort_dtype(onnx_input.type) != spec.dtype and {_ort_dtype(onnx_input.type), spec.dtype} != CASTABLE:
            problem = f"dtype {_ort_dtype(onnx_input.type)} vs {spec.dtype}"
        else:
            for axis, (ours, theirs) in enumerate(zip(dims or [], spec.shape, strict=False)):  # ranks checked
                if not isinstance(ours, int):
                    continue                     # symbolic or unknown in ONNX: anything goes
                if theirs is not None and ours != theirs:
                    problem = f"dim {axis} is {ours} vs {theirs}"
                elif theirs is None and axis == 0 and any(b != ours for b in batches):
                    problem = f"the ONNX batch is fixed at {ours}, run with --batch {ours}"
                if problem:
                    break
        if problem:
            raise VerifyError(f"{onnx_text(onnx_input)} does not match {keras_text(spec)} ({problem})")
    return paired


def seeded_inputs(specs: Sequence[InputSpec], batch: int, seed: int = 0) -> Dict[str, np.ndarray]:
    """Reproducible inputs: the leading dim is ``batch``; floats ~ U(0, 1) like images,
    integers in [0, 10)."""
    rng = np.random.default_rng(seed + batch)
    feeds = {}
    for spec in specs:
        dims = list(spec.shape)
        if dims and dims[0] is None:
            dims[0] = batch
        if any(d is None for d in dims):
            raise VerifyError(f"input {spec.name!r} has a free dim besides the batch: {spec.shape}")
        dtype = np.dtype(spec.dtype)
        if np.issubdtype(dtype, np.floating):
            feeds[spec.name] = rng.random(dims).astype(dtype)
        elif dtype == np.bool_:
            feeds[spec.name] = rng.integers(0, 2, dims).astype(bool)
        else:
            feeds[spec.name] = rng.integers(0, 10, dims).astype(dtype)
    return feeds


def onnx_inputs_for(onnx_inputs: Sequence[Any], paired: Sequence[InputSpec],
                    feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """The feeds by ONNX input name, cast to the ONNX dtype (float16 for a converted model)."""
    return {i.name: feeds[spec.name].astype(_ort_dtype(i.type), copy=False)
            for i, spec in zip(onnx_inputs, paired, strict=True)}


@dataclass
class BatchResult:
    batch: int
    outputs: List[Comparison]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.outputs)


@dataclass
class VerifyResult:
    device: str
    providers: List[str]
    note: str
    batches: List[BatchResult] = field(default_factory=list)
    tolerances: ToleranceSet = TOLERANCE_SETS["float"]
    precision_note: str = ""                  # why this tolerance set
    layers: Optional["LayersResult"] = None   # --layers

    @property
    def passed(self) -> bool:
        return (bool(self.batches) and all(b.passed for b in self.batches)
                and (self.layers is None or self.layers.passed))

    def to_dict(self) -> dict:
        out = {"device": self.device, "providers": list(self.providers), "note": self.note,
               "passed": self.passed,
               "tolerance_set": {**asdict(self.tolerances), "why": self.precision_note},
               "batches": [{"batch": b.batch, "passed": b.passed,
                            "outputs": [c.to_dict() for c in b.outputs]} for b in self.batches]}
        if self.layers is not None:
            out["layers"] = self.layers.to_dict()
        return out


Reference = Callable[[Dict[str, np.ndarray]], List[np.ndarray]]


def detect_precision(model: Union[str, bytes]) -> Tuple[str, str]:
    """The tolerance set a model needs, from its weights and operators (not its IO dtype),
    and why: ("int8", "34 QuantizeLinear, 80 DequantizeLinear nodes"), ("float16", ...),
    ("float", "float weights")."""
    import onnx

    proto = onnx.load(model, load_external_data=False) if isinstance(model, str) else onnx.load_from_string(model)
    quant: Dict[str, int] = {}
    for node in proto.graph.node:
        if node.op_type in QUANT_OPS:
            quant[node.op_type] = quant.get(node.op_type, 0) + 1
    if quant:
        return "int8", "quantized: " + ", ".join(f"{n} {op}" for op, n in sorted(quant.items())) + " nodes"
    floats = [t for t in proto.graph.initializer if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16,
                                                                    onnx.TensorProto.BFLOAT16)]
    halves = sum(t.data_type in (onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16) for t in floats)
    if floats and halves * 2 > len(floats):
        return "float16", f"converted to float16: {halves} of {len(floats)} float initializers are 16-bit"
    return "float", "float weights, as exported"


def verify(model: Union[str, bytes], specs: Sequence[InputSpec], reference: Reference,
           batches: Sequence[int] = (1, 4), device: str = "auto", seed: int = 0,
           atol: Optional[Mapping[str, float]] = None, rtol: Optional[Mapping[str, float]] = None,
           on_step: Callable[[str], None] = lambda text: None, min_cosine: Optional[float] = None,
           min_snr: Optional[float] = None, side: str = "Keras") -> VerifyResult:
    """Run ``model`` on onnxruntime and ``reference`` (the framework) on the same seeded
    inputs at each batch size; compare outputs pairwise, in order, with the tolerance set
    of the model's precision (``min_cosine`` / ``min_snr`` override its minima)."""
    on_step(f"Starting onnxruntime ({device})")
    session = create_session(model, device)
    where = model if isinstance(model, str) else None
    onnx_inputs = list(session.session.get_inputs())
    names = [o.name for o in session.session.get_outputs()]
    try:
        paired = match_inputs(onnx_inputs, specs, batches, side)  # before running either side
    except VerifyError as error:
        raise VerifyError(error.reason, where) from None
    key, why = detect_precision(model)
    chosen = TOLERANCE_SETS[key]
    chosen = ToleranceSet(chosen.name, chosen.min_cosine if min_cosine is None else min_cosine,
                          chosen.min_snr if min_snr is None else min_snr, chosen.default, chosen.elementwise)
    result = VerifyResult(session.device, session.providers, session.note, tolerances=chosen, precision_note=why)
    for batch in batches:
        feeds = seeded_inputs(specs, batch, seed)
        on_step(f"Running the reference at batch {batch}")
        expected = reference(feeds)
        on_step(f"Running onnxruntime at batch {batch}")
        onnx_feeds = onnx_inputs_for(onnx_inputs, paired, feeds)
        try:
            with captured_fd2():  # onnxruntime also logs the failure on fd 2
                actual = session.session.run(names, onnx_feeds)
        except Exception as error:
            raise VerifyError(f"onnxruntime failed at batch {batch}: {full_reason(error)}", where) from None
        if len(expected) != len(actual):
            raise VerifyError(f"the reference gives {len(expected)} outputs, the ONNX model {len(actual)}")
        comparisons = []
        for name, ref, got in zip(names, expected, actual, strict=True):
            a, r = tolerance(np.asarray(ref).dtype.name, name, atol, rtol, chosen.default)
            given = any(k in (atol or {}) for k in (name, ""))
            comparisons.append(compare(name, ref, got, a, r, chosen, given))
        result.batches.append(BatchResult(batch, comparisons))
    return result


def format_result(result: VerifyResult) -> List[str]:
    """The human-readable lines of a verification."""
    device = result.device.upper() if result.device == "cuda" else "CPU"
    t = result.tolerances
    elementwise = ("atol/rtol by output dtype" if t.default is None else
                   f"atol {t.default[0]:g} + rtol {t.default[1]:g}*|ref|"
                   + ("" if t.elementwise else " (reported only)"))
    lines = [f"Device:        {device} ({', '.join(result.providers)})"
             + (f"; {result.note}" if result.note else ""),
             f"Tolerances:    {t.name} ({result.precision_note}): {elementwise}, cosine >= {t.min_cosine:g}, "
             f"SNR >= {t.min_snr:g} dB"]
    for batch in result.batches:
        for c in batch.outputs:
            verdict = "ok" if c.passed else "MISMATCH"
            text = (f"batch {batch.batch}: {c.name} {c.dtype} {tuple(c.shape)}: max abs {c.max_abs:.3g}, "
                    f"max rel {c.max_rel:.3g}, {c.mismatches:,}/{c.size:,} outside "
                    f"atol {c.atol:g} + rtol {c.rtol:g}*|ref| (min passing atol {c.min_atol:.3g})")
            if not c.shape_ok:
                text = f"batch {batch.batch}: {c.name}: shape {tuple(c.shape)} differs from the reference"
            if c.cosine is not None and c.snr_db is not None:
                text += f", cosine {c.cosine:.6f}, SNR {c.snr_db:.1f} dB"
            if c.argmax_agree is not None:
                text += f", argmax {'agrees' if c.argmax_agree else 'DIFFERS'}, " \
                        f"top-{TOP_K} {'agrees' if c.topk_agree else 'differs'}"
            lines.append(f"  {verdict:8} {text}")
    if result.layers is not None:
        from .layers import format_layers

        lines += format_layers(result.layers)
    lines.append("Verification:  " + ("PASSED" if result.passed else "FAILED")
                 + f" at batch {', '.join(str(b.batch) for b in result.batches)}")
    return lines

