"""``--explain``: every printed formula is true arithmetic and equals the independent truth
(the seed article's per-layer counts, onnxruntime's actual shapes)."""

from __future__ import annotations

import math
import os
import re

import onnx
import pytest
from click.testing import CliRunner

from onnxinspect import inspect_model
from onnxinspect.cli import main
from test_flops_totals import classic_cnn
from truth import ort_shapes, random_feeds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNET = os.path.join(ROOT, "fixtures", "unet.onnx")
needs_unet = pytest.mark.skipif(not os.path.exists(UNET), reason="fixtures/unet.onnx not exported yet")

HEADER = re.compile(r"^\s*#(\d+)\s+(\S+)\s+(\S+) → ")
FORMULA = re.compile(r"^\s+(params|shape|flops)\s+(.*)$")


def evaluate(expression: str):
    """The value of a printed formula such as ``⌊(96 + 1 + 1 − 1·(3−1) − 1)/1⌋ + 1``, or
    None for a symbolic one such as ``(n + 1)·m``."""
    python = expression.replace("·", "*").replace("−", "-").replace("⌊", "floor(").replace("⌋", ")")
    if not re.fullmatch(r"[\d\s+\-*/()]*", python.replace("floor(", "(")):
        return None
    return eval(python, {"__builtins__": {}, "floor": math.floor})  # noqa: S307 (digits and operators only)


def blocks(text: str) -> dict:
    """node index -> (op type, [(kind, formula)]) from the terminal --explain section."""
    out, current = {}, None
    for line in text.split("How the numbers are derived", 1)[1].splitlines():
        header, formula = HEADER.match(line), FORMULA.match(line)
        if header:
            current = int(header.group(1))
            out[current] = (header.group(3), [])
        elif formula and current is not None:
            out[current][1].append((formula.group(1), formula.group(2)))
    return out


def checked_equation(text: str) -> int:
    """``a = b = ... = value`` (a label such as ``H: `` before it, a remark after ``—``):
    every numeric side must evaluate to the value, and one at least must be numeric."""
    sides = text.split(": ", 1)[-1].split(" = ")
    value = int(sides[-1].split(" — ")[0].replace(",", ""))
    numeric = [evaluate(side) for side in sides[:-1] if evaluate(side) is not None]
    assert numeric and all(v == value for v in numeric), text
    return value


def _explain(path, *args):
    result = CliRunner().invoke(main, [str(path), "--explain", *args])
    assert result.exit_code == 0, result.output
    return result.output


@needs_unet
def test_unet_explanations_reproduce_the_article_and_onnxruntime():
    model = onnx.load(UNET)
    name = model.graph.input[0].name
    text = _explain(UNET, "--input", f"{name}=1,96,96,1")
    report = inspect_model(model, inputs={name: [1, 96, 96, 1]})
    actual = ort_shapes(model, random_feeds(model, {name: (1, 96, 96, 1)}))
    parsed = blocks(text)
    assert set(parsed) == {n.index for n in report.nodes}  # every node has its header line

    conv_params = []
    for node in report.nodes:
        op, formulas = parsed[node.index]
        assert op == node.op_type
        for kind, formula in formulas:
            if kind == "params":
                assert checked_equation(formula) == node.params
                if op == "Conv":
                    conv_params.append(node.params)
            elif kind == "shape" and formula[:3] in ("H: ", "W: "):
                axis = 2 if formula[0] == "H" else 3  # ONNX NCHW
                assert checked_equation(formula) == actual[node.outputs[0].name][axis]
            elif kind == "shape" and op == "Concat":  # "axis 1: 256 + 256 = 512"
                axis = int(re.match(r"axis (\d+): ", formula).group(1))
                assert checked_equation(formula) == actual[node.outputs[0].name][axis]
    # The article: conv 1, 2, 3 learn (3·3·1 + 1)·32, (3·3·32 + 1)·32 and (3·3·32 + 1)·64.
    assert conv_params[:3] == [(3 * 3 * 1 + 1) * 32, (3 * 3 * 32 + 1) * 32, (3 * 3 * 32 + 1) * 64]
    assert "= 320" in text and "= 9,248" in text and "= 18,496" in text
    # 'same' padding: input + 2·1 − (3 − 1) keeps 96; 2x2 pooling halves 96 to 48.
    assert "⌊(96 + 1 + 1 − 1·(3−1) − 1)/1⌋ + 1 = 96" in text
    pool = next(f for n in report.nodes if n.op_type == "MaxPool" for k, f in parsed[n.index][1] if k == "shape")
    assert checked_equation(pool) == 48 and "96 → 48" in pool


