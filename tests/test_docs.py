"""The documentation, executed: README.md and docs/*.md print and return what they say.

A *sample* is a fenced block whose first line starts with ``$ `` (docs/architecture.md,
"How the docs are tested").  Every ``$`` line is run from the repository root and the lines
after it are checked against its real output (stdout and stderr together):

* each shown line is a line of the real output, verbatim (trailing spaces aside); ``...``
  and blank lines stand for lines left out; a line ending in `` (...)`` is abridged and must
  begin a real line;
* ``/tmp/`` in a command and its lines is a fresh temporary folder;
* ``A && B && onnxinspect ...``: only the last command runs (the others install);
* exit status 0 unless the command ends with ``# exit N``;
* ``onnxinspect`` runs in this process (click's CliRunner); the TensorFlow subcommands
  (export, verify, export-and-verify: ``@pytest.mark.tensorflow``), ``python ...`` (this
  interpreter) and anything else (``echo``) in a shell, with CUDA hidden so the device line
  is the same on every machine.

Other blocks are checked by the tests below them: the library example's comments, the
operator list (generated: ``python tests/test_docs.py`` rewrites docs/operators.md), the
JSON contract sketch, the option tables and the links.
"""

import ast
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from onnxinspect import inspect_model, registered_ops
from onnxinspect.cli import main
from onnxinspect.ops import registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md", "CHANGELOG.md"] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
UNET = "fixtures/unet.onnx"
FENCE = re.compile(r"^( *)```([\w-]*)\n(.*?)^\1```", re.M | re.S)
TF_COMMANDS = ("export", "verify", "export-and-verify")
TEST_COMMAND = "python -m pytest"      # the Quick start's second command is this suite itself


def read(page: str) -> str:
    return open(os.path.join(ROOT, page), encoding="utf-8").read()


def blocks(page: str):
    """(line number, info string, dedented body) of every fenced block of ``page``."""
    text = read(page)
    for match in FENCE.finditer(text):
        yield text.count("\n", 0, match.start()) + 1, match.group(2), textwrap.dedent(match.group(3))


def section(page: str, title: str) -> str:
    """The text of ``page`` under the heading ``title``, up to the next heading of its level
    or higher (headings inside code fences ignored)."""
    out, level, fenced = None, 0, False
    for line in read(page).splitlines():
        fenced ^= line.lstrip().startswith("```")
        heading = None if fenced else re.match(r"(#+) (.*)", line)
        if out is not None and heading and len(heading.group(1)) <= level:
            break
        if out is not None:
            out.append(line)
        elif heading and heading.group(2).strip() == title:
            out, level = [], len(heading.group(1))
    assert out is not None, f"{page} has no heading {title!r}"
    return "\n".join(out) + "\n"


# (a) the samples --------------------------------------------------------------------

def samples():
    """One pytest param per sample block: (page, line, [(command line, [shown lines])])."""
    out = []
    for page in PAGES:
        for line, _, body in blocks(page):
            if not body.startswith("$ "):
                continue
            steps = []
            for text in body.splitlines():
                if text.startswith("$ "):
                    steps.append((text[2:], []))
                else:
                    steps[-1][1].append(text)
            if any(TEST_COMMAND in command for command, _ in steps):
                continue   # running the whole suite inside itself
            needs_tf = any(_words(command)[1:2] and _words(command)[1] in TF_COMMANDS for command, _ in steps)
            marks = [pytest.mark.tensorflow] if needs_tf else []
            out.append(pytest.param(page, line, steps, marks=marks, id=f"{page}:{line}"))
    return out


def _words(command: str) -> list:
    command = command.rpartition("&&")[2]
    return shlex.split(command.partition("  # ")[0])


def run_command(command: str, tmp: str):
    """(exit status, stdout + stderr) of one sample command."""
    command = command.rpartition("&&")[2].strip().replace("/tmp/", tmp + "/")
    words = _words(command)
    if words[0] == "onnxinspect" and words[1] not in TF_COMMANDS:
        result = CliRunner().invoke(main, words[1:])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout + result.stderr
    if words[0] == "onnxinspect":
        from export_helpers import require_tensorflow

        require_tensorflow()
        command = shlex.join([sys.executable, "-c", "from onnxinspect.cli import main; main()", *words[1:]])
    elif words[0] == "python":
        command = shlex.join([sys.executable, *words[1:]])
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


def assert_shown(shown: list, output: str, where: str):
    real = [line.rstrip() for line in output.splitlines()]
    missing = []
    for line in (s.rstrip() for s in shown):
        if line.strip() in ("", "..."):
            continue
        if line.endswith(" (...)"):
            if not any(r.startswith(line[:-len("(...)")]) for r in real):
                missing.append(line)
        elif line not in real:
            missing.append(line)
    assert not missing, f"{where}: lines not in the real output:\n" + "\n".join(missing)


