"""The ``onnxinspect`` command: thin over :func:`onnxinspect.inspect_model`.

``onnxinspect MODEL`` inspects.  Other subcommands (export, verify, ...) are plugins:
entry points in the ``onnxinspect.commands`` group (the export extra declares its own),
loaded only when called, so inspecting never imports TensorFlow or onnxruntime.  The
inspector itself is imported only by the inspect command: ``--help`` costs click alone.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple, Union

import click

from .errors import CONFLICT_EXIT, InspectError, UsageError, one_line

COMMAND_GROUP = "onnxinspect.commands"
FORMATS = ("table", "json", "markdown", "csv", "html", "svg")   # render.FORMATS, without importing them
DIFF_FORMATS = ("table", "json", "markdown", "html")     # render.diff.DIFF_FORMATS and html


def plugin_commands() -> Dict[str, Any]:
    """Subcommands other packages (and onnxinspect's export extra) register, by name:
    entry points of :data:`COMMAND_GROUP`, not yet loaded."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=COMMAND_GROUP)}


def parse_input_spec(spec: str) -> Tuple[str, List[Union[int, str]]]:
    """``NAME=1,96,96,1`` -> ("NAME", [1, 96, 96, 1]); a non-number entry stays a symbol."""
    name, sep, dims = spec.rpartition("=")
    if not sep or not name or not dims:
        raise UsageError(f"--input {spec!r}: expected NAME=D1,D2,... (e.g. input_1=1,96,96,1)")
    out: List[Union[int, str]] = []
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


def parse_specs(specs: Sequence[str], parse: Any, option: str) -> Dict[str, Any]:
    """``--input`` / ``--dim`` values as a dict; naming the same input or dim twice is an
    error rather than the last one silently winning."""
    out: Dict[str, Any] = {}
    for spec in specs:
        name, value = parse(spec)
        if name in out and out[name] != value:
            raise UsageError(f"{option} {name} given twice ({_spec_text(out[name])} and {_spec_text(value)})")
        out[name] = value
    return out


def _spec_text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def fail(error: InspectError) -> NoReturn:
    """One line on stderr, the error's exit code, no traceback."""
    if isinstance(error, UsageError):
        error = error.for_cli()
    click.echo(f"onnxinspect: error: {error.message}", err=True)
    sys.exit(error.exit_code)


@contextmanager
def guarded(path: str) -> Iterator[None]:
    """Any error as one line naming ``path``: an InspectError with its exit code, anything
    else (a bug) with exit 1, unless ONNXINSPECT_DEBUG=1 asks for the traceback."""
    try:
        yield
    except InspectError as error:
        if isinstance(error, UsageError):
            error = error.for_cli()
        fail(error if error.path else type(error)(error.reason, path))
    except Exception as exc:
        if os.environ.get("ONNXINSPECT_DEBUG") == "1":
            raise
        text = (str(exc).strip().splitlines() or [""])[0]
        fail(InspectError(f"internal error ({type(exc).__name__}: {text}); "
                          f"ONNXINSPECT_DEBUG=1 shows the traceback", path))


class DefaultGroup(click.Group):
    """A group whose first argument is a model path unless it names a subcommand."""

    _plugins: Optional[Dict[str, Any]] = None

    def plugins(self) -> Dict[str, Any]:
        if self._plugins is None:
            self._plugins = plugin_commands()
        return self._plugins

    def list_commands(self, ctx: click.Context) -> List[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.plugins()))

    def get_command(self, ctx: click.Context, name: str) -> Optional[click.Command]:
        command = super().get_command(ctx, name)
        if command is None and name in self.plugins():
            command = self.plugins()[name].load()
        return command

    def resolve_command(self, ctx: click.Context, args: List[str]) -> Any:
        """``onnxinspect MODEL ...`` means ``onnxinspect inspect MODEL ...``.  An existing
        file or folder is always a model; other words are looked up as commands."""
        first = args[0] if args else None
        if first is not None and first not in ("--help", "-h") and first not in self.commands and (
                os.path.exists(first) or first not in self.plugins()):
            args = ["inspect"] + list(args)
        return super().resolve_command(ctx, args)

    def main(self, args: Any = None, prog_name: Optional[str] = None, complete_var: Optional[str] = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
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
def main() -> None:
    """Inspect ONNX graphs: every tensor's shape, every node's parameters and cost.

    Run `onnxinspect MODEL.onnx` (the `inspect` subcommand is implied); its options:
    `onnxinspect inspect --help`.
    """


@main.command("inspect", short_help="Shapes, params and FLOPs of every node (the default).",
              epilog="Exit status: 0 ok; 1 a model cannot be inspected; 2 usage error; "
                     "3 --check found a real shape conflict, or a --budget failed.")
@click.argument("model", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMATS),
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
@click.option("--budget", "budget_specs", multiple=True, metavar="METRIC[@SYM=INT]<=LIMIT",
              help="Fail (exit 3) when a figure exceeds a limit, e.g. --budget params<=8M "
                   "--budget flops@N=1<=4G --budget peak_memory@N=1<=64MiB (repeatable; docs/diff.md).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write the report to this file instead of stdout (html: docs/html.md).")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Also write each chart as SVG and PNG into this folder (the html extra).")
@click.option("--force", is_flag=True, help="Overwrite the -o file or the --plot files if they exist.")
def inspect_command(model: Tuple[str, ...], fmt: str, input_specs: Tuple[str, ...],
                    dim_specs: Tuple[str, ...], explain: bool, by: str, check: bool,
                    budget_specs: Tuple[str, ...], output: Optional[str], plot_dir: Optional[str],
                    force: bool) -> None:
    """Inspect MODEL and print a per-node table (or JSON / Markdown / CSV).

    Given a directory or several files: one summary row per model (batch mode).
    """
    if len(model) > 1 or os.path.isdir(model[0]):
        _batch(model, fmt)
    if explain and fmt == "csv":   # rather than an --explain that silently does nothing
        fail(UsageError("--explain: csv has no room for formulas; use --format table, markdown or json"))
    path = model[0]
    from .api import gc_paused, inspect_model
    from .render import render_check, render_report

    failures: List[str] = []
    charted = fmt in ("html", "svg") or plot_dir is not None
    if charted:
        _require_html()
    with guarded(path), gc_paused():
        inputs = parse_specs(input_specs, parse_input_spec, "--input")
        dims = parse_specs(dim_specs, parse_dim_spec, "--dim")
        budgets = _parse_budgets(budget_specs)
        refuse_overwrite([output], force)
        report = inspect_model(path, inputs=inputs, dims=dims, explain=explain,
                               layers=by == "layer" or charted, check=check)
        for warning in report.warnings:
            click.echo(f"onnxinspect: warning: {one_line(warning)}", err=True)
        text = render_report(report, fmt, by=by, explain=explain)
        if plot_dir is not None:
            _write_plots(report, plot_dir, force)
        if budgets:
            from .budget import check_budgets

            failures = [f.line for f in check_budgets(report.to_dict(), budgets, dims)]
    emit(text, output)
    if report.check is not None:
        if fmt == "csv":   # keep stdout parseable CSV
            click.echo(render_check(report.check), err=True)
        if report.check.conflicts:
            _report_failures(failures)
            sys.exit(CONFLICT_EXIT)
    _report_failures(failures)


def refuse_overwrite(paths: Sequence[Optional[str]], force: bool) -> None:
    """Nothing the user has is lost: an existing file is replaced only with --force."""
    for path in paths:
        if path and os.path.exists(path) and not force:
            raise UsageError("exists; pass --force to overwrite it, or -o another path", path)


def emit(text: str, output: Optional[str]) -> None:
    """``text`` on stdout, or into the file ``-o`` names (checked by refuse_overwrite)."""
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        fail(UsageError(f"cannot write: {exc.strerror or exc}", output))


def _require_html() -> None:
    """The html extra is missing: one line naming it, before any model is read."""
    from .render.charts import vl_convert

    try:
        vl_convert()
    except InspectError as error:
        fail(error)


def _write_plots(report: Any, folder: str, force: bool) -> None:
    """``--plot DIR``: every chart as SVG and PNG, none written if one would be overwritten."""
    from .render.charts import Charting, chart_specs, plot_paths, write_plots

    specs = chart_specs(report, Charting())
    refuse_overwrite(plot_paths(specs, folder), force)
    write_plots(specs, folder)


def _parse_budgets(specs: Sequence[str], increase: bool = False) -> List[Any]:
    """``--budget`` / ``--max-increase`` values parsed before any model is read."""
    if not specs:
        return []
    from .budget import parse_budget, parse_increase

    parse = parse_increase if increase else parse_budget
    return [parse(spec) for spec in specs]


def _report_failures(lines: Sequence[str]) -> None:
    """One stderr line per failed budget, then exit 3; nothing when every budget holds."""
    if not lines:
        return
    from .budget import BUDGET_EXIT

    for line in lines:
        click.echo(f"onnxinspect: budget failed: {one_line(line)}", err=True)
    sys.exit(BUDGET_EXIT)


@main.command("diff", short_help="Compare two models (or saved --format json reports).",
              epilog="Exit status: 0 whether or not the models differ; 1 a side cannot be read; "
                     "2 usage error; 3 a --max-increase limit failed.")
@click.argument("before", type=click.Path(dir_okay=False, path_type=str))
@click.argument("after", type=click.Path(dir_okay=False, path_type=str))
@click.option("--format", "fmt", type=click.Choice(DIFF_FORMATS), default="table", show_default=True,
              help="Output format (json: the onnxinspect-diff/1 schema of docs/diff.md).")
@click.option("--by", "by", type=click.Choice(["layer", "node"]), default="layer", show_default=True,
              help="Match and list framework layers, or graph nodes (fusions shown as replaced).")
@click.option("--dim", "dim_specs", multiple=True, metavar="SYMBOL=INT",
              help="Also evaluate symbolic totals at this binding, e.g. --dim N=1 (repeatable).")
@click.option("--max-increase", "increase_specs", multiple=True, metavar="METRIC[@SYM=INT]=LIMIT|PCT%",
              help="Fail (exit 3) when a figure grows more, e.g. --max-increase flops=5% "
                   "--max-increase params=0 (repeatable).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write the diff to this file instead of stdout.")
@click.option("--force", is_flag=True, help="Overwrite the -o file if it exists.")
def diff_command(before: str, after: str, fmt: str, by: str, dim_specs: Tuple[str, ...],
                 increase_specs: Tuple[str, ...], output: Optional[str], force: bool) -> None:
    """Compare BEFORE with AFTER: each an ONNX model or a saved `--format json` report
    (save one with layers: `onnxinspect MODEL --by layer --format json > base.json`)."""
    try:
        dims = parse_specs(dim_specs, parse_dim_spec, "--dim")
        budgets = _parse_budgets(increase_specs, increase=True)
        refuse_overwrite([output], force)
    except InspectError as error:
        fail(error)
    if fmt == "html":
        _require_html()
    from .api import gc_paused
    from .diff import diff_reports
    from .render.diff import render_diff

    with gc_paused():
        sides = [_load_side(path, layers=by == "layer") for path in (before, after)]
    with guarded(after), gc_paused():
        diff = diff_reports(sides[0], sides[1], by=by, bindings=dims, labels=(before, after))
        if fmt == "html":
            from .render.html import render_diff_html

            text = render_diff_html(diff)
        else:
            text = render_diff(diff, fmt)
        failures: List[str] = []
        if budgets:
            from .budget import check_increases

            failures = [f.line for f in check_increases(diff, budgets)]
    emit(text, output)
    _report_failures(failures)


def _load_side(path: str, layers: bool) -> Dict[str, Any]:
    """A side of a diff as an onnxinspect/1 dict: a saved report (``.json``) or a model."""
    with guarded(path):
        if path.lower().endswith(".json"):
            from .diff import load_report

            return load_report(path)
        from .api import inspect_model

        report = inspect_model(path, layers=layers)
        for warning in report.warnings:
            click.echo(f"onnxinspect: warning: {path}: {one_line(warning)}", err=True)
        return report.to_dict()
    raise AssertionError("unreachable")  # pragma: no cover


def _batch(paths: Tuple[str, ...], fmt: str) -> NoReturn:
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
