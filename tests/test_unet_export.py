"""The seed article's U-Net: Keras counts, the ONNX export, onnxruntime's shapes and outputs,
the committed fixture, and the export-and-verify command.

The U-Net is built and exported once per session (TensorFlow is slow on two cores).
"""

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from export_helpers import require_tensorflow
from onnx import numpy_helper
from truth import ort_shapes

from onnxinspect import inspect_model
from onnxinspect.cli import main
from onnxinspect.dims import subs_dim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "fixtures", "unet.onnx")
TOTAL = 7_759_521  # the article's model.summary()
ARTICLE_FIRST_CONVS = [320, 9_248, 18_496]


def _conv_formula(layer) -> int:
    """The article's (n*m*l + 1)*k: l input maps, k filters (Conv2DTranspose too: its
    kernel is n*m*k*l plus k biases)."""
    n, m = layer.kernel_size
    l_in = layer.input.shape[-1]
    return (n * m * l_in + 1) * layer.filters


@pytest.fixture(scope="session")
def unet(tmp_path_factory):
    require_tensorflow()
    from onnxinspect.exporters.keras.export import export

    path = str(tmp_path_factory.mktemp("unet") / "unet.onnx")
    exported = export("unet", path, opset=17, seed=0)
    return exported, path, inspect_model(path)


@pytest.mark.tensorflow
def test_keras_counts_match_the_article(unet):
    model = unet[0].keras_model
    assert model.count_params() == TOTAL
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == 0
    convs = [layer for layer in model.layers if type(layer).__name__ in ("Conv2D", "Conv2DTranspose")]
    assert [layer.count_params() for layer in convs[:3]] == ARTICLE_FIRST_CONVS
    assert all(layer.count_params() == _conv_formula(layer) for layer in convs)
    assert sum(layer.count_params() for layer in model.layers) == TOTAL
    assert model.inputs[0].shape[1:] == (96, 96, 1) and model.outputs[0].shape[1:] == (96, 96, 1)


@pytest.mark.tensorflow
def test_onnx_totals_and_per_node_counts(unet):
    exported, _, report = unet
    assert report.totals.params == report.totals.unique_params == TOTAL
    convs = [n for n in report.nodes if n.op_type in ("Conv", "ConvTranspose")]
    assert len(convs) == 23  # 19 Conv2D + 4 Conv2DTranspose
    assert [n.params for n in convs[:3]] == ARTICLE_FIRST_CONVS
    keras_convs = [layer for layer in exported.keras_model.layers
                   if type(layer).__name__ in ("Conv2D", "Conv2DTranspose")]
    assert sorted(n.params for n in convs) == sorted(layer.count_params() for layer in keras_convs)
    assert [d if isinstance(d, int) else str(d) for d in report.inputs[0].shape] == ["N", 96, 96, 1]


@pytest.mark.tensorflow
@pytest.mark.parametrize("batch", [1, 4])
def test_every_inferred_shape_equals_onnxruntime(unet, batch):
    _, path, report = unet
    model = onnx.load(path)
    feeds = {"input_1": np.random.default_rng(batch).random((batch, 96, 96, 1), dtype=np.float32)}
    truth = ort_shapes(model, feeds)
    checked = 0
    for node in report.nodes:
        for tensor in node.outputs:
            if not tensor.name:
                continue
            assert tensor.shape is not None, f"{node.name}: shape unknown"
            ours = tuple(subs_dim(d, {"N": batch}) for d in tensor.shape)
            assert ours == truth[tensor.name], node.name
            checked += 1
    assert checked == sum(len(n.output) for n in model.graph.node)


@pytest.mark.tensorflow
def test_keras_and_onnxruntime_agree_at_batch_1_and_4(unet):
    from onnxinspect.exporters.pipeline import verify_keras

    exported, path, _ = unet
    result = verify_keras(path, exported.keras_model, (1, 4), "cpu")
    assert result.passed and [b.batch for b in result.batches] == [1, 4]
    for batch in result.batches:
        (output,) = batch.outputs
        assert output.shape == [batch.batch, 96, 96, 1] and output.max_abs <= output.atol


