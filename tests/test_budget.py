"""``--budget`` and ``--max-increase``: pass (exit 0), fail (exit 3, one line per
failure), usage errors (exit 2, one line).  The truths are derived from the shapes of
a one-conv model built here."""

from __future__ import annotations

import copy
import os

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from onnxinspect import inspect_model
from onnxinspect.budget import check_increases, parse_budget, parse_increase
from onnxinspect.cli import main
from onnxinspect.diff import diff_reports
from onnxinspect.errors import UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNET = os.path.join(ROOT, "fixtures", "unet.onnx")
CIN, H, W, K = 3, 8, 8, 3


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def one_conv(tmp_path, cout=4, name="conv.onnx"):
    """x (N, 3, 8, 8) -> Conv(cout, 3x3, pad 1, bias) -> y."""
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1], name="conv")], "one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", CIN, H, W])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(rng.standard_normal((cout, CIN, K, K)).astype(np.float32), "w"),
         numpy_helper.from_array(np.zeros(cout, np.float32), "b")])
    path = tmp_path / name
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def truths(cout=4):
    params = cout * CIN * K * K + cout
    flops = cout * H * W * (2 * CIN * K * K + 1)      # per sample: a multiply-add is 2, the bias 1
    peak = 4 * (CIN + cout) * H * W                  # per sample: input and output float32 live
    return params, flops, peak


@pytest.fixture
def model(tmp_path):
    return one_conv(tmp_path)


def test_budgets_pass(model):
    params, flops, peak = truths()
    code, out, err = run(model, "--budget", f"params<={params}", "--budget", f"flops@N=2<={2 * flops}",
                         "--budget", f"peak_memory@N=1<={peak}B", "--budget", "param_bytes<=1KiB")
    assert code == 0, err
    assert err == ""
    assert "Total params" in out


def test_budget_fails_exit_3_one_line_each(model):
    params, flops, peak = truths()
    code, out, err = run(model, "--budget", "params<=0.1K", "--budget", f"flops@N=1<={flops - 1}",
                         "--budget", "peak_memory@N=1<=1KiB", "--budget", "macs@N=1<=1G")
    assert code == 3
    assert "Total params" in out          # the report still prints
    lines = err.strip().splitlines()
    assert len(lines) == 3
    assert lines[0] == (f"onnxinspect: budget failed: params = {params:,}; limit 0.1K (100); "
                        f"over by {params - 100:,}")
    assert f"flops@N=1 = {flops:,}" in lines[1] and "over by 1" in lines[1]
    assert f"peak_memory@N=1 = {peak:,} B" in lines[2]
    assert f"over by {peak - 1024:,} B" in lines[2]


def test_budget_uses_dim_bindings(model):
    _, flops, _ = truths()
    assert run(model, "--dim", "N=3", "--budget", f"flops<={3 * flops}")[0] == 0
    code, _, err = run(model, "--dim", "N=3", "--budget", f"flops<={3 * flops - 1}")
    assert code == 3 and f"flops = {3 * flops:,}" in err


@pytest.mark.parametrize("spec, words", [
    ("flops<=4G", "depends on N"),
    ("weights<=8M", "unknown metric 'weights'"),
    ("params<=8MiB", "unit 'MiB' does not fit a count figure"),
    ("peak_memory@N=1<=64M", "unit 'M' does not fit a bytes figure"),
    ("params<8M", "expected METRIC"),
    ("params<=lots", "not a number"),
    ("flops@N<=4G", "expected @SYMBOL=INT"),
])
def test_budget_usage_errors_exit_2(model, spec, words):
    code, out, err = run(model, "--budget", spec)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], err
    assert lines[0].startswith("onnxinspect: error:") and "Traceback" not in err


def test_budget_on_the_unet_fixture():
    # 7,759,521 params (conv2d ... conv2d_18, summed in test_params.py) fit 8M, not 7M.
    params = sum(int(np.prod(i.dims)) for i in onnx.load(UNET).graph.initializer if i.data_type == 1)
    assert run(UNET, "--budget", "params<=8M")[0] == 0
    code, _, err = run(UNET, "--budget", "params<=7M")
    assert code == 3 and f"over by {params - 7_000_000:,}" in err


def test_max_increase_pass_and_fail(tmp_path):
    base, wide = one_conv(tmp_path, 4, "a.onnx"), one_conv(tmp_path, 6, "b.onnx")
    (p4, f4, _), (p6, f6, _) = truths(4), truths(6)
    assert run("diff", base, base, "--max-increase", "params=0", "--max-increase", "flops=0%")[0] == 0
    assert run("diff", wide, base, "--max-increase", "params=0")[0] == 0      # a decrease
    assert run("diff", base, wide, "--max-increase", f"params={p6 - p4}")[0] == 0
    assert run("diff", base, wide, "--max-increase", "flops=50%")[0] == 0      # 4 -> 6 channels: +50%
    code, out, err = run("diff", base, wide, "--max-increase", "params=0", "--max-increase", "flops=5%",
                         "--max-increase", f"flops@N=2={2 * (f6 - f4)}")
    assert code == 3
    assert "Diff:" in out
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0] == (f"onnxinspect: budget failed: params increased by +{p6 - p4:,}; limit +0; "
                        f"over by {p6 - p4:,}")
    assert "flops increased by" in lines[1] and "(+50.00%); limit +5%" in lines[1]


def test_max_increase_usage_errors(tmp_path):
    base, wide = one_conv(tmp_path, 4, "a.onnx"), one_conv(tmp_path, 6, "b.onnx")
    for spec, words in (("flops=1000", "depends on N"), ("speed=5%", "unknown metric"),
                        ("flops=five%", "not a percentage"), ("params", "expected METRIC")):
        code, _, err = run("diff", base, wide, "--max-increase", spec)
        assert code == 2, spec
        assert len(err.strip().splitlines()) == 1 and words in err, (spec, err)
    # With a binding the absolute FLOPs limit is a number.
    _, f4, _ = truths(4)
    _, f6, _ = truths(6)
    assert run("diff", base, wide, "--dim", "N=1", "--max-increase", f"flops={f6 - f4}")[0] == 0


def test_relative_increase_of_unproportional_expressions_needs_a_binding(tmp_path):
    a = inspect_model(str(one_conv(tmp_path))).to_dict()
    b = copy.deepcopy(a)
    a["totals"]["flops"] = "100*N"
    b["totals"]["flops"] = "100*N + 20"      # +20% at N=1, +2% at N=10
    diff = diff_reports(a, b)
    with pytest.raises(UsageError, match="depends on N"):
        check_increases(diff, [parse_increase("flops=5%")])
    assert len(check_increases(diff, [parse_increase("flops@N=1=5%")])) == 1
    assert check_increases(diff, [parse_increase("flops@N=10=5%")]) == []


def test_grammar_units():
    assert parse_budget("params<=8M").limit == 8_000_000
    assert parse_budget("params<=1.5k").limit == 1500
    assert parse_budget("peak_memory@N=1,H=96<=64MiB").limit == 64 * 2**20
    assert parse_budget("peak_memory@N=1,H=96<=64MiB").bindings == {"N": 1, "H": 96}
    assert parse_budget("param_bytes<=2GB").limit == 2 * 10**9
    assert parse_budget("bytes[float16]<=1KB").unit == "bytes"
    assert parse_increase("flops=5%").percent == 5
    assert parse_increase("params=0").limit == 0
    assert parse_increase("peak_memory@N=1=1MiB").bindings == {"N": 1}
