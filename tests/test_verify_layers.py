"""verify --layers: every Keras layer against its ONNX tensor, on the exported U-Net, and a
corrupted weight in the middle (a Conv, a ConvTranspose) named as the first divergent layer."""

import hashlib
import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from export_helpers import require_tensorflow
from onnx import numpy_helper

from onnxinspect.cli import main
from onnxinspect.exporters.layers import LayerTarget, chunks, to_keras_layout


def test_to_keras_layout_moves_channels_last():
    onnx_side = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)  # (N, C, H, W)
    keras_side = to_keras_layout(onnx_side, "channels-first")
    assert keras_side.shape == (2, 4, 5, 3)
    assert keras_side[1, 2, 3, 0] == onnx_side[1, 0, 2, 3]
    assert to_keras_layout(onnx_side, "same") is onnx_side


def test_chunks_fill_up_to_the_byte_budget():
    targets = [LayerTarget(f"l{i}", "Conv2D", f"t{i}", f"l{i}", "same", nbytes=n)
               for i, n in enumerate([40, 40, 30, 100, 10])]
    targets.insert(1, LayerTarget("drop", "Dropout", None, None, "-", "removed"))  # not compared
    assert [[t.layer for t in c] for c in chunks(targets, 100)] == [["l0", "l1"], ["l2"], ["l3"], ["l4"]]
    assert [[t.layer for t in c] for c in chunks(targets, 10)] == [["l0"], ["l1"], ["l2"], ["l3"], ["l4"]]


@pytest.fixture(scope="module")
def unet(tmp_path_factory):
    require_tensorflow()
    from onnxinspect.exporters.keras.export import export
    from onnxinspect.exporters.pipeline import reconcile_file

    path = str(tmp_path_factory.mktemp("layers") / "unet.onnx")
    exported = export("unet", path, opset=17, seed=0)
    return exported.keras_model, path, reconcile_file(path, exported.keras_model)


def _corrupt_layer(path, reconciliation, layer, op, out):
    """Multiply the kernel of ``layer``'s ``op`` node (an initializer) by 1.5."""
    model = onnx.load(path)
    row = next(r for r in reconciliation.rows if r.layer == layer)
    node = next(n for n in model.graph.node if n.name in row.nodes and n.op_type == op)
    kernel = next(t for t in model.graph.initializer if t.name == node.input[1])
    kernel.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(kernel) * 1.5, kernel.name))
    onnx.save(model, out)
    return out


@pytest.mark.tensorflow
def test_every_layer_passes_in_one_chunk_or_many(unet):
    from onnxinspect.exporters.pipeline import verify_keras

    model, path, reconciliation = unet
    with open(path, "rb") as handle:
        before = hashlib.sha256(handle.read()).hexdigest()
    whole = verify_keras(path, model, (1,), "cpu", layers=reconciliation).layers
    small = verify_keras(path, model, (1,), "cpu", layers=reconciliation, chunk_bytes=2 ** 20).layers
    with open(path, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == before  # the user's file is only read
    assert whole.passed and whole.first_divergent is None and whole.chunks == 1
    compared = [r for r in whole.rows if r.comparison is not None]
    convs = [layer for layer in model.layers if type(layer).__name__ in ("Conv2D", "Conv2DTranspose",
                                                                          "MaxPooling2D", "Concatenate")]
    assert [r.layer for r in compared] == [layer.name for layer in convs]
    # each layer's output shape as Keras has it, after undoing the channels-first layout
    assert all(r.comparison.shape == [1, *model.get_layer(r.layer).output.shape[1:]] for r in compared)
    skipped = {r.layer: r.reason for r in whole.rows if r.comparison is None}
    assert skipped["input_1"].startswith("input") and skipped["dropout"].startswith("identity at inference")
    assert len(skipped) == len(model.layers) - len(compared)
    # a chunk holds at most 1 MiB, or one layer alone when it is bigger (96x96x64 float32: 4.5 MiB both sides)
    largest = max(r.comparison.size for r in compared) * 4 * 2
    assert largest == 96 * 96 * 64 * 4 * 2
    assert small.chunks > 1 and small.peak_bytes == largest < whole.peak_bytes
    assert whole.peak_bytes == sum(r.comparison.size for r in compared) * 4 * 2
    assert [r.comparison.max_abs for r in small.rows if r.comparison] == [r.comparison.max_abs for r in compared]


@pytest.mark.tensorflow
@pytest.mark.parametrize("layer, op", [("conv2d_5", "Conv"), ("conv2d_transpose_1", "ConvTranspose")])
def test_a_corrupted_layer_is_the_first_divergent(unet, tmp_path, layer, op):
    model, path, reconciliation = unet
    bad = _corrupt_layer(path, reconciliation, layer, op, str(tmp_path / "bad.onnx"))
    result = CliRunner().invoke(main, ["verify", bad, "--keras", "unet", "--device", "cpu", "--batch", "1",
                                       "--layers", "--format", "json"])
    assert result.exit_code == 1, result.output
    layers = json.loads(result.stdout)["layers"]
    assert layers["first_divergent"] == layer and not layers["passed"]
    names = [r["layer"] for r in layers["layers"]]
    before = layers["layers"][:names.index(layer)]
    assert before and all(r["passed"] for r in before if r["compared"])
    row = layers["layers"][names.index(layer)]
    assert row["comparison"]["mismatches"] > 0 and row["comparison"]["max_abs"] > 1e-2

    table = CliRunner().invoke(main, ["verify", bad, "--keras", "unet", "--device", "cpu", "--batch", "1",
                                      "--layers"])
    assert table.exit_code == 1
    marked = [line for line in table.stdout.splitlines() if line.startswith(">>")]
    assert len(marked) == 1 and f" {layer} " in marked[0] and "FIRST DIVERGENT" in marked[0]
    assert f"First divergent layer: {layer}" in table.stdout


@pytest.mark.tensorflow
def test_export_and_verify_layers(tmp_path):
    require_tensorflow()
    path = str(tmp_path / "unet.onnx")
    result = CliRunner().invoke(main, ["export-and-verify", "unet", "-o", path, "--device", "cpu", "--batch", "1",
                                       "--layers", "--chunk-mib", "4", "--format", "json"])
    assert result.exit_code == 0, result.output
    layers = json.loads(result.stdout)["verify"]["layers"]
    assert layers["passed"] and layers["first_divergent"] is None and layers["compared"] == 31
    assert layers["chunk_bytes"] == 4 * 2 ** 20 and layers["chunks"] > 1 and layers["peak_bytes"] > 0


def test_layers_need_keras(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    result = CliRunner().invoke(main, ["verify", str(model), "--torch", "unet", "--layers"])
    assert result.exit_code == 2
    assert result.stderr == "onnxinspect: error: --layers needs --keras: layer outputs are compared with Keras's\n"