@pytest.mark.parametrize("page,line,steps", samples())
def test_sample_is_the_real_output(page, line, steps, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    for command, shown in steps:
        expected = int(re.search(r"  # exit (\d+)$", command).group(1)) if "  # exit " in command else 0
        status, output = run_command(command, str(tmp_path))
        assert status == expected, f"{page}:{line}: `{command}` exited {status}\n{output[-3000:]}"
        assert_shown([s.replace("/tmp/", f"{tmp_path}/") for s in shown], output, f"{page}:{line} `{command}`")


def test_every_page_has_samples_and_the_readme_is_short():
    assert len(read("README.md").splitlines()) <= 200
    found = {p.id.split(":")[0] for p in samples()}
    for page in ("README.md", "docs/cli.md", "docs/counting.md", "docs/control-flow.md", "docs/export-and-verify.md"):
        assert page in found, page


# (b) links and the repository boundary -----------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_links_resolve_inside_the_repository(page):
    text = read(page)
    assert "../shared" not in text and "/work/" not in text
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"\w+://", target):
            continue
        path = os.path.normpath(os.path.join(ROOT, os.path.dirname(page), target))
        assert path.startswith(ROOT + os.sep), f"{page}: {target} leaves the repository"
        if os.path.basename(path) == "performance.md" and not os.path.exists(path):
            continue   # written separately; linked before it lands
        assert os.path.exists(path), f"{page}: broken link {target}"


def test_index_lists_every_page():
    index = read("docs/index.md")
    for page in PAGES:
        if page.startswith("docs/") and page != "docs/index.md":
            assert f"({os.path.basename(page)})" in index, page


# (c) the library example ------------------------------------------------------------

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


def test_library_example_returns_what_its_comments_say(monkeypatch):
    import onnx

    monkeypatch.chdir(ROOT)
    code = next(body for _, info, body in blocks("README.md") if info == "python")
    namespace, claims = {}, 0
    for line in code.splitlines():
        statement, _, comment = (part.strip() for part in line.partition("  # "))
        if not statement:
            continue
        exec(statement, namespace)  # noqa: S102 (the README's own code)
        if comment and isinstance(ast.parse(statement).body[0], ast.Expr):
            if not _is_python(comment):
                assert comment in PROSE, f"README claim not checked by this test: {line}"
                continue
            assert _shown(eval(statement, namespace), statement) == comment, line  # noqa: S307
            claims += 1
    assert claims == 4
    report, concrete = namespace["report"], namespace["concrete"]
    path = os.path.join(ROOT, UNET)
    for source in (open(path, "rb").read(), onnx.load(path)):   # "a path, bytes or an onnx.ModelProto"
        other = inspect_model(source)
        assert (other.totals.params, other.totals.flops) == (report.totals.params, report.totals.flops)
    alternative = re.search(r"# or inputs=(\{.*\})", code).group(1)
    assert inspect_model(UNET, inputs=eval(alternative)).totals.flops == concrete.totals.flops  # noqa: S307
    result = CliRunner().invoke(main, [UNET, "--format", "json"])
    assert result.exit_code == 0 and report.to_dict() == json.loads(result.stdout)


def test_library_prose_errors():
    from onnxinspect import ModelLoadError, UsageError

    with pytest.raises(ModelLoadError) as load_error:
        inspect_model(b"not a model")
    with pytest.raises(UsageError) as usage_error:
        inspect_model(os.path.join(ROOT, UNET), dims={"Q": 1})
    for error in (load_error.value, usage_error.value):
        assert error.reason and hasattr(error, "path")


@pytest.fixture
def fresh_domain():
    domain = "org.docs.test"
    yield domain
    registry._RULES.pop((domain, "MyScale"), None)


def test_adding_an_operator_example(fresh_domain):
    from onnx import TensorProto, helper
    from truth import make_model

    block = next(b for _, info, b in blocks("docs/architecture.md") if info == "python" and "@register" in b)
    assert 'domain="com.example"' in block
    exec(block.replace('domain="com.example"', f'domain="{fresh_domain}"'), {})  # noqa: S102
    assert (fresh_domain, "MyScale") in registered_ops()

    def scaled(shape):
        node = helper.make_node("MyScale", ["x"], ["y"], name="scale", domain=fresh_domain)
        return make_model([node], [("x", TensorProto.FLOAT, shape)], [("y", TensorProto.FLOAT, None)],
                          domains={fresh_domain: 1})

    report = inspect_model(scaled(["N", 3, 4]), explain=True)
    node = report.nodes[0]
    assert [str(d) for d in node.outputs[0].shape] == ["N", "3", "4"]
    assert node.outputs[0].dtype == "float32"
    assert str(node.flops) == "12*N"
    assert ("shape", "same shape as the input") in node.explanations
    assert not report.warnings and not report.totals.unknown_ops
    unknown = inspect_model(scaled(None))     # "raises Unknown -> outputs reported unknown"
    assert unknown.nodes[0].outputs[0].shape is None and unknown.nodes[0].flops is None


