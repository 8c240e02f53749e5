"""RNN / GRU / LSTM: shapes against onnxruntime (layout 0; its CPU kernels refuse
batch-first), the onnx reference implementation (layout 1, and no ``hidden_size``,
which onnxruntime requires) and onnx.shape_inference; parameters and FLOPs by the
formulas of the ops/recurrent docstring; and the onnx package's own node cases."""

import warnings

import numpy as np
import onnx
import pytest
from export_helpers import export_small, require_tensorflow
from nn_cases import F, build, check, init, node_of
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from truth import onnx_shapes, ort_shapes, random_feeds

from onnxinspect import inspect_model
from onnxinspect.dims import subs_dim

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
UPDATE = {"RNN": 0, "GRU": 5, "LSTM": 5}   # state-update FLOPs per hidden unit
I, H = 3, 4  # noqa: E741  (the ONNX spec's names: input size, hidden size)
OPTIONALS = ["bare", "bias", "all", "gaps"]


def _model(op, direction="forward", layout=0, x=(5, 2, I), optional="bias", hidden_attr=True,
           opset=14, const_initial=False):
    """One recurrent node; ``optional`` picks its optional inputs: none, B, every one
    (sequence_lens, initial_h, initial_c, P), or initial_h with B and sequence_lens left empty."""
    g, dirs = GATES[op], 2 if direction == "bidirectional" else 1
    seq, batch = (x[1], x[0]) if layout else (x[0], x[1])
    state = (batch, dirs, H) if layout else (dirs, batch, H)
    inits = [init("W", (dirs, g * H, I)), init("R", (dirs, g * H, H), seed=2)]
    inputs, names = [("x", F, x)], ["x", "W", "R"]
    if optional in ("bias", "all"):
        inits.append(init("B", (dirs, 2 * g * H), seed=3))
        names.append("B")
    if optional == "all":
        lengths = np.array([max(1, seq - k) for k in range(batch)], np.int32)
        inits.append(numpy_helper.from_array(lengths, "sl"))
        names += ["sl", "h0"]
        if op == "LSTM":
            names += ["c0", "P"]
            inits.append(init("P", (dirs, 3 * H), seed=4))
    if optional == "gaps":
        names += ["", "", "h0"]
    for name in ("h0", "c0"):
        if name in names:
            if const_initial:
                inits.append(numpy_helper.from_array(np.zeros(state, np.float32), name))
            else:
                inputs.append((name, F, state))
    outputs = ["y", "yh"] + (["yc"] if op == "LSTM" else [])
    attrs = {"direction": direction}
    if hidden_attr:
        attrs["hidden_size"] = H
    if opset >= 14:
        attrs["layout"] = layout
    return build([helper.make_node(op, names, outputs, **attrs)], inputs, inits, opset=opset)


def _params(op, dirs, bias, peepholes, hidden=H, inputs=I):
    g = GATES[op]
    return g * hidden * (inputs + hidden) * dirs + bias * 2 * g * hidden * dirs + peepholes * 3 * hidden * dirs


def _flops(op, seq, batch, dirs, bias, peepholes):
    g = GATES[op]
    macs = seq * dirs * batch * g * H * (I + H)
    per_unit = g * (1 + 2 * bias) + UPDATE[op] + 6 * peepholes
    return 2 * macs + seq * dirs * batch * H * per_unit


def _reference_check(model, bindings=None):
    """Our node's output shapes (symbols bound) == the onnx reference implementation's,
    and == onnx.shape_inference's where it knows a dim."""
    bindings = bindings or {}
    report = inspect_model(model)
    assert not report.warnings, report.warnings
    concrete = {vi.name: tuple(d.dim_value or bindings[d.dim_param] for d in vi.type.tensor_type.shape.dim)
                for vi in model.graph.input}
    node = report.nodes[0]
    names = [o.name for o in node.outputs]
    actual = ReferenceEvaluator(model).run(names, random_feeds(model, concrete))
    inferred = onnx_shapes(model)
    for info, value in zip(node.outputs, actual, strict=True):
        assert tuple(subs_dim(d, bindings) for d in info.shape) == value.shape, info.name
        for ours, theirs in zip(info.shape, inferred.get(info.name) or (), strict=False):
            if theirs is not None and not str(theirs).startswith("unk__"):
                assert (ours if isinstance(ours, int) else str(ours)) == theirs, info.name
    return report


def _truth(model, layout, bindings=None):
    return _reference_check(model, bindings) if layout else check(model, bindings)


@pytest.mark.parametrize("optional", OPTIONALS)
@pytest.mark.parametrize("layout", [0, 1])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_shapes_params_and_flops(op, direction, layout, optional):
    seq, batch = 5, 2
    x = (batch, seq, I) if layout else (seq, batch, I)
    report = _truth(_model(op, direction, layout, x, optional), layout)
    node = node_of(report, op)
    dirs = 2 if direction == "bidirectional" else 1
    bias, peepholes = optional in ("bias", "all"), op == "LSTM" and optional == "all"
    assert node.params == _params(op, dirs, bias, peepholes)
    assert node.flops == _flops(op, seq, batch, dirs, bias, peepholes)


