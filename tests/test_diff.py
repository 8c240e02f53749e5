"""``onnxinspect diff``: every expected figure below is derived by hand from the shapes
of the models (built here, or committed fixtures), never copied from the output."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from onnxinspect import inspect_model
from onnxinspect.cli import main
from onnxinspect.diff import DIFF_SCHEMA, diff_reports, parse_dim, relative_change
from onnxinspect.dims import sym

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNET = os.path.join(ROOT, "fixtures", "unet.onnx")
UNET_REPORT = os.path.join(ROOT, "fixtures", "unet.report.json")
TORCH_UNET = os.path.join(ROOT, "fixtures", "pytorch", "unet.legacy.onnx")


def run(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def diff_json(a, b, *extra):
    code, out, err = run("diff", str(a), str(b), "--format", "json", *extra)
    assert code == 0, err
    data = json.loads(out)
    assert data["schema"] == DIFF_SCHEMA
    return data


def figure(data, name):
    return next(f for f in data["figures"] if f["name"] == name)


def conv_chain(unet):
    """The U-Net's Conv nodes in order, each as (node, weight, bias) initializer names."""
    return [n for n in unet.graph.node if n.op_type == "Conv"]


@pytest.fixture(scope="module")
def unet_proto():
    return onnx.load(UNET)


@pytest.fixture(scope="module")
def widened(unet_proto, tmp_path_factory):
    """The U-Net with its third conv (conv2d_2: 32 -> 64 channels at 48x48) widened to 80
    output channels, and the next conv's input channels to match."""
    model = onnx.ModelProto()
    model.CopyFrom(unet_proto)
    inits = {i.name: i for i in model.graph.initializer}
    convs = conv_chain(model)
    first, second = convs[2], convs[3]
    extra = 16
    w1 = numpy_helper.to_array(inits[first.input[1]])
    b1 = numpy_helper.to_array(inits[first.input[2]])
    w2 = numpy_helper.to_array(inits[second.input[1]])
    cout, cin, kh, kw = w1.shape
    assert (cout, cin) == (64, 32) and w2.shape[1] == cout
    rng = np.random.default_rng(0)
    new_w1 = np.concatenate([w1, rng.standard_normal((extra, cin, kh, kw)).astype(np.float32)], axis=0)
    new_b1 = np.concatenate([b1, np.zeros(extra, np.float32)])
    new_w2 = np.concatenate([w2, rng.standard_normal((w2.shape[0], extra) + w2.shape[2:]).astype(np.float32)],
                            axis=1)
    for name, array in ((first.input[1], new_w1), (first.input[2], new_b1), (second.input[1], new_w2)):
        inits[name].CopyFrom(numpy_helper.from_array(array, name))
    path = tmp_path_factory.mktemp("widened") / "unet_wide.onnx"
    onnx.save(model, str(path))
    # By hand: the new filters (extra x cin x k x k) and biases, and the second conv's new
    # input channels (cout2 x extra x k x k).
    params = extra * cin * kh * kw + extra + w2.shape[0] * extra * w2.shape[2] * w2.shape[3]
    hw = 48 * 48
    # FLOPs convention (per output element): 2 per multiply-add, 1 per bias add, 1 per Relu.
    flops_first = extra * hw * (2 * cin * kh * kw + 1 + 1)
    flops_second = w2.shape[0] * hw * 2 * extra * w2.shape[2] * w2.shape[3]
    return {"path": str(path), "params": params, "flops": flops_first + flops_second,
            "first_params": extra * cin * kh * kw + extra, "second_params": w2.shape[0] * extra * 9,
            "cout": cout + extra}


def test_identical_models_exit_0_and_say_so():
    code, out, err = run("diff", UNET, UNET)
    assert code == 0
    assert "The models are the same" in out
    data = diff_json(UNET, UNET)
    assert data["identical"] is True
    assert all(f["delta"] == 0 for f in data["figures"])
    assert data["summary"]["unchanged"] == len(data["rows"]) > 0


