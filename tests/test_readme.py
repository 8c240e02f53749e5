"""The README, executed: every example prints and returns what the README says it does.

Excerpts are parsed out of README.md (never copied here), so an edit to either the README
or the program that makes them disagree fails this file.  Truth is the real command
(click's CliRunner) and the library; exit code 3 comes from a genuine disagreement with
onnx.shape_inference, settled by onnxruntime's actual shape.
"""

import ast
import json
import os
import re
import textwrap

import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from onnxinspect import inspect_model, registered_ops
from onnxinspect.analyse.check import compare_with_onnx
from onnxinspect.cli import main
from onnxinspect.ops import registry
from test_flops_totals import classic_cnn
from truth import make_model, ort_shapes, random_feeds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
UNET = "fixtures/unet.onnx"
needs_unet = pytest.mark.skipif(not os.path.exists(os.path.join(ROOT, UNET)), reason="no fixtures/unet.onnx")
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.M | re.S)


def section(title: str) -> str:
    """The README text under the heading ``title`` (up to the next heading of its level
    or higher), headings inside code fences ignored."""
    lines, out, level, fenced = README.splitlines(), None, 0, False
    for line in lines:
        fenced ^= line.lstrip().startswith("```")
        heading = None if fenced else re.match(r"(#+) (.*)", line)
        if out is not None and heading and len(heading.group(1)) <= level:
            break
        if out is not None:
            out.append(line)
        elif heading and heading.group(2).strip() == title:
            out, level = [], len(heading.group(1))
    assert out is not None, f"README has no heading {title!r}"
    return "\n".join(out) + "\n"


def code_blocks(text: str, lang: str = None) -> list:
    return [textwrap.dedent(body) for _, info, body in FENCE.findall(text) if lang is None or info == lang]


def run(args, cwd=ROOT):
    """(exit code, stdout, stderr) of the real command run from ``cwd``."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, [str(a) for a in args])
    finally:
        os.chdir(old)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def assert_excerpt(excerpt: str, output: str):
    """Every line of the README excerpt (``...`` and the ``$`` command line aside) is a line
    of the real output, verbatim."""
    real = {line.rstrip() for line in output.splitlines()}
    shown = [line.rstrip() for line in excerpt.splitlines()
             if line.strip() not in ("", "...") and not line.startswith("$ ")]
    assert shown, excerpt
    missing = [line for line in shown if line not in real]
    assert not missing, "README lines not in the real output:\n" + "\n".join(missing)


def command_of(excerpt: str) -> list:
    first = excerpt.splitlines()[0]
    assert first.startswith("$ onnxinspect "), first
    return first.split()[2:]


# (a) the Library example ------------------------------------------------------------

def _shown(value, code: str) -> str:
    """``value`` as the README's comment writes it: repr, a bare tuple without parentheses."""
    if isinstance(value, tuple) and not code.startswith("("):
        return ", ".join(repr(v) for v in value)
    return repr(value)


PROSE = {"exactly the JSON contract"}


