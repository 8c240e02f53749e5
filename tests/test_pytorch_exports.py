"""Real PyTorch exports (``fixtures/pytorch``, made by ``fixtures/make_pytorch_fixtures.py``
with torch 2.13, both exporters) against onnxruntime and against torch's own numbers.

torch is not needed here: what only torch can say (parameter counts per module,
buffers, tied weights, output shapes) was written to ``expected.json`` by the script.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import numpy_helper
from truth import check

from onnxinspect import inspect_model
from onnxinspect.analyse.check import compare_with_onnx
from onnxinspect.analyse.layers import group_layers
from onnxinspect.cli import main
from onnxinspect.dims import is_int, subs_dim, sum_dims

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "pytorch")
with open(os.path.join(HERE, "expected.json")) as f:
    EXPECTED = json.load(f)["models"]
CASES = [(name, kind) for name, truth in EXPECTED.items() for kind in truth["files"]]
IDS = [f"{name}.{kind}" for name, kind in CASES]

# Exports that bake the example's sequence length into a Reshape although the input's
# seq stays dynamic, so onnxruntime fails on any other length; they are checked at the
# one length they run at.  The dynamo optimizer after the LSTM (MaterializeReshapeShape:
# [7, -1, 12]); both exporters inside nn.MultiheadAttention ([5, 6, 8]: seq, batch·heads,
# head size).
FIXED_SEQ = {("lstm", "dynamo"): 7, ("attention", "dynamo"): 5, ("attention", "legacy"): 5}


def path_of(name, kind):
    return os.path.join(HERE, EXPECTED[name]["files"][kind])


def example_seq(name):
    """The sequence length torch's output shapes were taken at (None: no seq dim)."""
    truth = EXPECTED[name]
    return truth["input_shape"][0] if "1" in truth["dynamic"] else None


def load(name, kind):
    """The fixture, with its seq dim fixed where the export only runs at one length."""
    model = onnx.load(path_of(name, kind))
    if (name, kind) in FIXED_SEQ:
        dim = model.graph.input[0].type.tensor_type.shape.dim[1]
        assert dim.dim_param == "seq"
        dim.dim_value = FIXED_SEQ[name, kind]
        del model.graph.value_info[:]   # the exporter's annotations still say seq
    return model


def batch_only(name, kind):
    """Input shapes with every dim but the batch fixed (seq at torch's example length)."""
    seq = FIXED_SEQ.get((name, kind), example_seq(name))
    shape = ["batch"] + ([seq] if seq is not None else []) + EXPECTED[name]["input_shape"][1 if seq else 0:]
    return {"input": shape}


@pytest.mark.parametrize("name, kind", CASES, ids=IDS)
def test_every_tensor_shape_is_onnxruntimes(name, kind):
    """Every node output, batch (and seq) substituted, equals what ORT computes, at two
    batch sizes and two sequence lengths; onnx.shape_inference agrees where it knows."""
    model = load(name, kind)
    seq = example_seq(name)
    for batch, extra in ((1, 0), (3, 3)):
        bindings = {"batch": batch}
        if seq is not None and (name, kind) not in FIXED_SEQ:
            bindings["seq"] = seq + extra
        check(model, bindings)


@pytest.mark.parametrize("name, kind", CASES, ids=IDS)
def test_outputs_are_torchs(name, kind):
    """The graph output at batch 1 and 3 has the shape torch's own forward gave."""
    report = inspect_model(load(name, kind))
    (output,) = report.outputs
    for batch, shape in EXPECTED[name]["output_shapes"].items():
        bindings = {"batch": int(batch), "seq": example_seq(name) or 0}
        assert [subs_dim(d, bindings) for d in output.shape] == shape


@pytest.mark.parametrize("name, kind", CASES, ids=IDS)
def test_batch_stays_symbolic_through_the_graph(name, kind):
    """With only the batch symbolic, no tensor anywhere has an unknown dim or shape,
    and the batch reaches the output."""
    report = inspect_model(path_of(name, kind), inputs=batch_only(name, kind))
    for node in report.nodes:
        for t in node.outputs:
            if not t.name:
                continue   # an optional output the exporter left out
            assert t.shape is not None and all(d is not None for d in t.shape), (node.name, t.name, t.shape)
            assert all(is_int(d) or d.symbols() == {"batch"} for d in t.shape), (t.name, t.shape)
    (output,) = report.outputs
    assert str(output.shape[0]) == "batch" and all(is_int(d) for d in output.shape[1:])