def test_widened_conv_param_and_flop_deltas(widened):
    data = diff_json(UNET, widened["path"], "--dim", "N=2")
    assert data["identical"] is False
    params = figure(data, "params")
    assert params["delta"] == widened["params"]
    assert params["after"] - params["before"] == widened["params"]
    assert figure(data, "param_bytes")["delta"] == 4 * widened["params"]
    flops = figure(data, "flops")
    assert parse_dim(flops["delta"]) == widened["flops"] * sym("N")
    assert flops["at"]["delta"] == 2 * widened["flops"]
    assert flops["relative"] == pytest.approx(flops["at"]["relative"])
    changed = {r["after"]["name"]: r for r in data["rows"] if r["status"] == "changed"}
    assert set(changed) == {"conv2d_2", "conv2d_3"}
    first, second = changed["conv2d_2"], changed["conv2d_3"]
    assert first["matched_by"] == "name"
    assert first["params_delta"] == widened["first_params"]
    assert second["params_delta"] == widened["second_params"]
    assert first["before"]["output_shape"][1] == 64 and first["after"]["output_shape"][1] == widened["cout"]
    assert "output_shape" in first["changes"] and "output_shape" not in second["changes"]
    assert {"params", "weights", "flops"} <= set(second["changes"])
    assert data["summary"]["added"] == data["summary"]["removed"] == 0
    code, out, _ = run("diff", UNET, widened["path"])
    assert code == 0
    assert "conv2d_2" in out and f"+{widened['params']:,}" in out


def test_widened_by_node(widened):
    data = diff_json(UNET, widened["path"], "--by", "node")
    assert data["by"] == "node"
    assert data["summary"]["added"] == data["summary"]["removed"] == 0
    assert sum(r["params_delta"] for r in data["rows"]) == widened["params"]


def test_saved_report_is_a_side(widened, tmp_path):
    live = diff_json(UNET, widened["path"])
    saved = diff_json(UNET_REPORT, widened["path"])
    assert saved["before"] == UNET_REPORT
    for key in ("figures", "rows", "ops", "tensors"):
        assert saved[key] == live[key]
    # A report saved without --by layer: compared node by node, with a note.
    path = tmp_path / "nolayers.json"
    code, out, _ = run(UNET, "--format", "json")
    path.write_text(out)
    data = diff_json(path, widened["path"])
    assert data["by"] == "node" and data["notes"]
    assert figure(data, "params")["delta"] == widened["params"]


def test_committed_baseline_is_the_unet_report():
    with open(UNET_REPORT) as f:
        saved = json.load(f)
    live = inspect_model(UNET, layers=True).to_dict()
    assert saved["totals"] == live["totals"]
    assert saved["layers"] == live["layers"]


@pytest.mark.parametrize("content, why", [
    ("{not json", "not a JSON report"),
    ('{"schema": "other/2"}', "not an onnxinspect/1 report"),
    ('{"schema": "onnxinspect/1", "model": {}}', "not an onnxinspect/1 report"),
    ("[1, 2]", "not an onnxinspect/1 report"),
])
def test_bad_saved_report_is_one_line_exit_1(tmp_path, content, why):
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, out, err = run("diff", str(path), UNET)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and why in lines[0]
    assert "Traceback" not in err


def test_missing_side_exit_1(tmp_path):
    code, _, err = run("diff", UNET, str(tmp_path / "absent.onnx"))
    assert code == 1 and "absent.onnx" in err and len(err.strip().splitlines()) == 1


def test_float16_same_params_half_the_bytes(unet_proto, tmp_path):
    from onnxruntime.transformers.float16 import convert_float_to_float16

    half = convert_float_to_float16(unet_proto, keep_io_types=False)
    path = tmp_path / "unet16.onnx"
    onnx.save(half, str(path))
    params = sum(int(np.prod(i.dims)) for i in unet_proto.graph.initializer if i.data_type == TensorProto.FLOAT)
    data = diff_json(UNET, path)
    assert figure(data, "params")["delta"] == 0
    assert figure(data, "params")["after"] == params
    assert figure(data, "param_bytes")["before"] == 4 * params
    assert figure(data, "param_bytes")["after"] == 2 * params
    assert figure(data, "param_bytes")["relative"] == pytest.approx(-0.5)
    assert figure(data, "bytes[float32]")["after"] == 0
    assert figure(data, "bytes[float16]")["after"] == 2 * params
    inputs = [t for t in data["tensors"] if t["kind"] == "input"]
    assert inputs[0]["status"] == "changed"
    assert (inputs[0]["before"]["dtype"], inputs[0]["after"]["dtype"]) == ("float32", "float16")
    assert all(r["params_delta"] == 0 for r in data["rows"])