@pytest.mark.parametrize("layout", [0, 1])
@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_symbolic_batch_and_sequence(op, layout):
    x = ("N", "T", I) if layout else ("T", "N", I)
    model = _model(op, "bidirectional", layout, x, "gaps")
    for bindings in ({"T": 5, "N": 2}, {"T": 1, "N": 3}):
        node = node_of(_truth(model, layout, bindings), op)
        assert subs_dim(node.flops, bindings) == _flops(op, bindings["T"], bindings["N"], 2, False, False)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_hidden_size_read_from_the_weights(op):
    # onnxruntime insists on the attribute; the reference implementation reads R's shape.
    node = node_of(_reference_check(_model(op, "bidirectional", hidden_attr=False)), op)
    assert all(o.shape[-1] == H for o in node.outputs)


@pytest.mark.parametrize("op", ["GRU", "LSTM"])
def test_opset_7_has_no_layout(op):
    check(_model(op, "reverse", opset=7, optional="all"))


@pytest.mark.parametrize("op", ["RNN", "LSTM"])
def test_constant_initial_state_is_not_a_parameter(op):
    # PyTorch exports the zero state of an un-seeded LSTM as a constant.
    node = node_of(check(_model(op, optional="all", const_initial=True)), op)
    assert node.params == _params(op, 1, True, op == "LSTM")


def test_explain_lstm_params_line():
    report = inspect_model(_model("LSTM", "bidirectional", optional="all"), explain=True)
    node = node_of(report, "LSTM")
    expected = _params("LSTM", 2, True, True)
    assert node.params == expected == 4 * H * (I + H) * 2 + 8 * H * 2 + 3 * H * 2
    params = [text for kind, text in node.explanations if kind == "params"]
    assert params == [(f"dirs·4·hidden·(input + hidden) + dirs·8·hidden (B) + dirs·3·hidden (P) = "
                       f"2·4·{H}·({I} + {H}) + 2·8·{H} + 2·3·{H} = {expected:,}")]
    flops = [text for kind, text in node.explanations if kind == "flops"]
    assert len(flops) == 1 and flops[0].endswith(f"= {node.flops:,}")


def test_contradicting_directions_is_a_warning():
    # W says one direction, the attribute two: onnxruntime refuses to run it.
    import onnxruntime

    model = _model("LSTM", "forward")
    model.graph.node[0].attribute[0].s = b"bidirectional"
    with pytest.raises(onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument, match="Input W"):
        ort_shapes(model, random_feeds(model, {"x": (5, 2, I)}))
    report = inspect_model(model)
    assert any("num_directions" in w for w in report.warnings)
    assert node_of(report, "LSTM").outputs[0].shape is None


def _node_cases():
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collected = node.collect_testcases(None)
    return [pytest.param(c.model, c.data_sets[0], id=c.name) for c in collected
            if c.model is not None and {n.op_type for n in c.model.graph.node} <= set(GATES)]


NODE_CASES = _node_cases()


def test_every_recurrent_node_case_collected():
    assert len(NODE_CASES) >= 18  # 6 each of test_lstm_*, test_gru_*, test_(simple_)rnn_*


@pytest.mark.parametrize("model,data", NODE_CASES)
def test_onnx_node_cases(model, data):
    inputs, outputs = data
    assert [o.shape for o in inspect_model(model).outputs] == [tuple(np.asarray(v).shape) for v in outputs]
    # With W, R, B, P as initializers (as exporters ship them) they are the parameters.
    weights = {"W", "R", "B", "P"}
    frozen = onnx.ModelProto()
    frozen.CopyFrom(model)
    kept = [vi for vi in frozen.graph.input if vi.name not in weights]
    for vi, value in zip(model.graph.input, inputs, strict=True):
        if vi.name in weights:
            frozen.graph.initializer.append(numpy_helper.from_array(np.asarray(value), vi.name))
    del frozen.graph.input[:]
    frozen.graph.input.extend(kept)
    report = inspect_model(frozen)
    expected = sum(np.asarray(v).size for vi, v in zip(model.graph.input, inputs, strict=True) if vi.name in weights)
    assert report.nodes[0].params == expected > 0
    assert [o.shape for o in report.outputs] == [tuple(np.asarray(v).shape) for v in outputs]


@pytest.mark.tensorflow
@pytest.mark.parametrize("bidirectional", [False, True])
def test_keras_lstm_through_tf2onnx(tmp_path, bidirectional):
    """Keras keeps one bias per gate (4·units); the exported B has 8·units, the recurrent
    half zeros -- so the ONNX node holds Keras's count + 4·units per direction."""
    keras = require_tensorflow()
    units, steps, features = 8, 7, 5
    layer = keras.layers.LSTM(units, return_sequences=True)
    inp = keras.Input((steps, features))
    model = keras.Model(inp, keras.layers.Bidirectional(layer)(inp) if bidirectional else layer(inp))
    path, report = export_small(model, tmp_path / "lstm.onnx")
    dirs = 2 if bidirectional else 1
    node = node_of(report, "LSTM")
    assert node.params == model.count_params() + 4 * units * dirs
    assert node.params == _params("LSTM", dirs, True, False, hidden=units, inputs=features)
    exported = onnx.load(path)
    feed = exported.graph.input[0]
    actual = ort_shapes(exported, random_feeds(exported, {feed.name: (3, steps, features)}))
    batch = feed.type.tensor_type.shape.dim[0].dim_param
    for out in node.outputs:
        assert tuple(subs_dim(d, {batch: 3}) for d in out.shape) == actual[out.name]