@pytest.mark.parametrize("name, kind", CASES, ids=IDS)
def test_check_finds_no_conflict(name, kind):
    report = inspect_model(path_of(name, kind))
    result = compare_with_onnx(report, path_of(name, kind))
    assert result.error is None and result.conflicts == []
    assert result.counts["ours_unknown"] == 0      # onnx never knows more than we do here
    cli = CliRunner().invoke(main, [path_of(name, kind), "--check", "--format", "json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output)["check"]["counts"]["conflict"] == 0


def _bn(truth):
    """(BatchNorm affine params γ+β, BatchNorm channels, running mean+var elements)."""
    channels = sum(truth["batchnorm"].values())
    stats = sum(n for b, n in truth["buffers"].items() if b.endswith(("running_mean", "running_var")))
    return 2 * channels, channels, stats


def expected_params(name, kind):
    """(unique_params, params) the ONNX graph must hold, from torch's count and what
    each exporter does to it."""
    truth = EXPECTED[name]
    torch_params = truth["params"]
    if name == "resnet" and kind == "dynamo_noopt":
        # BatchNormalization nodes kept: γ, β and the running mean / var are all ONNX
        # initializers (num_batches_tracked, a training counter, is not exported).
        _, _, stats = _bn(truth)
        return torch_params + stats, torch_params + stats
    if name == "resnet":
        # BN folded into the Conv before it: γ, β (and the statistics) disappear into
        # the Conv's weight, and each such Conv (bias=False in torch) gains a bias of
        # one value per channel.
        affine, channels, _ = _bn(truth)
        folded = torch_params - affine + channels
        return folded, folded
    if name == "lstm" and kind == "dynamo_noopt":
        # Unoptimized, the gates are cut out of each weight by Slices that each read
        # the whole weight: counted at each Slice (4 LSTM gates, 3 GRU gates), once in
        # unique_params.
        gates = {"lstm": 4, "gru": 3}
        total = sum(np.prod(shape) * gates.get(p.split(".")[0], 1) for p, shape in truth["param_tensors"].items())
        return torch_params, int(total)
    if name == "tied":
        vocab, dim = truth["param_tensors"]["embedding.weight"]
        if kind in ("dynamo", "legacy"):
            # Constant folding gives MatMul a pre-transposed copy of the tied matrix:
            # the graph holds it twice (test_tied_weight_folded_copy_is_the_transpose).
            return torch_params + vocab * dim, torch_params + vocab * dim
        # Unfolded: Gather and the decoder's Transpose read the one initializer.
        return torch_params, torch_params + vocab * dim
    return torch_params, torch_params          # LSTM's B = [b_ih, b_hh]: same count


@pytest.mark.parametrize("name, kind", CASES, ids=IDS)
def test_params_reconcile_with_torch(name, kind):
    report = inspect_model(path_of(name, kind))
    unique, total = expected_params(name, kind)
    assert (report.totals.unique_params, report.totals.params) == (unique, total)
    shared = {w for n in report.nodes for w in n.shared_params}
    if total == unique:
        assert not shared
    else:
        assert shared   # every weight counted more than once is marked
    ops = report.totals.op_histogram
    assert ("BatchNormalization" in ops) == (name == "resnet" and kind == "dynamo_noopt")


@pytest.mark.parametrize("kind", ["dynamo_noopt", "legacy_nofold"])
def test_tied_weight_counted_once_and_marked_shared(kind):
    """The embedding matrix read by Gather (embedding) and by the decoder's Transpose is
    one initializer: counted once in unique_params, marked shared at both nodes."""
    truth = EXPECTED["tied"]
    report = inspect_model(path_of("tied", kind))
    model = onnx.load(path_of("tied", kind))
    (gather,) = [n for n in report.nodes if n.op_type == "Gather"]
    (table,) = gather.param_inputs
    readers = [n for n in report.nodes if table in n.param_inputs]
    assert sorted(n.op_type for n in readers) == ["Gather", "Transpose"]
    assert all(n.shared_params == [table] for n in readers)
    weight = next(t for t in model.graph.initializer if t.name == table)
    assert list(weight.dims) == truth["param_tensors"]["embedding.weight"]
    assert report.totals.unique_params == truth["params"]


@pytest.mark.parametrize("kind", ["dynamo", "legacy"])
def test_tied_weight_folded_copy_is_the_transpose(kind):
    """With constant folding the exporter stores the tied matrix a second time,
    transposed, for the decoder's MatMul: two initializers that no graph edge ties, so
    both are counted (the 320 extra parameters of expected_params)."""
    model = onnx.load(path_of("tied", kind))
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    table = next(n.input[0] for n in model.graph.node if n.op_type == "Gather")
    decoder = model.graph.node[-1]
    assert decoder.op_type == "MatMul" and decoder.output[0] == "output"
    np.testing.assert_array_equal(weights[decoder.input[1]], weights[table].T)


def _row_expected(name, kind, module):
    """What torch says the ``--by layer`` row of ``module`` holds."""
    truth = EXPECTED[name]
    # A submodule whose forward never runs (nn.MultiheadAttention applies out_proj's
    # weights itself) leaves no scope of its own: its weights are its parent's nodes'.
    params = truth["module_params"][module] + sum(
        truth["module_params"][m] for m in truth["not_called"] if m.rsplit(".", 1)[0] == module)
    if name == "resnet" and kind != "dynamo_noopt":
        # Folded Conv+BN is one node: the legacy exporter names it after the Conv,
        # the dynamo one keeps the BatchNorm's module path.  Weight of the Conv, bias
        # of one value per BN channel.
        bn = {conv: bn for bn, conv in truth["bn_input"].items()}
        conv = truth["bn_input"].get(module, module)
        if conv in bn:
            return truth["module_params"][conv] + truth["batchnorm"][bn[conv]]
    if name == "resnet" and module in truth["batchnorm"]:
        return params + 2 * truth["batchnorm"][module]       # + running mean and var
    if name == "lstm" and kind == "dynamo_noopt" and module in ("lstm", "gru"):
        return params * {"lstm": 4, "gru": 3}[module]         # each gate's Slice reads the weight
    return params


@pytest.mark.parametrize("name, kind", CASES, ids=IDS)
def test_layers_are_torch_modules(name, kind):
    """``--by layer`` rows carry PyTorch module paths (``layer1.0.conv1``), hold each
    module's parameters as torch counts them (after the exporter's folding), and sum to
    the totals.  Nodes of the root module (a bare F.relu, shape arithmetic) are rows of
    their own, without parameters."""
    report = inspect_model(path_of(name, kind))
    rows = group_layers(report)
    modules = EXPECTED[name]["module_params"]
    for row in rows:
        if row.name in modules:
            assert row.params == _row_expected(name, kind, row.name), row.name
        else:
            assert len(row.nodes) == 1 and row.name == row.nodes[0].name and row.params == 0, row.name
    assert sum(r.params for r in rows) == report.totals.params
    assert sum_dims(r.flops for r in rows) == report.totals.flops   # unknown (None) alike
    names = {r.name for r in rows}
    if name == "resnet":
        assert {"fc", "layer2.0"} <= names
        assert ("layer1.0.bn1" if kind.startswith("dynamo") else "layer1.0.conv1") in names
        if kind == "dynamo_noopt":
            assert {"layer1.0.conv1", "layer2.0.downsample.0", "layer2.0.downsample.1"} <= names
    if name == "transformer":
        assert {"qkv", "proj", "ln1", "ln2", "mlp.0", "mlp.2"} <= names


def test_cli_by_layer_json_rows_sum_to_totals():
    result = CliRunner().invoke(main, [path_of("resnet", "legacy"), "--by", "layer", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    layers = {row["name"]: row for row in document["layers"]}
    assert layers["layer1.0.conv1"]["op_types"] == ["Conv"]
    assert layers["layer1.0"]["op_types"] == ["Relu", "Add"]
    assert sum(row["params"] for row in document["layers"]) == document["totals"]["params"]