# (d) the operator list --------------------------------------------------------------

BEGIN, END = "<!-- registered ops: begin -->", "<!-- registered ops: end -->"


def operator_list() -> str:
    """The generated part of docs/operators.md: per domain, per rule module, the op types."""
    by_domain = {}
    for (domain, op_type), rule in registered_ops().items():
        module = rule.infer.__module__.rpartition(".")[2] + ".py"
        by_domain.setdefault(domain, {}).setdefault(module, []).append(op_type)
    lines = []
    for domain in sorted(by_domain):
        modules = by_domain[domain]
        count = sum(len(ops) for ops in modules.values())
        lines += [f"### {domain or 'ai.onnx'} ({count} operators)", "", "| rule module | operators |", "|---|---|"]
        lines += [f"| `{m}` | {', '.join(sorted(ops))} |" for m, ops in sorted(modules.items())]
        lines.append("")
    return "\n".join(lines)


def test_operators_page_lists_exactly_the_registered_ops():
    text = read("docs/operators.md")
    generated = text.split(BEGIN)[1].split(END)[0].strip()
    listed = set()
    for domain, body in re.findall(r"^### (\S+) \(\d+ operators\)\n(.*?)(?=^### |\Z)", generated, re.M | re.S):
        for ops in re.findall(r"^\| `\w+\.py` \| (.*) \|$", body, re.M):
            listed |= {("" if domain == "ai.onnx" else domain, op.strip()) for op in ops.split(",")}
    assert listed == set(registered_ops()), "docs/operators.md is stale: run python tests/test_docs.py"
    assert generated == operator_list().strip(), "docs/operators.md is stale: run python tests/test_docs.py"


# (e) the option tables --------------------------------------------------------------

def options_of(name: str) -> dict:
    import click

    command = main.get_command(click.Context(main), name)
    return {opt: param for param in command.params for opt in param.opts}


def _synopses() -> dict:
    """subcommand -> the synopsis text for it, from cli.md and export-and-verify.md."""
    text = "\n".join([next(b for _, _, b in blocks("docs/cli.md")),
                      next(b for _, info, b in blocks("docs/export-and-verify.md") if info == "bash")])
    out, current = {}, None
    for line in text.replace("\\\n", "\n").splitlines():
        if line.startswith("onnxinspect "):
            word = line.split()[1]
            current = word if word in TF_COMMANDS else "inspect"
        out[current] = out.get(current, "") + " " + line.split("#")[0]
    return out


def test_every_option_in_the_docs_exists_with_its_choices():
    rows = re.findall(r"^\| `(--[\w-]+)[^`]*` \|", section("docs/cli.md", "Options of `inspect`"), flags=re.M)
    assert rows == ["--format", "--input", "--dim", "--explain", "--by", "--check"]
    inspect_options = options_of("inspect")
    for option in rows:
        assert option in inspect_options, option
    synopses = _synopses()
    assert set(synopses) == {"inspect", *TF_COMMANDS}
    for name, text in synopses.items():
        if name in TF_COMMANDS:
            pytest.importorskip("tensorflow")
        options = options_of(name)
        for option in set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", text)):
            assert option in options, f"{name} {option}"
        shown = {}
        for option, values in re.findall(r"(--[\w-]+) ([a-z]+(?:\|[a-z]+)+)", text):
            shown.setdefault(option, set()).update(values.split("|"))
        for option, values in shown.items():
            assert values == set(options[option].type.choices), f"{name} {option}"
    fmt_row = re.search(r"^\| `--format` \|(.*)$", read("docs/cli.md"), flags=re.M).group(1)
    assert re.findall(r"`(\w+)`", fmt_row) == list(inspect_options["--format"].type.choices)


