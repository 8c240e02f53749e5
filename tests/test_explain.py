"""``--explain``: every printed formula is true arithmetic and equals the independent truth
(the seed article's per-layer counts, onnxruntime's actual shapes)."""

from __future__ import annotations

import math
import os
import re

import onnx
import pytest
from click.testing import CliRunner
from test_flops_totals import classic_cnn
from truth import ort_shapes, random_feeds

from onnxinspect import inspect_model
from onnxinspect.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNET = os.path.join(ROOT, "fixtures", "unet.onnx")
needs_unet = pytest.mark.skipif(not os.path.exists(UNET), reason="fixtures/unet.onnx not exported yet")

# A node's row of the terminal table: index, name, op, output shape, params, FLOPs.
ROW = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(\([^)]*\)|-)\s+(\S+)\s+(\S+)")
FORMULA = re.compile(r"^(\s+)(params|shape|flops)\s+(.*)$")
RULE = re.compile(r"^─+$")


def evaluate(expression: str):
    """The value of a printed formula such as ``⌊(96 + 1 + 1 − 1·(3−1) − 1)/1⌋ + 1``, or
    None for a symbolic one such as ``(n + 1)·m``."""
    python = expression.replace("·", "*").replace("−", "-").replace("⌊", "floor(").replace("⌋", ")")
    if not re.fullmatch(r"[\d\s+\-*/()]*", python.replace("floor(", "(")):
        return None
    return eval(python, {"__builtins__": {}, "floor": math.floor})  # noqa: S307 (digits and operators only)


def table_lines(text: str) -> list:
    """The lines between the table's two rules; the footer must follow the second rule, and
    no separate explanation section may follow the table."""
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if RULE.match(line)]
    assert len(rules) == 2, text
    assert lines[rules[1] + 1].startswith("Total params:"), lines[rules[1] + 1]
    assert "How the numbers are derived" not in text
    return lines[rules[0] + 1:rules[1]]


def formula_runs(lines, lead_of=None):
    """Group ``lines`` into (owner line, [(kind, formula)]) runs: a formula line belongs to the
    last non-formula line above it; a line indented exactly under the previous formula's text
    continues it (a wide FLOPs formula breaks after its ``; ``)."""
    runs, lead = [], None
    for line in lines:
        formula = FORMULA.match(line)
        if formula and runs:
            runs[-1][1].append((formula.group(2), formula.group(3)))
            lead = formula.start(3)
        elif lead is not None and runs and runs[-1][1] and len(line) - len(line.lstrip()) == lead:
            kind, previous = runs[-1][1][-1]
            runs[-1][1][-1] = (kind, previous + "; " + line.strip())
        else:
            runs.append((line, []))
            lead = None
    return runs


def blocks(text: str) -> dict:
    """node index -> (op type, [(kind, formula)], row match) from the terminal table, where
    each node's formulas come directly under its row.  Rows of If/Loop bodies (no index) and
    their titles own their formulas, so none is credited to the node above them."""
    out = {}
    for line, formulas in formula_runs(table_lines(text)):
        row = ROW.match(line)
        if row:
            index = int(row.group(1))
            assert index not in out, line
            out[index] = (row.group(3), formulas, row)
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


def shape_cell(cell: str) -> tuple:
    return tuple(int(d) for d in cell.strip("()").split(", ") if d)


