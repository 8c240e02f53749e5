"""Signal processing: DFT (opsets 17 and 20), STFT and MelWeightMatrix (opset 17).

Tensors hold complex numbers as a last axis of 2 (real, imaginary); real signals have
a last axis of 1.  Lengths, steps, axes and windows are meta inputs: a window is a
fixed table (HannWindow's output), not a learned weight.  A length operand that is not
a folded constant leaves the sizes it decides unknown.

Cost convention: a complex transform of length n costs ``5·n·⌈log₂ n⌉`` real FLOPs,
the radix-2 Cooley–Tukey count FFT benchmarks quote (FFTW's "mflops"), for every
variant alike -- real input, one-sided output and inverse transforms included (an
upper bound: a real-input FFT needs about half).  No MACs.  An STFT is one transform per
frame plus one multiply per sample for the window; MelWeightMatrix one FLOP per weight
(the triangle evaluated at that bin).  A symbolic length makes the cost unknown.
"""

from __future__ import annotations

from ..dims import Dim, add, floordiv, format_count, format_dim, is_int, mul, prod, sub
from ..dtypes import dtype_name
from .common import as_dim, dims_text
from .context import NodeContext, ShapeError, Unknown
from .registry import register


def fft_flops(n: Dim) -> Dim:
    """``5·n·⌈log₂ n⌉`` real FLOPs for one complex transform of length ``n``."""
    if not is_int(n):
        return None
    return 5 * n * (n - 1).bit_length() if n > 0 else 0


def _scalar(ctx: NodeContext, i: int) -> Dim:
    """A folded scalar operand as a dim; None (an unknown dim) when the slot is empty or
    its value is not folded: the caller decides what an empty slot defaults to."""
    if not ctx.has_input(i):
        return None
    value = ctx.value(i)
    if value is None or value.size != 1:
        return None
    return as_dim(value.reshape(-1)[0])


def _axis(ctx: NodeContext, rank: int) -> int:
    """DFT's axis: an attribute (default 1) before opset 20, input 2 (default -2) after."""
    if ctx.opset < 20:
        axis = int(ctx.attr("axis", 1))
    elif ctx.has_input(2):
        value = ctx.value(2)
        if value is None:
            raise Unknown("the axis operand is not a known constant")
        axis = int(value.reshape(-1)[0])
    else:
        axis = -2
    if not -rank <= axis <= rank - 2 or axis == -1:
        raise ShapeError(f"axis {axis} is not a signal axis of a rank-{rank} input")
    return axis + rank if axis < 0 else axis


@register("DFT", meta_inputs=(1, 2))
def dft(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    if len(x) < 2 or (is_int(x[-1]) and x[-1] not in (1, 2)):
        raise ShapeError(f"input {x} needs a last axis of 1 (real) or 2 (complex)")
    axis = _axis(ctx, len(x))
    inverse, onesided = bool(ctx.attr("inverse", 0)), bool(ctx.attr("onesided", 0))
    irfft = onesided and inverse
    if ctx.has_input(1):
        n = _scalar(ctx, 1)
    else:
        n = mul(2, sub(x[axis], 1)) if irfft else x[axis]
    length = add(floordiv(n, 2), 1) if onesided and not inverse else n
    out = list(x)
    out[axis] = length
    out[-1] = 1 if irfft else 2
    ctx.set_output(0, out)
    transforms = prod(x[:axis] + x[axis + 1:-1])
    flops = mul(transforms, fft_flops(n))
    ctx.set_cost(macs=0 if flops is not None else None, flops=flops)
    if ctx.explaining:
        kind = "IRFFT" if irfft else "RFFT" if onesided else "inverse DFT" if inverse else "DFT"
        ctx.explain("shape", f"{kind} of length n = {format_dim(n)} on axis {axis}: {format_dim(length)} bins")
        ctx.explain("flops", f"FLOPs = transforms·5·n·⌈log₂ n⌉ = {format_dim(transforms)}·5·{format_dim(n)}·"
                             f"⌈log₂ {format_dim(n)}⌉ = {format_count(flops)}")


@register("STFT", meta_inputs=(1, 2, 3))
def stft(ctx: NodeContext) -> None:
    signal = ctx.shape(0)
    if len(signal) != 3:
        raise ShapeError(f"signal must be (batch, length, 1 or 2), got rank {len(signal)}")
    batch, samples = signal[0], signal[1]
    step = _scalar(ctx, 1)
    window = ctx.shape_or_none(2) if ctx.has_input(2) else None
    if ctx.has_input(3):
        frame: Dim = _scalar(ctx, 3)
    elif ctx.has_input(2):
        frame = window[0] if window else None
    else:
        frame = samples
    frames = add(floordiv(sub(samples, frame), step), 1)
    bins = add(floordiv(frame, 2), 1) if ctx.attr("onesided", 1) else frame
    ctx.set_output(0, (batch, frames, bins, 2))
    per_frame = add(fft_flops(frame), frame if ctx.has_input(2) else 0)
    flops = mul(batch, frames, per_frame)
    ctx.set_cost(macs=0 if flops is not None else None, flops=flops)
    if ctx.explaining:
        ctx.explain("shape", f"frames = ⌊(length − frame)/step⌋ + 1 = ⌊({format_dim(samples)} − {format_dim(frame)})"
                             f"/{format_dim(step)}⌋ + 1 = {format_dim(frames)}")
        ctx.explain("flops", f"FLOPs = batch·frames·(5·n·⌈log₂ n⌉{' + n (window)' if ctx.has_input(2) else ''}), "
                             f"n = {format_dim(frame)}: {format_count(flops)}")


@register("MelWeightMatrix", meta_inputs=(0, 1, 2, 3, 4))
def mel_weight_matrix(ctx: NodeContext) -> None:
    mel_bins, dft_length = _scalar(ctx, 0), _scalar(ctx, 1)
    shape = (add(floordiv(dft_length, 2), 1), mel_bins)
    ctx.set_output(0, shape, dtype_name(int(ctx.attr("output_datatype", 1))))
    flops = prod(shape)
    ctx.set_cost(macs=0 if flops is not None else None, flops=flops)
    if ctx.explaining:
        ctx.explain("shape", f"(⌊dft_length/2⌋ + 1, num_mel_bins) = ({dims_text(shape, ', ')})")