def test_exit_3_on_a_real_conflict_with_onnx_shape_inference(tmp_path):
    """docs/cli.md's exit code 3: MaxPool, ceil_mode, whose last window would start in the
    right padding: onnxruntime drops it (3 outputs), onnx.shape_inference before opset 22
    keeps it (4)."""
    import onnx
    from onnx import TensorProto, helper
    from truth import make_model, ort_shapes, random_feeds

    def pool(opset):
        node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2], strides=[2], pads=[1, 1],
                                ceil_mode=1, name="pool")
        return make_model([node], [("x", TensorProto.FLOAT, [1, 1, 5])], [("y", TensorProto.FLOAT, None)], opset=opset)

    model = pool(17)
    assert ort_shapes(model, random_feeds(model, {"x": (1, 1, 5)}))["y"] == (1, 1, 3)
    path = tmp_path / "pool.onnx"
    onnx.save(model, path)
    result = CliRunner().invoke(main, [str(path), "--check"])
    assert result.exit_code == 3
    onnx.save(pool(22), path)
    assert CliRunner().invoke(main, [str(path), "--check"]).exit_code == 0


# (f) the JSON contract --------------------------------------------------------------

TOKEN = re.compile(r'"[^"]*"|\.\.\.|[{}\[\]:,?]|[A-Za-z_][\w|]*')


def parse_contract(text: str):
    """The contract sketch as a tree: ("obj", {key: (optional, child)}), ("arr", [child]) or
    ("leaf", token).  A bare-word key (``domain``, ``name``) is a map's key."""
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


COUNT = (int, str, type(None))   # a symbolic count is an expression string; unknown is null
TYPES = {   # the type of every key the sketch lists without one (json.md's prose gives them)
    "path": str, "ir_version": int, "producer": str, "producer_version": str, "graph_name": str,
    "name": str, "dtype": str, "shape": (list, type(None)), "index": int, "op_type": str, "domain": str, "macs": COUNT,
    "known_op": bool, "flops_share": (float, int, type(None)), "output_bytes": COUNT, "live_bytes": COUNT,
    "kind": str, "text": str, "unique_params": int, "param_bytes": int, "nodes": int,
    "params_by_dtype": dict, "bytes_by_dtype": dict, "op_histogram": dict, "flops": COUNT,
    "unknown_ops": list, "flops_known": COUNT, "macs_known": COUNT, "unknown_flop_nodes": int,
    "activation_bytes": COUNT, "peak_bytes": COUNT, "peak_node": (str, type(None)),
    "peak_index": (int, type(None)), "bytes": COUNT, "known_peak_bytes": COUNT, "unknown_tensors": list,
    "evaluated_at": dict, "params": int, "param_inputs": list, "shared_params": list, "type": str,
}
LEAF_TYPES = {"int": int, "str": str, "int|str|null": COUNT, "version": int}


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
                assert name in TYPES, f"docs key {where}.{name}: add its type to TYPES"
                assert isinstance(actual[name], TYPES[name]), f"{where}.{name} = {actual[name]!r}"
            else:
                check_contract(child, actual[name], seen, f"{where}.{name}")
    elif kind == "arr":
        assert isinstance(actual, list), where
        element = content[0] if content and content[0] != ("leaf", "...") else None
        for i, item in enumerate(actual):
            if element is not None and element[0] != "leaf":
                check_contract(element, item, seen, f"{where}[{i}]")
    elif content.startswith('"'):
        assert actual == content.strip('"'), where
    else:
        assert content in LEAF_TYPES, f"docs type {content!r} at {where}: add it to LEAF_TYPES"
        assert isinstance(actual, LEAF_TYPES[content]), f"{where} = {actual!r}"


@pytest.mark.parametrize("extra", [[], ["--explain", "--by", "layer"]])
def test_json_output_has_every_contract_key_with_its_type(extra, monkeypatch):
    sketch = next(b for _, _, b in blocks("docs/json.md") if b.startswith('{"schema": "onnxinspect/1"'))
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, [UNET, "--format", "json", *extra])
    assert result.exit_code == 0 and len(result.stdout.strip().splitlines()) == 1   # compact, one line
    data, seen = json.loads(result.stdout), set()
    check_contract(parse_contract(sketch), data, seen)
    assert {"schema", "model", "inputs", "outputs", "nodes", "totals", "memory", "warnings"} <= seen
    if extra:
        assert "layers" in data and {"explain", "kind", "text"} <= seen
    assert data["totals"]["flops"] == "3390031872*N"


if __name__ == "__main__":   # rewrite the generated part of docs/operators.md
    page = os.path.join(ROOT, "docs", "operators.md")
    text = open(page, encoding="utf-8").read()
    head, rest = text.split(BEGIN)
    text = f"{head}{BEGIN}\n\n{operator_list()}\n{END}{rest.split(END)[1]}"
    open(page, "w", encoding="utf-8").write(text)
    print(f"wrote {page}")
