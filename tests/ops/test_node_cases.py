"""The onnx package's own node test cases (``onnx.backend.test.case.node``: each a model
with inputs and the reference implementation's outputs) for every op of the tensor,
shape, indexing, resize, reduction and element-wise families.

Two checks per case: with the model as shipped, every dim we infer must be the right
one (a dim fed by a graph input may stay unknown, never be wrong); with small inputs
turned into constants (as exported models carry their shape operands), every output
shape must be exact, except the data-dependent dims of NonZero / Unique /
NonMaxSuppression, which must stay unknown."""

import warnings

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from onnxinspect import inspect_model
from onnxinspect.dims import Expr
from onnxinspect.ops import lookup

FAMILIES = {f"onnxinspect.ops.{m}" for m in ("shape", "gather", "resize", "reduce", "tensor",
                                              "elementwise", "constants", "sequence", "signal", "loss",
                                              "text", "llm", "image")}
DATA_DEPENDENT = {"NonZero", "Unique", "NonMaxSuppression", "Compress", "StringNormalizer", "StringSplit",
                  "ImageDecoder"}


def _ours(op) -> bool:
    rule = lookup(op.domain, op.op_type)
    return rule is not None and rule.infer.__module__ in FAMILIES


def _shape(value):
    """A tensor's shape; a sequence's: ("sequence", its elements' shapes)."""
    if isinstance(value, list):
        shapes = tuple(_shape(v) for v in value)
        return None if None in shapes else ("sequence", shapes)
    if isinstance(value, onnx.TensorProto):
        return tuple(value.dims)
    return tuple(np.asarray(value).shape) if isinstance(value, (np.ndarray, np.generic)) else None


def _cases():
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collected = node.collect_testcases(None)
    cases = []
    for case in collected:
        if case.model is None or not case.data_sets or not all(_ours(n) for n in case.model.graph.node):
            continue
        inputs, outputs = case.data_sets[0]
        expected = [_shape(o) for o in outputs]
        if None not in expected:
            cases.append(pytest.param(case.model, list(inputs), expected, id=case.name))
    return cases


CASES = _cases()


def _with_constant_inputs(model, inputs):
    """Integer inputs (and any tiny one: scales, scalars) become initializers."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    kept = []
    for vi, value in zip(list(out.graph.input), inputs, strict=True):
        value = np.asarray(value) if isinstance(value, (np.ndarray, np.generic)) else None
        if value is not None and value.dtype.kind not in "OUS" and (
                value.size <= 8 or value.dtype.kind in "iub" and value.size <= 4096):
            out.graph.initializer.append(numpy_helper.from_array(value, vi.name))
        else:
            kept.append(vi)
    del out.graph.input[:]
    out.graph.input.extend(kept)
    return out


def test_the_families_have_node_cases():
    assert len(CASES) > 300


def _same_sequence(outcome, truth, exact):
    """A sequence output: its length and its elements' shapes (each known one right; all
    known when ``exact``)."""
    if outcome.kind == "optional":   # an optional holding a sequence: what it holds
        outcome = outcome.elem
    assert outcome.kind == "sequence", outcome
    if outcome.length is not None or exact:
        assert outcome.length == len(truth[1]), (outcome.length, truth)
    for item, shape in zip(outcome.items or (), truth[1] if outcome.items else (), strict=True):
        if exact:
            assert tuple(item.shape or ()) == shape and item.shape is not None, (item.shape, shape)
        elif item.shape is not None:
            assert all(d is None or d == t for d, t in zip(item.shape, shape, strict=True)), (item.shape, shape)
    assert outcome.items is not None or not exact or not truth[1], "positions not told apart"


def _fits(report, shape, truth):
    """Every dim known before run time equals the reference; a data-dependent symbol
    stands for the size the reference found, which its bound must admit."""
    run_time = {d.symbol: d for d in report.data_dependent}
    for d, t in zip(shape, truth, strict=True):
        entry = run_time.get(str(d)) if isinstance(d, Expr) else None
        if entry is not None:
            if isinstance(entry.bound, int) and t > entry.bound:
                return False
        elif d is not None and d != t:
            return False
    return True


@pytest.mark.parametrize("model,inputs,expected", CASES)
def test_onnx_node_cases(model, inputs, expected):
    first = inspect_model(model)
    for outcome, truth in zip(first.outputs, expected, strict=True):
        if truth and truth[0] == "sequence":
            _same_sequence(outcome, truth, exact=False)
        elif outcome.shape is not None:
            assert len(outcome.shape) == len(truth)
            assert _fits(first, outcome.shape, truth), (outcome.shape, truth)
    report = inspect_model(_with_constant_inputs(model, inputs))
    data_dependent = any(n.op_type in DATA_DEPENDENT for n in report.nodes)
    declared_sequences = any(t.kind != "tensor" for t in report.inputs)
    for outcome, truth in zip(report.outputs, expected, strict=True):
        if truth and truth[0] == "sequence":
            # A sequence fed by a graph input has a length only run time knows.
            _same_sequence(outcome, truth, exact=not data_dependent and not declared_sequences)
            continue
        assert outcome.shape is not None, f"{outcome.name}: no shape, reference {truth}"
        if data_dependent:
            assert _fits(report, outcome.shape, truth), (outcome.shape, truth)
        else:
            assert tuple(outcome.shape) == truth