@needs_unet
def test_unet_markdown_explain_by_layer_groups_nodes_under_keras_layers():
    report_text = CliRunner().invoke(main, [UNET, "--explain", "--format", "markdown", "--by", "layer"]).output
    section = report_text.split("## How the numbers are derived", 1)[1]
    assert "- params: `(3·3·1/1 + 1)·32 = 320`" in section
    headings = re.findall(r"^### (\S+) \(", section, flags=re.M)
    assert headings[:4] == ["conv2d", "conv2d\\_1", "max\\_pooling2d", "conv2d\\_2"]
    # Under "conv2d_2" come its Conv and Relu nodes, with code-formatted names and shapes.
    block = section.split("### conv2d\\_2 (", 1)[1].split("###", 1)[0]
    assert re.search(r"\*\*#\d+\*\*\s+`[^`]+`\s+Conv → `\(N, 64, 48, 48\)`\s+18,496 params", block)
    assert re.search(r"\*\*#\d+\*\*\s+`[^`]+`\s+Relu → ", block)


def test_classic_cnn_explain_derives_the_first_dense_layer_input(tmp_path):
    path = tmp_path / "cnn.onnx"
    model = classic_cnn(batch=1)
    onnx.save(model, path)
    text = _explain(path)
    actual = ort_shapes(model, random_feeds(model, {"x": (1, 1, 28, 28)}))
    parsed = blocks(text)
    report = inspect_model(model)
    by_name = {n.name: n for n in report.nodes}
    # 28 -conv3-> 26 -pool2-> 13 -conv3-> 11 -pool2-> 5 (floor): 16·5·5 = 400 dense inputs.
    dense_inputs = 16 * ((((28 - 2) // 2) - 2) // 2) ** 2
    assert dense_inputs == actual["f"][1] == 400
    flatten = parsed[by_name["flatten"].index][1]
    assert any(kind == "shape" and formula.endswith(f"= (1, {dense_inputs})") for kind, formula in flatten)
    gemm_params = [f for k, f in parsed[by_name["fc"].index][1] if k == "params"]
    assert [checked_equation(f) for f in gemm_params] == [(dense_inputs + 1) * 10]
    assert f"({dense_inputs} + 1)·10" in gemm_params[0]
    # A node with no formulas still gets its one-line summary: op, shape and FLOPs.
    relu = by_name["relu1"]
    assert parsed[relu.index] == ("Relu", [])
    assert re.search(rf"#{relu.index}\s+relu1\s+Relu → \(1, 8, 26, 26\)\s+{8 * 26 * 26:,} FLOPs", text)


def test_explain_ends_with_the_peak_memory_breakdown(tmp_path):
    path = tmp_path / "cnn.onnx"
    onnx.save(classic_cnn(batch=1), path)
    text = _explain(path)
    memory = inspect_model(path).memory
    tail = text.split("Peak activation memory:", 1)[1].splitlines()
    assert tail[0].strip() == f"while {memory.peak_node} runs"
    listed = [line.strip().split(":")[0] for line in tail[1:] if line.startswith("    ") and "total" not in line]
    assert listed == [name for name, _ in memory.live_at_peak]


def test_json_explain_carries_the_same_formulas(tmp_path):
    import json

    path = tmp_path / "cnn.onnx"
    onnx.save(classic_cnn(batch=1), path)
    data = json.loads(CliRunner().invoke(main, [str(path), "--explain", "--format", "json"]).output)
    conv = next(n for n in data["nodes"] if n["name"] == "conv1")
    params = [e["text"] for e in conv["explain"] if e["kind"] == "params"]
    assert [checked_equation(t) for t in params] == [(3 * 3 * 1 + 1) * 8]


def test_branch_bodies_are_explained_under_their_node(tmp_path):
    from onnx import TensorProto, helper

    from truth import make_model

    F = TensorProto.FLOAT
    then_branch = helper.make_graph([helper.make_node("Add", ["a", "a"], ["t"], name="twice")], "then", [],
                                    [helper.make_tensor_value_info("t", F, None)])
    else_branch = helper.make_graph([helper.make_node("Neg", ["a"], ["e"], name="neg")], "else", [],
                                    [helper.make_tensor_value_info("e", F, None)])
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="a"),
             helper.make_node("If", ["cond"], ["i"], name="if", then_branch=then_branch, else_branch=else_branch)]
    path = tmp_path / "if.onnx"
    onnx.save(make_model(nodes, [("x", F, [1, 4, 8, 8]), ("cond", TensorProto.BOOL, [])], [("i", F, None)]), path)
    lines = _explain(path).split("How the numbers are derived", 1)[1].splitlines()
    then_at, else_at = lines.index("  [then_branch]"), lines.index("  [else_branch]")
    owner = [line for line in lines[:then_at] if line.startswith("#")][-1]
    assert re.match(r"#1\s+if\s+If → \(1, 4, 8, 8\)", owner)
    assert re.match(rf" {{4}}#0\s+twice\s+Add → \(1, 4, 8, 8\)\s+{4 * 8 * 8} FLOPs", lines[then_at + 1])
    assert re.match(rf" {{4}}#0\s+neg\s+Neg → \(1, 4, 8, 8\)\s+{4 * 8 * 8} FLOPs", lines[else_at + 1])
