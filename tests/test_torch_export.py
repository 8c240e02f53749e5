"""PyTorch as a second source: the U-Net in PyTorch (7,759,521 = sum of numel), exported by
torch.onnx (dynamo), run on onnxruntime against torch, reconciled by module name; users'
factories and their bad inputs; and the Keras and PyTorch exports compared layer by layer."""

import json
import textwrap

import pytest
from click.testing import CliRunner

from onnxinspect.cli import main

TOTAL = 7_759_521
pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def torch_unet(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    path = str(tmp_path_factory.mktemp("torch") / "unet_torch.onnx")
    result = CliRunner().invoke(main, ["export-and-verify", "unet", "--framework", "torch", "-o", path,
                                       "--device", "cpu", "--format", "json"])
    assert result.exit_code == 0, result.output
    return path, json.loads(result.stdout)


def test_torch_unet_has_the_articles_parameters_none_zero():
    pytest.importorskip("torch")
    from onnxinspect.exporters.torch.unet import unet_factory

    module, (example,) = unet_factory(0)
    assert sum(p.numel() for p in module.parameters()) == TOTAL
    assert all(bool((p != 0).all()) for p in module.parameters())   # no bias left at zero
    assert tuple(module(example).shape) == (1, 1, 96, 96)
    convs = [m for m in module.modules() if type(m).__name__ in ("Conv2d", "ConvTranspose2d")]
    # the article's (n*m*l + 1)*k for every conv (and n*m*l*k + k for a transposed one)
    assert all(sum(p.numel() for p in m.parameters())
               == m.kernel_size[0] * m.kernel_size[1] * m.in_channels * m.out_channels + m.out_channels
               for m in convs)
    assert [sum(p.numel() for p in m.parameters()) for m in convs[:3]] == [320, 9_248, 18_496]


def test_export_and_verify_torch_passes_and_reconciles(torch_unet):
    path, data = torch_unet
    assert data["passed"] and data["inspect"]["totals"]["unique_params"] == TOTAL
    rec = data["reconcile"]
    assert rec["framework"] == "PyTorch" and rec["keras_params"] == rec["onnx_params"] == TOTAL
    assert rec["consistent"] and rec["totals_match"]
    rows = {r["layer"]: r for r in rec["layers"]}
    assert rows["conv2d_5"]["onnx_ops"] == ["Conv"] and rows["conv2d_5"]["onnx_params"] == 147_584
    assert rows["dropout"]["onnx_nodes"] == [] and "identity in eval mode" in rows["dropout"]["notes"][0]
    assert {r["onnx_ops"][0] for r in rec["layers"] if r["class"] == "(functional)"} == {"Relu", "Concat", "Sigmoid"}
    outputs = [o for b in data["verify"]["batches"] for o in b["outputs"]]
    assert [o["shape"] for o in outputs] == [[1, 1, 96, 96], [4, 1, 96, 96]]


def test_verify_torch_against_the_exported_file(torch_unet):
    path, _ = torch_unet
    result = CliRunner().invoke(main, ["verify", path, "--torch", "unet", "--device", "cpu", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "Verification:  PASSED at batch 2" in result.stdout
    wrong_seed = CliRunner().invoke(main, ["verify", path, "--torch", "unet", "--seed", "1", "--device", "cpu",
                                           "--batch", "1"])
    assert wrong_seed.exit_code == 1 and "MISMATCH" in wrong_seed.stdout


FACTORIES = '''
import torch


class Small(torch.nn.Module):
    def __init__(self, features):
        super().__init__()
        self.dense = torch.nn.Linear(features, 3)

    def forward(self, x):
        return torch.softmax(self.dense(x), dim=-1)


def good():
    torch.manual_seed(0)
    return Small(4), (torch.rand(2, 4),)


def wider():
    torch.manual_seed(0)
    return Small(5), (torch.rand(2, 5),)


def broken():
    raise RuntimeError("no weights here")


def not_a_pair():
    return 42
'''


@pytest.fixture
def factories(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    name = f"user_factories_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(FACTORIES))
    monkeypatch.chdir(tmp_path)
    path = str(tmp_path / "small.onnx")
    exported = CliRunner().invoke(main, ["export", f"{name}:good", "--framework", "torch", "-o", path])
    assert exported.exit_code == 0, exported.output
    assert "15 params" in exported.stdout   # Linear(4, 3): 4*3 + 3
    return name, path


def test_user_factory_verifies(factories):
    name, path = factories
    result = CliRunner().invoke(main, ["verify", path, "--torch", f"{name}:good", "--device", "cpu",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    outputs = json.loads(result.stdout)["batches"][0]["outputs"]
    assert outputs[0]["shape"] == [1, 3] and outputs[0]["argmax_agree"] is True


@pytest.mark.parametrize("spec, message", [
    ("no_such_module_xyz:make", "--torch 'no_such_module_xyz:make': cannot import no_such_module_xyz: "
                                "ModuleNotFoundError: No module named 'no_such_module_xyz'"),
    ("{name}:broken", "--torch '{name}:broken': the factory raised RuntimeError: no weights here"),
    ("{name}:not_a_pair", "--torch '{name}:not_a_pair': the factory must return (module, example_inputs), got int"),
    ("{name}:missing", "--torch '{name}:missing': {name} has no callable 'missing'"),
    ("{name}", "--torch '{name}': expected 'unet' or package.module:factory"),
    ("{name}:wider", "{path}: ONNX input 'x' float32 (N, 4) does not match PyTorch input 'x' float32 (None, 5) "
                     "(dim 1 is 4 vs 5)"),
])
def test_bad_torch_sources_are_one_line(factories, spec, message):
    name, path = factories
    result = CliRunner().invoke(main, ["verify", path, "--torch", spec.format(name=name), "--device", "cpu"])
    assert result.exit_code in (1, 2), result.output
    assert result.stdout == ""
    assert result.stderr == f"onnxinspect: error: {message.format(name=name, path=path)}\n"


def test_verify_needs_exactly_one_reference(factories):
    _, path = factories
    result = CliRunner().invoke(main, ["verify", path])
    assert result.exit_code == 2 and result.stderr.strip().endswith("give the reference as one of --keras or --torch")


@pytest.mark.tensorflow
def test_keras_and_torch_exports_agree_layer_by_layer(torch_unet, tmp_path):
    """The same parameters per layer name, the same output shapes once Keras's channels-last
    layout is read channels-first (the reconciliation's 'channels-first' rows)."""
    from export_helpers import require_tensorflow

    require_tensorflow()
    keras_path = str(tmp_path / "unet_keras.onnx")
    result = CliRunner().invoke(main, ["export-and-verify", "unet", "-o", keras_path, "--device", "cpu",
                                       "--batch", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    keras_rows = {r["layer"]: r for r in json.loads(result.stdout)["reconcile"]["layers"] if r["onnx_nodes"]
                  and r["class"] != "(converter)"}
    torch_rows = {r["layer"]: r for r in torch_unet[1]["reconcile"]["layers"] if r["class"] != "(functional)"
                  and r["onnx_nodes"]}
    shared = set(keras_rows) & set(torch_rows)
    assert len(shared) == 27    # 19 Conv2D, 4 Conv2DTranspose, 4 MaxPooling2D (concatenate is a torch.cat)
    assert {n: keras_rows[n]["onnx_params"] for n in shared} == {n: torch_rows[n]["onnx_params"] for n in shared}
    assert sum(r["onnx_params"] for r in torch_rows.values()) == TOTAL
    for name in shared:
        keras_shape, torch_shape = keras_rows[name]["onnx_shape"], torch_rows[name]["onnx_shape"]
        assert keras_rows[name]["layout"] == "channels-first" and keras_shape[1:] == torch_shape[1:], name