def test_opset_13_vs_17(unet_proto, tmp_path):
    from onnx import version_converter

    # onnx cannot convert Reshape-14 down to 13; every op the U-Net uses has the same
    # signature at 13, so the model is relabelled 13 (and checked) and converted up.
    old = onnx.ModelProto()
    old.CopyFrom(unet_proto)
    for opset in old.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = 13
    onnx.checker.check_model(old)
    new = version_converter.convert_version(old, 17)
    paths = tmp_path / "unet13.onnx", tmp_path / "unet17.onnx"
    onnx.save(old, str(paths[0]))
    onnx.save(new, str(paths[1]))
    data = diff_json(*paths)
    opset = next(f for f in data["model"] if f["name"] == "opset ai.onnx")
    assert (opset["before"], opset["after"], opset["changed"]) == (13, 17, True)
    assert all(f["delta"] == 0 for f in data["figures"])
    assert data["summary"]["unchanged"] == len(data["rows"])


def test_keras_vs_pytorch_unet_is_not_the_same_architecture():
    """The brief assumed the PyTorch fixture is the same U-Net; it is not (a four-conv
    TinyUNet, fixtures/make_pytorch_fixtures.py).  Check that first, from the files, and
    that the diff says so rather than pairing layers that are not the same."""
    keras, torch = onnx.load(UNET), onnx.load(TORCH_UNET)
    keras_params = sum(int(np.prod(i.dims)) for i in keras.graph.initializer if i.data_type == TensorProto.FLOAT)
    torch_params = sum(int(np.prod(i.dims)) for i in torch.graph.initializer if i.data_type == TensorProto.FLOAT)
    keras_convs = sum(n.op_type in ("Conv", "ConvTranspose") for n in keras.graph.node)
    torch_convs = sum(n.op_type == "Conv" for n in torch.graph.node)
    assert (keras_convs, torch_convs) == (23, 4)      # not the same architecture
    data = diff_json(UNET, TORCH_UNET)
    assert figure(data, "params")["delta"] == torch_params - keras_params
    assert not any(r["status"] == "unchanged" for r in data["rows"])
    conv = next(o for o in data["ops"] if o["op_type"] == "Conv")
    assert (conv["before"], conv["after"]) == (19, 4)


def _layout_pair(tmp_path):
    """The same conv net exported channels-last (a Transpose in front) and channels-first."""
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(8, np.float32), "b")
    last = helper.make_graph(
        [helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2], name="to_nchw"),
         helper.make_node("Conv", ["xt", "w", "b"], ["y"], pads=[1, 1, 1, 1], name="keras/conv")],
        "nhwc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16, 16, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, b])
    first = helper.make_graph(
        [helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["out"], pads=[1, 1, 1, 1],
                          name="/conv/Conv")],
        "nchw", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(numpy_helper.to_array(w), "conv.weight"),
         numpy_helper.from_array(numpy_helper.to_array(b), "conv.bias")])
    paths = []
    for name, graph in (("nhwc", last), ("nchw", first)):
        p = tmp_path / f"{name}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(p))
        paths.append(p)
    return paths


def test_layout_only_differences(tmp_path):
    nhwc, nchw = _layout_pair(tmp_path)
    data = diff_json(nhwc, nchw, "--by", "node")
    inp = next(t for t in data["tensors"] if t["kind"] == "input")
    assert inp["layout_only"] is True
    conv = next(r for r in data["rows"] if r["after"] and r["after"]["op_types"] == ["Conv"])
    assert conv["matched_by"] == "structure"           # renamed, found by weights and shapes
    assert conv["params_delta"] == 0 and conv["status"] == "renamed"
    removed = [r["before"]["name"] for r in data["rows"] if r["status"] == "removed"]
    assert removed == ["to_nchw"]
    assert figure(data, "params")["delta"] == 0