@needs_unet
def test_unet_explanations_reproduce_the_article_and_onnxruntime():
    model = onnx.load(UNET)
    name = model.graph.input[0].name
    text = _explain(UNET, "--input", f"{name}=1,96,96,1")
    report = inspect_model(model, inputs={name: [1, 96, 96, 1]}, explain=True)
    actual = ort_shapes(model, random_feeds(model, {name: (1, 96, 96, 1)}))
    parsed = blocks(text)
    assert list(parsed) == [n.index for n in report.nodes]  # every node has its row, in order

    conv_params = []
    for node in report.nodes:
        op, formulas, row = parsed[node.index]
        assert op == node.op_type and row.group(2) == node.name
        assert shape_cell(row.group(4)) == actual[node.outputs[0].name]
        assert (row.group(5), row.group(6)) == (f"{node.params:,}", f"{node.flops:,}")
        assert [kind for kind, _ in formulas] == [kind for kind, _ in node.explanations]
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
            elif kind == "flops" and op == "Conv":  # "MACs = ... = m; FLOPs = 2·MACs + bias = f"
                macs, flops = formula.split("; ")
                bias = math.prod(actual[node.outputs[0].name])  # one add per output element
                assert 2 * checked_equation(macs) + bias == int(flops.rsplit(" = ", 1)[1].replace(",", "")) \
                    == node.flops
    # The article: conv 1, 2, 3 learn (3·3·1 + 1)·32, (3·3·32 + 1)·32 and (3·3·32 + 1)·64.
    assert conv_params[:3] == [(3 * 3 * 1 + 1) * 32, (3 * 3 * 32 + 1) * 32, (3 * 3 * 32 + 1) * 64]
    assert "= 320" in text and "= 9,248" in text and "= 18,496" in text
    # 'same' padding: input + 2·1 − (3 − 1) keeps 96; 2x2 pooling halves 96 to 48.
    assert "⌊(96 + 1 + 1 − 1·(3−1) − 1)/1⌋ + 1 = 96" in text
    pool = next(f for n in report.nodes if n.op_type == "MaxPool" for k, f in parsed[n.index][1] if k == "shape")
    assert checked_equation(pool) == 48 and "96 → 48" in pool
    # The formulas sit in the table, then comes the footer, then the peak breakdown.
    assert text.index("Total params:") < text.index("Peak activation memory:")


LAYER_NODE = re.compile(r"^ {4}#(\d+) (\S+) \((\S+)\)$")
CONVERTER_NOTE = "    layout conversion inserted by the converter"


@needs_unet
def test_unet_layer_table_explain_lists_each_layers_nodes_and_formulas():
    model = onnx.load(UNET)
    name = model.graph.input[0].name
    text = _explain(UNET, "--by", "layer", "--input", f"{name}=1,96,96,1")
    report = inspect_model(model, inputs={name: [1, 96, 96, 1]}, explain=True, layers=True)
    actual = ort_shapes(model, random_feeds(model, {name: (1, 96, 96, 1)}))
    # Layer rows start at column 0; under each come its converter note (if any), then its
    # nodes as "    #<index> <name> (<op>)", each followed by its formulas.
    layers = []
    for line, formulas in formula_runs(table_lines(text)):
        node = LAYER_NODE.match(line)
        if line.startswith(CONVERTER_NOTE):
            assert not formulas and layers and not layers[-1][2], line
            layers[-1][1] = True
        elif node:
            assert layers, line
            layers[-1][2].append((int(node.group(1)), node.group(2), node.group(3), formulas))
        else:
            assert not line.startswith(" ") and not formulas, line
            layers.append([line.split()[0], False, []])
    assert [(n, c) for n, c, _ in layers] == [(r.name, r.converter) for r in report.layers]
    assert layers[0][1] and layers[-1][1]  # the input's and the output's Reshape
    for (layer, _, nodes), row in zip(layers, report.layers, strict=True):
        assert [(i, n, op) for i, n, op, _ in nodes] == [(n.index, n.name, n.op_type) for n in row.nodes], layer
        params = 0
        for (_, _, _, formulas), node in zip(nodes, row.nodes, strict=True):
            assert [kind for kind, _ in formulas] == [kind for kind, _ in node.explanations], node.name
            for kind, formula in formulas:
                if kind == "params":
                    params += checked_equation(formula)
                elif kind == "shape" and formula[:3] in ("H: ", "W: "):
                    axis = 2 if formula[0] == "H" else 3
                    assert checked_equation(formula) == actual[node.outputs[0].name][axis]
        assert params == row.params, layer  # the layer's params are its nodes' formulas summed
    assert sum(r.params for r in report.layers) == report.totals.params
    assert text.index("Total params:") < text.index("Peak activation memory:")


