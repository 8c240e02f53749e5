"""Mutated models never crash the command: raw bytes flipped, truncated, inserted,
overwritten or deleted, and well-formed models with hostile values (huge, negative or
zero dims and attribute ints, rewired inputs that make cycles or dangling references).

Property: exit 0 with a report, or exit 1/2 with exactly one ``onnxinspect: error:``
line; never a traceback, never an "internal error" (ONNXINSPECT_DEBUG=1 makes any
unexpected exception fail the test with its traceback), and every example finishes
within the hypothesis deadline.  The value-level mutants also go through ``--check``
(onnx.shape_inference on hostile models), where exit 3 (a conflict) is a valid answer.
"""

import os
import tempfile

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bad_inputs import conv_model

from onnxinspect.cli import main

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
SEEDS = {
    "conv": conv_model().SerializeToString(),
    "alexnet": open(os.path.join(LIGHT, "light_bvlc_alexnet.onnx"), "rb").read(),
    "squeezenet": open(os.path.join(LIGHT, "light_squeezenet.onnx"), "rb").read(),
    "inception_v1": open(os.path.join(LIGHT, "light_inception_v1.onnx"), "rb").read(),
}
HOSTILE_INTS = st.one_of(st.integers(-3, 300), st.sampled_from([0, -1, (1 << 31) - 1, 1 << 40, (1 << 63) - 1,
                                                                 -(1 << 63)]))


@st.composite
def mutations(draw, data: bytes):
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite", "delete"]))
        pos = draw(st.integers(0, max(len(out) - 1, 0)))
        if kind == "flip" and out:
            out[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del out[pos:]
        elif kind == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=16))
            out[pos:pos + len(chunk)] = chunk
        elif kind == "delete":
            del out[pos:pos + draw(st.integers(1, 16))]
    return bytes(out)


@st.composite
def semantic_mutations(draw, data: bytes):
    """A parsed model with a few values replaced: ints of attributes, initializer or
    ConstantOfShape shape values, input dims, or a node input rewired."""
    model = onnx.ModelProto()
    model.ParseFromString(data)
    graph = model.graph
    names = [o for n in graph.node for o in n.output] + [i.name for i in graph.input]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["attr", "tensor", "input dim", "rewire"]))
        if kind == "attr":
            attrs = [a for n in graph.node for a in n.attribute if a.type in (a.INT, a.INTS)]
            if attrs:
                attr = draw(st.sampled_from(attrs))
                if attr.type == attr.INT:
                    attr.i = draw(HOSTILE_INTS)
                elif attr.ints:
                    attr.ints[draw(st.integers(0, len(attr.ints) - 1))] = draw(HOSTILE_INTS)
        elif kind == "tensor":
            ints = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT64 and t.raw_data]
            if ints:
                tensor = draw(st.sampled_from(ints))
                values = np.frombuffer(tensor.raw_data, np.int64).copy()
                if values.size:
                    values[draw(st.integers(0, values.size - 1))] = draw(HOSTILE_INTS)
                    tensor.raw_data = values.tobytes()
        elif kind == "input dim":
            dims = [d for i in graph.input for d in i.type.tensor_type.shape.dim]
            if dims:
                draw(st.sampled_from(dims)).dim_value = draw(HOSTILE_INTS)
        else:
            node = draw(st.sampled_from(list(graph.node)))
            if node.input:
                node.input[draw(st.integers(0, len(node.input) - 1))] = draw(st.sampled_from(names + ["nowhere"]))
    return model.SerializeToString()


def _check_command(data: bytes, *options: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mutant.onnx")
        with open(path, "wb") as handle:
            handle.write(data)
        result = CliRunner(env={"ONNXINSPECT_DEBUG": "1"}).invoke(main, [path, "--format", "json", *options])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception      # a real bug: show it
        with open(path, "rb") as handle:
            assert handle.read() == data   # the input is never written
    assert "Traceback" not in result.stderr
    if result.exit_code == 0 or (result.exit_code == 3 and "--check" in options):
        assert result.stdout.startswith('{"schema":"onnxinspect/1"')
        bad = [line for line in result.stderr.splitlines() if not line.startswith("onnxinspect: warning: ")]
        assert not bad, bad
    else:
        assert result.exit_code in (1, 2)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"onnxinspect: error: {path}: "), result.stderr
        assert "internal error" not in lines[0]


@pytest.mark.parametrize("seed", list(SEEDS))
def test_mutated_bytes_give_a_report_or_one_clear_line(seed):
    @settings(max_examples=200, deadline=5000, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutations(SEEDS[seed]))
    def prop(data):
        _check_command(data)

    prop()


@pytest.mark.parametrize("seed", ["conv", "squeezenet", "inception_v1"])
def test_hostile_values_give_a_report_or_one_clear_line(seed):
    @settings(max_examples=100, deadline=10000, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(semantic_mutations(SEEDS[seed]))
    def prop(data):
        _check_command(data, "--check")   # onnx.shape_inference must survive them too

    prop()