def _renumbered(model, tmp_path):
    """The same graph with every node renamed (as a re-export renumbers)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for k, node in enumerate(copy.graph.node):
        node.name = f"node_{len(copy.graph.node) - k}"
    path = tmp_path / "renumbered.onnx"
    onnx.save(copy, str(path))
    return path


def test_renumbered_nodes_still_line_up(unet_proto, tmp_path):
    data = diff_json(UNET, _renumbered(unet_proto, tmp_path), "--by", "node")
    assert data["summary"]["added"] == data["summary"]["removed"] == data["summary"]["changed"] == 0
    assert data["summary"]["renamed"] == len(unet_proto.graph.node)
    assert all(r["before"]["index"] == r["after"]["index"] for r in data["rows"])


def test_ort_extended_fusions_are_replacements(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.optimized_model_filepath = str(tmp_path / "opt.onnx")
    ort.InferenceSession(UNET, so, providers=["CPUExecutionProvider"])
    model = onnx.load(UNET)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    data = diff_json(UNET, tmp_path / "opt.onnx", "--by", "node")
    # Every Conv was fused with the activation after it: one replacement per Conv.
    assert len(data["replaced"]) == len(convs)
    for rep in data["replaced"]:
        assert [i["op_types"][0] for i in rep["before"]][0] == "Conv"
        assert [i["op_types"][0] for i in rep["before"]][1] in ("Relu", "Sigmoid")
        assert [i["op_types"] for i in rep["after"]] == [["FusedConv"]]
        assert rep["params_delta"] == 0
    assert data["summary"]["added"] == data["summary"]["removed"] == 0
    assert figure(data, "params")["delta"] == 0
    code, out, _ = run("diff", UNET, str(tmp_path / "opt.onnx"), "--by", "node")
    assert code == 0 and "Replaced (fused) nodes" in out


def _conv_bn(tmp_path):
    rng = np.random.default_rng(2)
    c, cin = 8, 3
    inits = [numpy_helper.from_array(rng.standard_normal((c, cin, 3, 3)).astype(np.float32), "w")]
    for name in ("scale", "bias", "mean"):
        inits.append(numpy_helper.from_array(rng.standard_normal(c).astype(np.float32), name))
    inits.append(numpy_helper.from_array(rng.uniform(0.5, 1.5, c).astype(np.float32), "var"))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
         helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["bn"], name="bn"),
         helper.make_node("Relu", ["bn"], ["y"], name="relu")],
        "convbn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", cin, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", c, 16, 16])], inits)
    path = tmp_path / "convbn.onnx"
    onnx.save(helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path, c


def test_ort_basic_conv_bn_fusion_is_a_replacement(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path, c = _conv_bn(tmp_path)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(tmp_path / "basic.onnx")
    ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    data = diff_json(path, tmp_path / "basic.onnx", "--by", "node")
    assert len(data["replaced"]) == 1
    rep = data["replaced"][0]
    assert sorted(i["op_types"][0] for i in rep["before"]) == ["BatchNormalization", "Conv"]
    assert [i["op_types"][0] for i in rep["after"]] == ["Conv"]
    # The BN's four per-channel vectors became one Conv bias.
    assert rep["params_delta"] == c - 4 * c
    assert figure(data, "params")["delta"] == c - 4 * c
    assert data["summary"]["added"] == data["summary"]["removed"] == 0


def test_markdown_format(widened):
    code, out, _ = run("diff", UNET, widened["path"], "--format", "markdown")
    assert code == 0
    assert out.startswith("## Diff")
    assert "| Figure | Before | After | Change | % |" in out
    assert "| changed | conv2d_2 |" in out


@pytest.mark.parametrize("text", ["3390031872*N", "floor((H + 1)/32)", "N*floor(H/2) - 2",
                                  "(batch size)**2 + 3*(batch size)", "-N + 5", "M*N**2"])
def test_symbolic_figures_parse_back(text):
    value = parse_dim(text)
    assert str(value) == text
    assert parse_dim(str(value)) == value


@pytest.mark.parametrize("text", ["__import__('os')", "N +", "floor(N/0)", "N**100", "1e5", "N; M"])
def test_symbolic_parser_rejects(text):
    with pytest.raises(ValueError):
        parse_dim(text)


def test_relative_change_of_expressions():
    n = sym("N")
    assert relative_change(2 * n, 3 * n) == pytest.approx(0.5)
    assert relative_change(n, n + 1) is None
    assert relative_change(0, 5) is None
    assert relative_change(4, 2) == pytest.approx(-0.5)


def test_library_call_on_dicts(widened):
    a = inspect_model(UNET, layers=True).to_dict()
    b = inspect_model(widened["path"], layers=True).to_dict()
    diff = diff_reports(a, b, bindings={"N": 1})
    assert diff.figure("params").delta == widened["params"]
    assert diff.figure("flops").delta_at == widened["flops"]
    assert json.loads(json.dumps(diff.to_dict()))["schema"] == DIFF_SCHEMA