def _is_python(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
        return True
    except SyntaxError:
        return False


@needs_unet
def test_library_example_returns_what_its_comments_say(monkeypatch):
    monkeypatch.chdir(ROOT)
    code = code_blocks(section("Library"), "python")[0]
    namespace, claims = {}, 0
    for line in code.splitlines():
        statement, _, comment = (part.strip() for part in line.partition("  # "))
        if not statement:
            continue
        exec(statement, namespace)  # noqa: S102 (the README's own code)
        if comment and isinstance(ast.parse(statement).body[0], ast.Expr):
            if not _is_python(comment):   # prose about an expression: checked below
                assert comment in PROSE, f"README claim not checked by this test: {line}"
                continue
            assert _shown(eval(statement, namespace), statement) == comment, line  # noqa: S307
            claims += 1
    assert claims == 4   # params, flops, the conv's (params, shape), the concrete flops
    report, concrete = namespace["report"], namespace["concrete"]

    # The prose comments: "a path, bytes or an onnx.ModelProto", "or inputs={...}",
    # "exactly the JSON contract".
    path = os.path.join(ROOT, UNET)
    model = onnx.load(path)
    for source in (open(path, "rb").read(), model):
        other = inspect_model(source)
        assert (other.totals.params, other.totals.flops) == (report.totals.params, report.totals.flops)
    alternative = re.search(r"# or inputs=(\{.*\})", code).group(1)
    by_input = inspect_model(UNET, inputs=eval(alternative))  # noqa: S307
    assert by_input.totals.flops == concrete.totals.flops
    status, stdout, _ = run([UNET, "--format", "json"])
    assert status == 0 and report.to_dict() == json.loads(stdout)


@needs_unet
def test_library_prose_dims_fields_and_errors(monkeypatch):
    from onnxinspect import ModelLoadError, UsageError
    from onnxinspect.report import NodeReport

    monkeypatch.chdir(ROOT)
    report = inspect_model(UNET)
    # "expr.subs({"N": 8})" and the FLOPs section's "--dim N=8 ... gives numbers (27,120,254,976)"
    eight = re.search(r"gives numbers \(([\d,]+)\)", README).group(1)
    assert report.totals.flops.subs({"N": 8}) == int(eight.replace(",", ""))
    assert inspect_model(UNET, dims={"N": 8}).totals.flops == int(eight.replace(",", ""))
    # The NodeReport fields the Library section lists.
    listed = re.search(r"`nodes: \[NodeReport\]` \(`([^`]+)`\)", section("Library").replace("\n  ", " ")).group(1)
    fields = [f.strip() for f in listed.split(",")]
    assert len(fields) >= 10 and all(hasattr(report.nodes[0], f) for f in fields), fields
    assert set(fields) <= set(NodeReport.__dataclass_fields__)
    # "each has .path and .reason"
    with pytest.raises(ModelLoadError) as load_error:
        inspect_model(b"not a model")
    with pytest.raises(UsageError) as usage_error:
        inspect_model(UNET, dims={"Q": 1})
    for error in (load_error.value, usage_error.value):
        assert error.reason and hasattr(error, "path")


# (b) registering your own op -------------------------------------------------------

@pytest.fixture
def fresh_domain():
    domain = "org.readme.test"
    yield domain
    registry._RULES.pop((domain, "MyScale"), None)


def test_register_your_own_op_example(fresh_domain):
    block = next(b for b in code_blocks(section("Library"), "python") if "@register" in b)
    assert 'domain="com.example"' in block
    exec(block.replace('domain="com.example"', f'domain="{fresh_domain}"'), {})  # noqa: S102
    assert (fresh_domain, "MyScale") in registered_ops()

    def scaled(shape):
        node = helper.make_node("MyScale", ["x"], ["y"], name="scale", domain=fresh_domain)
        return make_model([node], [("x", TensorProto.FLOAT, shape)], [("y", TensorProto.FLOAT, None)],
                          domains={fresh_domain: 1})

    report = inspect_model(scaled(["N", 3, 4]), explain=True)
    node = report.nodes[0]
    assert [str(d) for d in node.outputs[0].shape] == ["N", "3", "4"]     # same shape as the input
    assert node.outputs[0].dtype == "float32"                             # input 0's dtype
    assert str(node.flops) == "12*N" and str(report.totals.flops) == "12*N"
    assert ("shape", "same shape as the input") in node.explanations
    assert not report.warnings and not report.totals.unknown_ops          # the rule was used
    # "raises Unknown -> outputs reported unknown": an input of unknown rank.
    unknown = inspect_model(scaled(None))
    assert unknown.nodes[0].outputs[0].shape is None and unknown.nodes[0].flops is None
    assert unknown.totals.flops is None


# (c) the printed excerpts -----------------------------------------------------------

@needs_unet
def test_quick_start_table_excerpt_is_the_real_output():
    excerpt = next(b for b in code_blocks(section("Quick start"), "") if "Total params:" in b)
    status, stdout, stderr = run([UNET])
    assert status == 0 and stderr == ""
    assert_excerpt(excerpt, stdout)
    # The footer block of "Activation memory" too.
    footer = re.search(r"Footer \(U-Net\):\n\n((?: {4}.*\n)+)", README).group(1)
    assert_excerpt(textwrap.dedent(footer), stdout)


@needs_unet
def test_by_layer_excerpt_is_the_real_output():
    excerpt = code_blocks(section("`--by layer`: the ONNX graph read back as Keras layers"))[0]
    status, stdout, _ = run(command_of(excerpt))
    assert status == 0
    assert_excerpt(excerpt, stdout)


@needs_unet
def test_explain_excerpts_are_the_real_output(tmp_path):
    unet_block, cnn_block = code_blocks(section("`--explain`: the arithmetic behind the article"))[:2]
    status, stdout, _ = run(command_of(unet_block))
    assert status == 0
    assert_excerpt(unet_block, stdout)
    # The classic CNN (Conv → MaxPool → Conv → MaxPool → Flatten → Dense) of test_flops_totals.
    path = tmp_path / "cnn.onnx"
    onnx.save(classic_cnn(), path)
    status, stdout, _ = run([path, "--explain"])
    assert status == 0
    assert_excerpt(cnn_block, stdout)


def test_unknown_cost_footer_line_is_the_real_output(tmp_path):
    line = re.search(r"\n {4}(FLOPs: +unknown: .*)\n", README).group(1)
    path = tmp_path / "mystery.onnx"
    onnx.save(classic_cnn(batch=1, mystery=True), path)
    status, stdout, stderr = run([path])
    assert status == 0 and "no shape rule" in stderr
    assert_excerpt(line, stdout)
    status, stdout, _ = run([path, "--format", "json"])
    totals = json.loads(stdout)["totals"]
    shown = re.search(r'\(JSON: (`.*`)\)', README).group(1)
    for key, value in re.findall(r'"(\w+)": (\w+)', shown):
        assert totals[key] == json.loads(value), key


LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def test_batch_mode_excerpt_is_the_real_output(tmp_path):
    """The README's ``models/`` tree rebuilt from the onnx wheel's light models (and a
    file of junk); a line abridged with ``(...)`` must begin a real line."""
    excerpt = next(b for b in code_blocks(section("Batch mode"), "") if b.startswith("$ onnxinspect models/"))
    for line in excerpt.splitlines():
        match = re.match(r"(models/\S+\.onnx) ", line)
        if match:
            target = tmp_path / match.group(1)
            target.parent.mkdir(parents=True, exist_ok=True)
            light = os.path.join(LIGHT, target.name)
            target.write_bytes(open(light, "rb").read() if os.path.exists(light) else b"junk")
    status, stdout, stderr = run(command_of(excerpt), cwd=tmp_path)
    assert status == 1   # one model failed
    real = (stdout + stderr).splitlines()
    abridged = [line for line in excerpt.splitlines() if line.endswith(" (...)")]
    for line in abridged:
        assert any(r.startswith(line[:-len("...)")]) for r in real), line
    assert_excerpt("\n".join(l for l in excerpt.splitlines() if l not in abridged), stdout + stderr)


# (d) options and exit codes ---------------------------------------------------------

def _help(command: str) -> str:
    status, stdout, _ = run([command, "--help"])
    assert status == 0
    return stdout


def _synopses() -> dict:
    """subcommand -> the README synopsis text for it, from both synopsis blocks."""
    blocks = code_blocks(section("Command line"), "")[:1] + code_blocks(section("Commands"), "bash")[:1]
    out, current = {}, None
    for block in blocks:
        for line in block.replace("\\\n", "\n").splitlines():
            if line.startswith("onnxinspect "):
                word = line.split()[1]
                current = word if word in ("export", "verify", "export-and-verify") else "inspect"
            out[current] = out.get(current, "") + " " + line.split("#")[0]
    return out


def test_every_option_in_the_readme_exists_with_its_choices():
    rows = re.findall(r"^\| `(--[\w-]+)[^`]*` \|", section("Command line"), flags=re.M)
    assert rows == ["--format", "--input", "--dim", "--explain", "--by", "--check"]
    inspect_help = _help("inspect")
    for option in rows:
        assert re.search(rf"^\s+{option}\b", inspect_help, flags=re.M), option
    synopses = _synopses()
    assert set(synopses) == {"inspect", "export", "verify", "export-and-verify"}
    for name, text in synopses.items():
        options = options_of(name)
        for option in set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", text)):
            assert option in options, f"{name} {option}"
        shown = {}   # option -> every value the synopses offer (batch mode's --format is a subset)
        for option, values in re.findall(r"(--[\w-]+) ([a-z]+(?:\|[a-z]+)+)", text):
            shown.setdefault(option, set()).update(values.split("|"))
        for option, values in shown.items():
            assert values == set(options[option].type.choices), f"{name} {option}"
    # The option table's --format row names the same four formats.
    fmt_row = re.search(r"^\| `--format` \|(.*)$", section("Command line"), flags=re.M).group(1)
    assert re.findall(r"`(\w+)`", fmt_row) == list(options_of("inspect")["--format"].type.choices)


def options_of(name: str) -> dict:
    import click

    command = main.get_command(click.Context(main), name)
    return {opt: param for param in command.params for opt in param.opts}


@needs_unet
def test_exit_codes_0_1_2(tmp_path):
    status, stdout, stderr = run([UNET])
    assert status == 0 and stdout and stderr == ""
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"hello")
    status, stdout, stderr = run([bad])
    assert status == 1 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith(f"onnxinspect: error: {bad}: ") and "Traceback" not in stderr
    for usage in (["--dim", "N=abc"], ["--input", "nope=1,2"], ["--explain", "--format", "csv"]):
        status, stdout, stderr = run([UNET, *usage])
        assert status == 2 and stdout == "" and stderr.count("\n") == 1, usage


