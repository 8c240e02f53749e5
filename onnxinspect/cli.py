"""The ``onnxinspect`` command: thin over :func:`onnxinspect.inspect_model`.

``onnxinspect MODEL`` inspects; other subcommands (export, verify, ...) live in their
own modules and are imported only when called, so inspecting never loads TensorFlow.
"""

from __future__ import annotations

import importlib
import os
import sys
from contextlib import contextmanager
from typing import Dict, List, Tuple

import click

from .errors import InspectError, UsageError, one_line


# name -> (module, attribute): imported on first use.
LAZY_COMMANDS: Dict[str, Tuple[str, str]] = {
    "export": ("exporters.cli", "export"),
    "verify": ("exporters.cli", "verify"),
    "export-and-verify": ("exporters.cli", "export_and_verify"),
}


def parse_input_spec(spec: str) -> Tuple[str, List]:
    """``NAME=1,96,96,1`` -> ("NAME", [1, 96, 96, 1]); a non-number entry stays a symbol."""
    name, sep, dims = spec.rpartition("=")
    if not sep or not name or not dims:
        raise UsageError(f"--input {spec!r}: expected NAME=D1,D2,... (e.g. input_1=1,96,96,1)")
    out = []
    for part in dims.split(","):
        part = part.strip()
        if not part:
            raise UsageError(f"--input {spec!r}: empty dimension")
        try:
            out.append(int(part))
        except ValueError:
            if not part.replace("_", "a").isalnum():
                raise UsageError(f"--input {spec!r}: {part!r} is neither a number nor a symbol") from None
            out.append(part)
    return name, out


def parse_dim_spec(spec: str) -> Tuple[str, int]:
    name, sep, value = spec.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name.strip(), int(value)
    except ValueError:
        raise UsageError(f"--dim {spec!r}: expected SYMBOL=INTEGER (e.g. N=8)") from None


def fail(error: InspectError) -> None:
    """One line on stderr, the error's exit code, no traceback."""
    click.echo(f"onnxinspect: error: {error.message}", err=True)
    sys.exit(error.exit_code)


@contextmanager
def guarded(path: str):
    """Any error as one line naming ``path``: an InspectError with its exit code, anything
    else (a bug) with exit 1, unless ONNXINSPECT_DEBUG=1 asks for the traceback."""
    try:
        yield
    except InspectError as error:
        fail(error if error.path else type(error)(error.reason, path))
    except Exception as exc:
        if os.environ.get("ONNXINSPECT_DEBUG") == "1":
            raise
        text = (str(exc).strip().splitlines() or [""])[0]
        fail(InspectError(f"internal error ({type(exc).__name__}: {text}); "
                          f"ONNXINSPECT_DEBUG=1 shows the traceback", path))


class DefaultGroup(click.Group):
    """A group whose first argument is a model path unless it names a subcommand."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[name]
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.list_commands(ctx) and args[0] not in ("--help", "-h"):
            args = ["inspect"] + list(args)
        return super().resolve_command(ctx, args)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """click's own usage errors (a bad ``--format`` value, an unknown option) as one
        line in our format, exit 2, like every other error."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except getattr(click.exceptions, "NoArgsIsHelpError", ()) as exc:  # bare `onnxinspect`
            click.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"onnxinspect: error: {exc.format_message()} (see --help)", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("onnxinspect: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="onnxinspect")
def main():
    """Inspect ONNX graphs: every tensor's shape, every node's parameters and cost.

    Run `onnxinspect MODEL.onnx` (the `inspect` subcommand is implied); its options:
    `onnxinspect inspect --help`.
    """


@main.command("inspect", short_help="Shapes, params and FLOPs of every node (the default).",
              epilog="Exit status: 0 ok; 1 a model cannot be inspected; 2 usage error; "
                     "3 --check found a real shape conflict.")
@click.argument("model", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=str))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "csv"]),
              default="table", show_default=True,
              help="Output format (batch mode: table, json or csv).")
@click.option("--input", "input_specs", multiple=True, metavar="NAME=D1,D2,...",
              help="Fix an input's shape, e.g. --input input_1=1,96,96,1 (repeatable).")
@click.option("--dim", "dim_specs", multiple=True, metavar="SYMBOL=INT",
              help="Bind a symbolic dimension, e.g. --dim N=8 (repeatable).")
@click.option("--explain", is_flag=True,
              help="Append the formula behind every number (table, markdown; json: each node's \"explain\").")
@click.option("--check", is_flag=True,
              help="Compare every shape with onnx.shape_inference; exit 3 on a real conflict.")
@click.option("--by", "by", type=click.Choice(["node", "layer"]), default="node", show_default=True,
              help="One row per graph node, or per framework layer (from the nodes' name scopes).")
def inspect_command(model, fmt, input_specs, dim_specs, explain, by, check):
    """Inspect MODEL and print a per-node table (or JSON / Markdown / CSV).

    Given a directory or several files: one summary row per model (batch mode).
    """
    if len(model) > 1 or os.path.isdir(model[0]):
        _batch(model, fmt)
    if explain and fmt == "csv":   # rather than an --explain that silently does nothing
        fail(UsageError("--explain: csv has no room for formulas; use --format table, markdown or json"))
    model = model[0]
    from .api import gc_paused, inspect_model
    from .render import render_report

    with guarded(model), gc_paused():
        inputs = dict(parse_input_spec(s) for s in input_specs)
        dims = dict(parse_dim_spec(s) for s in dim_specs)
        report = inspect_model(model, inputs=inputs, dims=dims, explain=explain)
        for warning in report.warnings:
            click.echo(f"onnxinspect: warning: {one_line(warning)}", err=True)
        text = render_report(report, fmt, by=by, explain=explain)
        result = _check(report, model, fmt, text) if check else None
    click.echo(text if result is None or fmt == "csv" else result[0])
    if result is not None and fmt == "csv":   # keep stdout parseable CSV
        click.echo(result[1].render_text(), err=True)
    if result is not None and result[1].conflicts:
        from .check import CONFLICT_EXIT

        sys.exit(CONFLICT_EXIT)


def _check(report, model, fmt, text):
    """(the output with the --check findings added, the CheckResult): a "check" key in
    JSON, a section after the report otherwise (csv: on stderr, see the caller)."""
    import json

    from .check import compare_with_onnx

    result = compare_with_onnx(report, model)
    if fmt == "json":
        data = json.loads(text)
        data["check"] = result.to_dict()
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False), result
    return text + "\n\n" + result.render_text(), result


def _batch(paths, fmt) -> None:
    from . import batch

    ctx = click.get_current_context()
    given = [p.opts[0] for p in ctx.command.params if p.name not in ("model", "fmt")
             and ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE]
    try:
        if given:
            raise UsageError(f"{', '.join(given)}: not available in batch mode (a directory or several files)")
        sys.exit(batch.main(paths, fmt))
    except InspectError as error:
        fail(error)


if __name__ == "__main__":  # pragma: no cover
    main()