@needs_unet
def test_unet_markdown_explain_by_layer_groups_nodes_under_keras_layers():
    report_text = CliRunner().invoke(main, [UNET, "--explain", "--format", "markdown", "--by", "layer"]).output
    table, section = report_text.split("## How the numbers are derived", 1)
    assert "| conv2d_2 | Conv, Relu | (N, 64, 48, 48) | 18,496 |" in table  # the section follows the table
    assert "- params: `(3·3·1/1 + 1)·32 = 320`" in section
    rows = inspect_model(UNET, layers=True).layers
    headings = re.findall(r"^### (\S+) \(", section, flags=re.M)
    md = lambda name: name.replace("_", "\\_")  # noqa: E731
    assert headings == [md(r.name) for r in rows]
    # The converter's Reshapes at the input and at the output have headings of their own.
    assert rows[0].converter and rows[-1].converter and rows[0].op_types == rows[-1].op_types == ["Reshape"]
    assert headings[1:5] == ["conv2d", "conv2d\\_1", "max\\_pooling2d", "conv2d\\_2"]
    assert f"### {md(rows[0].name)} (Reshape): 0 params, 0 FLOPs" in section
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
    assert list(parsed) == [n.index for n in report.nodes]
    by_name = {n.name: n for n in report.nodes}
    # 28 -conv3-> 26 -pool2-> 13 -conv3-> 11 -pool2-> 5 (floor): 16·5·5 = 400 dense inputs.
    dense_inputs = 16 * ((((28 - 2) // 2) - 2) // 2) ** 2
    assert dense_inputs == actual["f"][1] == 400
    flatten = parsed[by_name["flatten"].index][1]
    assert any(kind == "shape" and formula.endswith(f"= (1, {dense_inputs})") for kind, formula in flatten)
    gemm_params = [f for k, f in parsed[by_name["fc"].index][1] if k == "params"]
    assert [checked_equation(f) for f in gemm_params] == [(dense_inputs + 1) * 10]
    assert f"({dense_inputs} + 1)·10" in gemm_params[0]
    # A node with no formulas still gets its row: op, shape and FLOPs, and nothing under it.
    relu = by_name["relu1"]
    op, formulas, row = parsed[relu.index]
    assert (op, formulas) == ("Relu", [])
    assert (row.group(2), shape_cell(row.group(4)), row.group(6)) == ("relu1", (1, 8, 26, 26), f"{8 * 26 * 26:,}")
    # The first formulas come straight under the first row, not after the table.
    lines = text.splitlines()
    assert ROW.match(lines[2]).group(2) == "conv1" and FORMULA.match(lines[3]).group(2) == "params"


def test_explain_ends_with_the_peak_memory_breakdown(tmp_path):
    path = tmp_path / "cnn.onnx"
    onnx.save(classic_cnn(batch=1), path)
    text = _explain(path)
    memory = inspect_model(path).memory
    footer, peak = text.split("Peak activation memory:", 1)
    assert "Total params:" in footer and "Model:" in footer.splitlines()[-2]  # after the footer, a blank line
    tail = peak.splitlines()
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
    runs = formula_runs(table_lines(_explain(path)))
    owners = [line.strip() for line, _ in runs]
    # The If's row, its FLOPs formula, then each branch's title and its (index-less) rows.
    at = next(i for i, (line, _) in enumerate(runs) if (ROW.match(line) or [None] * 3)[2] == "if")
    assert re.match(rf"1\s+if\s+If\s+\(1, 4, 8, 8\)\s+0\s+{4 * 8 * 8}\s", owners[at])
    assert [kind for kind, _ in runs[at][1]] == ["flops"]
    assert runs[at][1][0][1] == f"then branch {4 * 8 * 8}, else branch {4 * 8 * 8}"
    assert owners[at + 1] == "[then_branch]" and owners[at + 3] == "[else_branch]"
    assert re.fullmatch(rf"twice\s+Add\s+\(1, 4, 8, 8\)\s+0\s+{4 * 8 * 8}", owners[at + 2])
    assert re.fullmatch(rf"neg\s+Neg\s+\(1, 4, 8, 8\)\s+0\s+{4 * 8 * 8}", owners[at + 4])
    # The body's formulas are indented under the body's row, deeper than the If's.
    twice_line, twice_formulas = runs[at + 2]
    assert [kind for kind, _ in twice_formulas] == ["shape"]
    assert not ROW.match(twice_line) and twice_line.index("twice") > runs[at][0].index("if")