def _ceil_mode_pool(opset: int) -> onnx.ModelProto:
    """MaxPool, ceil_mode, whose last window would start in the right padding: onnxruntime
    drops it (3 outputs); onnx.shape_inference before opset 22 keeps it (4)."""
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2], strides=[2], pads=[1, 1],
                            ceil_mode=1, name="pool")
    return make_model([node], [("x", TensorProto.FLOAT, [1, 1, 5])], [("y", TensorProto.FLOAT, None)], opset=opset)


def test_exit_3_on_a_real_conflict_with_onnx_shape_inference(tmp_path):
    model = _ceil_mode_pool(17)
    actual = ort_shapes(model, random_feeds(model, {"x": (1, 1, 5)}))["y"]
    assert actual == (1, 1, 3)
    path = tmp_path / "pool.onnx"
    onnx.save(model, path)
    status, stdout, _ = run([path, "--check"])
    assert status == 3
    row = next(line.split() for line in stdout.splitlines() if line.strip().startswith("conflict "))
    assert row[:2] == ["conflict", "y"] and "(1, 1, 3)" in " ".join(row)
    assert compare_with_onnx(inspect_model(path), path).counts["conflict"] == 1   # the library agrees
    # opset 22's shape inference drops the window too: agreement, exit 0.
    onnx.save(_ceil_mode_pool(22), path)
    assert run([path, "--check"])[0] == 0


