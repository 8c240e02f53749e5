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
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

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

    @property
    def passed(self) -> bool:
        return self.shape_ok and self.mismatches == 0 and self.argmax_agree is not False

    def to_dict(self) -> dict:
        out = asdict(self)
        out["passed"] = self.passed
        return out


def tolerance(dtype: str, output: str, atol: Optional[Mapping[str, float]] = None,
              rtol: Optional[Mapping[str, float]] = None) -> Tuple[float, float]:
    """(atol, rtol) for an output: per-output override (key = output name), then the
    global override (key ``""``), then the dtype default."""
    default = DEFAULT_TOLERANCES.get(dtype, EXACT)
    a, r = default
    for table, index in ((atol or {}, 0), (rtol or {}, 1)):
        value = table.get(output, table.get(""))
        if value is not None:
            if index == 0:
                a = value
            else:
                r = value
    return float(a), float(r)


def compare(name: str, reference: np.ndarray, actual: np.ndarray, atol: float, rtol: float) -> Comparison:
    """Error figures of ``actual`` (ONNX) against ``reference`` (Keras)."""
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


ORT_TYPES = {"float": "float32", "double": "float64"}  # the rest keep numpy's name: tensor(int64) -> int64


def _ort_dtype(ort_type: str) -> str:
    """``tensor(float)`` -> ``float32``: onnxruntime's type string as a numpy dtype name."""
    inner = ort_type[len("tensor("):-1] if ort_type.startswith("tensor(") and ort_type.endswith(")") else ort_type
    return ORT_TYPES.get(inner, inner)


def _shape_text(shape) -> str:
    dims = ["?" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def match_inputs(onnx_inputs, specs: Sequence[InputSpec], batches: Sequence[int] = ()) -> List[InputSpec]:
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
        return f"Keras input {spec.name!r} {spec.dtype} {shape}"

    if len(onnx_inputs) != len(specs):
        raise VerifyError(f"the ONNX model has {len(onnx_inputs)} inputs "
                          f"({', '.join(onnx_text(i)[len('ONNX input '):] for i in onnx_inputs) or 'none'}), "
                          f"the Keras model {len(specs)} "
                          f"({', '.join(keras_text(s)[len('Keras input '):] for s in specs) or 'none'})")
    by_name = {s.name: s for s in specs}
    paired = [by_name[i.name] for i in onnx_inputs] if set(by_name) == {i.name for i in onnx_inputs} \
        else list(specs)
    for onnx_input, spec in zip(onnx_inputs, paired, strict=True):
        problem = None
        dims = list(onnx_input.shape) if onnx_input.shape is not None else None
        if dims is not None and len(dims) != len(spec.shape):
            problem = f"rank {len(dims)} vs {len(spec.shape)}"
        elif _ort_dtype(onnx_input.type) != spec.dtype:
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
    layers: Optional["LayersResult"] = None   # --layers

    @property
    def passed(self) -> bool:
        return (bool(self.batches) and all(b.passed for b in self.batches)
                and (self.layers is None or self.layers.passed))

    def to_dict(self) -> dict:
        out = {"device": self.device, "providers": list(self.providers), "note": self.note,
               "passed": self.passed,
               "batches": [{"batch": b.batch, "passed": b.passed,
                            "outputs": [c.to_dict() for c in b.outputs]} for b in self.batches]}
        if self.layers is not None:
            out["layers"] = self.layers.to_dict()
        return out


Reference = Callable[[Dict[str, np.ndarray]], List[np.ndarray]]


def verify(model: Union[str, bytes], specs: Sequence[InputSpec], reference: Reference,
           batches: Sequence[int] = (1, 4), device: str = "auto", seed: int = 0,
           atol: Optional[Mapping[str, float]] = None, rtol: Optional[Mapping[str, float]] = None,
           on_step: Callable[[str], None] = lambda text: None) -> VerifyResult:
    """Run ``model`` on onnxruntime and ``reference`` (the framework) on the same seeded
    inputs at each batch size; compare outputs pairwise, in order."""
    on_step(f"Starting onnxruntime ({device})")
    session = create_session(model, device)
    where = model if isinstance(model, str) else None
    onnx_inputs = list(session.session.get_inputs())
    names = [o.name for o in session.session.get_outputs()]
    try:
        paired = match_inputs(onnx_inputs, specs, batches)  # before running either side
    except VerifyError as error:
        raise VerifyError(error.reason, where) from None
    result = VerifyResult(session.device, session.providers, session.note)
    for batch in batches:
        feeds = seeded_inputs(specs, batch, seed)
        on_step(f"Running the reference at batch {batch}")
        expected = reference(feeds)
        on_step(f"Running onnxruntime at batch {batch}")
        onnx_feeds = {i.name: feeds[spec.name] for i, spec in zip(onnx_inputs, paired, strict=True)}
        try:
            with captured_fd2():  # onnxruntime also logs the failure on fd 2
                actual = session.session.run(names, onnx_feeds)
        except Exception as error:
            raise VerifyError(f"onnxruntime failed at batch {batch}: {full_reason(error)}", where) from None
        if len(expected) != len(actual):
            raise VerifyError(f"the reference gives {len(expected)} outputs, the ONNX model {len(actual)}")
        comparisons = []
        for name, ref, got in zip(names, expected, actual, strict=True):
            a, r = tolerance(np.asarray(ref).dtype.name, name, atol, rtol)
            comparisons.append(compare(name, ref, got, a, r))
        result.batches.append(BatchResult(batch, comparisons))
    return result


def format_result(result: VerifyResult) -> List[str]:
    """The human-readable lines of a verification."""
    device = result.device.upper() if result.device == "cuda" else "CPU"
    lines = [f"Device:        {device} ({', '.join(result.providers)})"
             + (f"; {result.note}" if result.note else "")]
    for batch in result.batches:
        for c in batch.outputs:
            verdict = "ok" if c.passed else "MISMATCH"
            text = (f"batch {batch.batch}: {c.name} {c.dtype} {tuple(c.shape)}: max abs {c.max_abs:.3g}, "
                    f"max rel {c.max_rel:.3g}, {c.mismatches:,}/{c.size:,} outside "
                    f"atol {c.atol:g} + rtol {c.rtol:g}*|ref| (min passing atol {c.min_atol:.3g})")
            if not c.shape_ok:
                text = f"batch {batch.batch}: {c.name}: shape {tuple(c.shape)} differs from the reference"
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