@pytest.mark.tensorflow
def test_reconciliation_is_exact(unet):
    from onnxinspect.exporters.reconcile import reconcile

    exported, _, report = unet
    result = reconcile(exported.keras_model, report)
    assert result.headline() == "7,759,521 parameters in Keras = 7,759,521 in ONNX"
    assert result.consistent
    for row in result.rows:
        if row.kind in ("Conv2D", "Conv2DTranspose", "MaxPooling2D", "Concatenate"):
            assert row.nodes and row.keras_params == row.onnx_params, row.layer
        if row.kind == "Conv2D" and row.layer != "conv2d_18":
            assert row.layout == "channels-first", row.layer
    dropouts = [r for r in result.rows if r.kind == "Dropout"]
    assert len(dropouts) == 9 and all(not r.nodes for r in dropouts)


def _structure(model: onnx.ModelProto, report):
    nodes = [(n.op_type, n.name, list(n.input), list(n.output)) for n in model.graph.node]
    shapes = [[None if t.shape is None else [str(d) for d in t.shape] for t in n.outputs] for n in report.nodes]
    return nodes, shapes, report.totals.unique_params, report.totals.params


@pytest.mark.tensorflow
def test_fresh_export_matches_the_committed_fixture(unet):
    _, path, report = unet
    fresh, fixture = onnx.load(path), onnx.load(FIXTURE)
    assert _structure(fresh, report) == _structure(fixture, inspect_model(FIXTURE))
    weights = {t.name: numpy_helper.to_array(t) for t in fixture.graph.initializer}
    assert sorted(weights) == sorted(t.name for t in fresh.graph.initializer)
    for tensor in fresh.graph.initializer:  # same seed -> the same weights, exactly
        assert np.array_equal(numpy_helper.to_array(tensor), weights[tensor.name]), tensor.name


@pytest.mark.tensorflow
def test_same_seed_gives_identical_bytes_and_another_seed_other_weights(unet):
    from onnxinspect.exporters.keras.export import export

    _, path, _ = unet
    with open(path, "rb") as handle:
        first = handle.read()
    again = export("unet", seed=0).onnx_model  # a second conversion in the same process
    assert again.SerializeToString() == first
    other = export("unet", seed=1).onnx_model
    assert [n.op_type for n in other.graph.node] == [n.op_type for n in onnx.load(path).graph.node]
    floats = [(a, b) for a, b in zip(other.graph.initializer, again.graph.initializer, strict=True)
              if a.data_type == onnx.TensorProto.FLOAT]
    assert len(floats) == 46 and all(a.raw_data != b.raw_data for a, b in floats)  # 23 kernels + biases


def test_fixture_inspects_without_tensorflow():
    """``onnxinspect fixtures/unet.onnx`` in a process where TensorFlow cannot be imported."""
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx', 'onnxruntime'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from onnxinspect.cli import main\n"
        f"sys.argv = ['onnxinspect', {FIXTURE!r}]\n"
        "main()\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "Total params:  7,759,521" in run.stdout


@pytest.mark.tensorflow
def test_export_and_verify_command(tmp_path):
    require_tensorflow()
    runner = CliRunner()
    out = str(tmp_path / "unet.onnx")
    text = runner.invoke(main, ["export-and-verify", "unet", "-o", out, "--device", "auto"])
    assert text.exit_code == 0, text.output
    for line in ("7,759,521 parameters in Keras = 7,759,521 in ONNX", f"ONNX file:     {out}",
                 "Device:        CPU", "Result:        PASSED", "Total params:  7,759,521"):
        assert line in text.stdout
    before = open(out, "rb").read()
    kept = runner.invoke(main, ["export-and-verify", "-o", out, "--format", "json"])
    assert kept.exit_code == 2 and kept.stderr == f"onnxinspect: error: {out}: exists; pass --force to " \
                                                   f"overwrite it, or -o another path\n"
    assert open(out, "rb").read() == before   # nothing the user has is lost
    as_json = runner.invoke(main, ["export-and-verify", "-o", out, "--force", "--format", "json", "--batch", "2"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["passed"] and data["reconcile"]["onnx_params"] == TOTAL
    assert data["inspect"]["schema"] == "onnxinspect/1" and data["export"]["path"] == out
    assert [b["batch"] for b in data["verify"]["batches"]] == [2]


@pytest.mark.tensorflow
def test_export_errors_are_one_line(tmp_path):
    require_tensorflow()
    runner = CliRunner()
    missing = runner.invoke(main, ["export", str(tmp_path / "nope.keras"), "-o", str(tmp_path / "x.onnx")])
    assert missing.exit_code == 1 and missing.stderr.count("\n") == 1 and "no such file" in missing.stderr
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a model")
    bad = runner.invoke(main, ["export", str(garbage), "-o", str(tmp_path / "x.onnx")])
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "cannot load" in bad.stderr
