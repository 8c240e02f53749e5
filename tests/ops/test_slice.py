"""Slice bounds, property-based: random starts / ends / steps (negative, past the end,
INT_MAX / INT64_MIN sentinels) against onnxruntime's actual output length, and the
symbolic answer for a dynamic axis against the same slice of concrete axes."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tensor_cases import F, check, const, single

from onnxinspect.dims import subs_dim, sym
from onnxinspect.ops.gather import slice_length

SENTINELS = [2 ** 31 - 1, 2 ** 63 - 1, -(2 ** 31), -(2 ** 63)]
BOUND = st.one_of(st.integers(-12, 12), st.sampled_from(SENTINELS))
STEP = st.integers(-3, 3).filter(bool)


@settings(max_examples=60, deadline=None)
@given(dim=st.integers(0, 9), start=BOUND, end=BOUND, step=STEP)
def test_slice_length_matches_ort(dim, start, end, step):
    """One known disagreement is left out: with a negative step, onnxruntime reads an end
    of INT_MAX as "to the beginning", while the ONNX spec, onnx.shape_inference and the
    onnx reference clamp it to ``dim - 1`` (an empty slice); we follow the spec."""
    assume(not (step < 0 and end in (2 ** 31 - 1, 2 ** 63 - 1)))
    model = single("Slice", [("x", F, [2, dim])], ["x", "s", "e", "a", "p"], ["y"],
                   [const("s", [start]), const("e", [end]), const("a", [1]), const("p", [step])])
    report = check(model)
    assert report.nodes[0].outputs[0].shape[1] == slice_length(dim, start, end, step)


@settings(max_examples=300, deadline=None)
@given(start=BOUND, end=BOUND, step=STEP)
def test_symbolic_slice_length_is_the_concrete_one_or_unknown(start, end, step):
    """Bounds (|b| <= 12) lie inside an axis of at least 25, so the symbolic answer must hold for every
    such size (the integer answer is checked against ORT above); when it cannot (the count
    would shrink as the axis grows) it is None."""
    length = slice_length(sym("T"), start, end, step)
    if length is None:
        return
    for size in (25, 31, 64):
        assert subs_dim(length, {"T": size}) == slice_length(size, start, end, step)


def test_negative_step_from_int_max_follows_the_spec():
    """The case onnxruntime reads differently: our length is onnx's (shape inference and
    the reference implementation)."""
    from onnx.reference import ReferenceEvaluator
    from truth import onnx_shapes

    from onnxinspect import inspect_model

    model = single("Slice", [("x", F, [5])], ["x", "s", "e", "a", "p"], ["y"],
                   [const("s", [2]), const("e", [2 ** 31 - 1]), const("a", [0]), const("p", [-1])])
    reference = ReferenceEvaluator(model).run(None, {"x": np.arange(5, dtype=np.float32)})[0]
    assert inspect_model(model).outputs[0].shape == onnx_shapes(model)["y"] == reference.shape