# (e) the JSON contract --------------------------------------------------------------

TOKEN = re.compile(r'"[^"]*"|\.\.\.|[{}\[\]:,?]|[A-Za-z_][\w|]*')


def parse_contract(text: str):
    """The README's contract sketch as a tree: ("obj", {key: (optional, child)}), ("arr",
    [child]) or ("leaf", token).  A bare-word key (``domain``, ``name``) is a map's key."""
    tokens = TOKEN.findall(re.sub(r"#.*", "", text))
    position = 0

    def take():
        nonlocal position
        position += 1
        return tokens[position - 1]

    def value():
        token = take()
        if token == "{":
            entries = {}
            while tokens[position] != "}":
                key = take()
                optional = tokens[position] == "?" and bool(take())
                child = None
                if tokens[position] == ":":
                    take()
                    child = value()
                entries[key] = (optional, child)
                if tokens[position] == ",":
                    take()
            take()
            return ("obj", entries)
        if token == "[":
            items = []
            while tokens[position] != "]":
                items.append(value())
                if tokens[position] == ",":
                    take()
            take()
            return ("arr", items)
        return ("leaf", token)

    return value()


DIM = (int, str, type(None))
COUNT = (int, str, type(None))   # a symbolic count is an expression string; unknown is null
# The type of every key the sketch lists without one (the README's prose gives them).
TYPES = {
    "path": str, "ir_version": int, "producer": str, "producer_version": str, "graph_name": str,
    "name": str, "dtype": str, "shape": (list, type(None)), "index": int, "op_type": str, "domain": str, "macs": COUNT,
    "known_op": bool, "flops_share": (float, int, type(None)), "output_bytes": COUNT, "live_bytes": COUNT,
    "kind": str, "text": str, "unique_params": int, "param_bytes": int, "nodes": int,
    "params_by_dtype": dict, "bytes_by_dtype": dict, "op_histogram": dict, "flops": COUNT,
    "unknown_ops": list, "flops_known": COUNT, "macs_known": COUNT, "unknown_flop_nodes": int,
    "activation_bytes": COUNT, "peak_bytes": COUNT, "peak_node": (str, type(None)),
    "peak_index": (int, type(None)), "bytes": COUNT, "known_peak_bytes": COUNT, "unknown_tensors": list,
    "evaluated_at": dict, "params": int, "param_inputs": list, "shared_params": list,
}
LEAF_TYPES = {"int": int, "str": str, "int|str|null": COUNT, "version": int}   # "version": an opset


def check_contract(spec, actual, seen, where="$"):
    kind, content = spec
    if kind == "obj":
        assert isinstance(actual, dict), where
        for key, (optional, child) in content.items():
            if not key.startswith('"'):   # {domain: version}, {name: [...]}: every entry
                for k, v in actual.items():
                    assert isinstance(k, str), where
                    if child is not None:
                        check_contract(child, v, seen, f"{where}.{k}")
                continue
            name = key.strip('"')
            if name not in actual:
                assert optional, f"{where}.{name} missing"
                continue
            seen.add(name)
            if child is None:
                assert name in TYPES, f"README key {where}.{name}: add its type to TYPES"
                assert isinstance(actual[name], TYPES[name]), f"{where}.{name} = {actual[name]!r}"
                if name == "dtype":
                    assert actual[name] == actual[name].lower(), where
            else:
                check_contract(child, actual[name], seen, f"{where}.{name}")
    elif kind == "arr":
        assert isinstance(actual, list), where
        element = content[0] if content and content[0] != ("leaf", "...") else None
        for i, item in enumerate(actual):
            if element is not None and element[0] != "leaf":
                check_contract(element, item, seen, f"{where}[{i}]")
    else:
        if content.startswith('"'):
            assert actual == content.strip('"'), where
        else:
            assert content in LEAF_TYPES, f"README type {content!r} at {where}: add it to LEAF_TYPES"
            assert isinstance(actual, LEAF_TYPES[content]), f"{where} = {actual!r}"


def _shapes_are_dims(data):
    for tensor in data["inputs"] + data["outputs"] + [t for n in data["nodes"] for t in n["inputs"] + n["outputs"]]:
        shape = tensor["shape"]
        assert shape is None or (isinstance(shape, list) and all(isinstance(d, DIM) for d in shape)), tensor


@needs_unet
@pytest.mark.parametrize("extra", [[], ["--explain", "--by", "layer"]])
def test_json_output_has_every_contract_key_with_its_type(extra):
    sketch = code_blocks(section("JSON contract (`--format json`, schema `onnxinspect/1`)"), "")[0]
    spec = parse_contract(sketch)
    status, stdout, _ = run([UNET, "--format", "json", *extra])
    assert status == 0 and len(stdout.strip().splitlines()) == 1   # compact, one object
    data = json.loads(stdout)
    seen = set()
    check_contract(spec, data, seen)
    _shapes_are_dims(data)
    assert {"schema", "model", "inputs", "outputs", "nodes", "totals", "memory", "warnings"} <= seen
    if extra:   # the optional keys appear when asked for
        assert "layers" in data and all("explain" in n for n in data["nodes"] if n["op_type"] == "Conv")
        assert {"explain", "kind", "text"} <= seen
    assert isinstance(data["totals"]["flops"], str) and data["totals"]["flops"].endswith("*N")
