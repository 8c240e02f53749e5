"""``onnxinspect export`` / ``verify`` / ``export-and-verify``.

Registered lazily in :data:`onnxinspect.cli.LAZY_COMMANDS`, so ``onnxinspect MODEL`` never
imports TensorFlow or onnxruntime; this module imports them only inside the commands.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from typing import Dict, Sequence, Tuple

import click

from onnxinspect.cli import fail, refuse_overwrite
from onnxinspect.errors import InspectError, UsageError

SOURCE_HELP = ("unet|KERAS_MODEL: 'unet' (the default) is the U-Net of the CNN-parameter article, rebuilt "
               "and seeded; KERAS_MODEL is a .keras / .h5 file or a SavedModel directory.  With --framework "
               "torch: 'unet' (the same U-Net in PyTorch) or package.module:factory, a callable returning "
               "(module, example_inputs).")
SOURCE_METAVAR = "[unet|KERAS_MODEL|package.module:factory]"
OPSETS = {"keras": 17, "torch": 18}  # tf2onnx's tested default; the dynamo exporter's own
VERIFY_EXIT = "Exit status: 0 everything agrees; 1 a mismatch or an error; 2 usage error."
COMPACT = {"separators": (",", ":"), "ensure_ascii": False}  # as inspect's --format json


def parse_tolerances(values: Sequence[str], option: str) -> Dict[str, float]:
    """``1e-4`` (every output) or ``NAME=1e-4`` (one output) -> {"" or NAME: value}."""
    out: Dict[str, float] = {}
    for value in values:
        name, sep, number = value.rpartition("=")
        try:
            parsed = float(number)
        except ValueError:
            raise UsageError(f"{option} {value!r}: expected a number or OUTPUT=NUMBER") from None
        if parsed < 0:
            raise UsageError(f"{option} {value!r}: a tolerance cannot be negative")
        out[name if sep else ""] = parsed
    return out


@contextlib.contextmanager
def progress():
    """A spinner on stderr naming the current slow step, only when stderr is a terminal.

    The console writes to a duplicate of fd 2, so it keeps working while TensorFlow's fd 2
    chatter is being captured.
    """
    if not sys.stderr.isatty():
        yield lambda text: None
        return
    from rich.console import Console

    stream = os.fdopen(os.dup(2), "w")
    console = Console(file=stream, stderr=True, highlight=False)
    state = {"text": None, "start": time.monotonic()}

    def finish():
        if state["text"]:
            console.print(f"[green]✓[/] {state['text']} [dim]({time.monotonic() - state['start']:.1f} s)[/]")

    with console.status("Starting", spinner="dots") as status:
        def step(text: str) -> None:
            finish()
            state.update(text=text, start=time.monotonic())
            status.update(text)

        try:
            yield step
            finish()
        finally:
            stream.flush()
    stream.close()


def _batches(values: Tuple[int, ...]) -> Tuple[int, ...]:
    if any(b < 1 for b in values):
        raise UsageError("--batch must be a positive integer")
    return values or (1, 4)


def _common_verify_options(command):
    for decorator in reversed([
        click.option("--device", type=click.Choice(["auto", "cuda", "cpu"]), default="auto", show_default=True,
                     help="onnxruntime device: auto = CUDA if a session really gets it, else CPU."),
        click.option("--batch", "batches", type=int, multiple=True,
                     help="Batch size to run (repeatable; default 1 and 4, proving the dynamic batch)."),
        click.option("--atol", multiple=True, metavar="[OUTPUT=]X",
                     help="Absolute tolerance, for every output or one (default by dtype: float32 1e-4)."),
        click.option("--rtol", multiple=True, metavar="[OUTPUT=]X",
                     help="Relative tolerance, for every output or one (default by dtype: float32 1e-3)."),
        click.option("--min-cosine", type=click.FloatRange(-1, 1), default=None,
                     help="Least cosine similarity per output (default by precision: float 0.9999, "
                          "float16 0.999, int8 0.99)."),
        click.option("--min-snr", type=float, default=None, metavar="DB",
                     help="Least signal-to-noise ratio per output, in dB (default: float 60, float16 40, int8 20)."),
        click.option("--layers", is_flag=True,
                     help="Also compare every Keras layer's output with its ONNX tensor (first batch); "
                          "names the first layer over tolerance."),
        click.option("--chunk-mib", type=click.IntRange(min=1), default=256, show_default=True,
                     help="--layers: compare at most this many MiB of layer outputs (both sides) at once."),
        click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                     show_default=True,
                     help="table for people (as inspect), json (one compact object, as inspect) for scripts."),
    ]):
        command = decorator(command)
    return command


def _framework_option(command):
    return click.option("--framework", type=click.Choice(["keras", "torch"]), default="keras", show_default=True,
                        help="Where SOURCE comes from: Keras (tf2onnx) or PyTorch (torch.onnx, dynamo).")(command)


@click.command("export", short_help="Export the article's U-Net, a Keras or a PyTorch model to ONNX.",
               epilog=SOURCE_HELP)
@click.argument("source", default="unet", metavar=SOURCE_METAVAR)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .onnx file to write.")
@_framework_option
@click.option("--opset", type=int, default=None, help="ONNX opset (default: keras 17, torch 18).")
@click.option("--seed", type=int, default=None,
              help="Randomise every weight from this seed (default 0 for unet; a user's model keeps its weights).")
@click.option("--save-keras", type=click.Path(dir_okay=False), default=None,
              help="Also save the (seeded) Keras model as .keras, for `onnxinspect verify --keras`.")
@click.option("--force", is_flag=True, help="Overwrite the output file(s) if they exist.")
def export(source, output, framework, opset, seed, save_keras, force):
    """Export the article's U-Net, or your Keras or PyTorch model, to ONNX (dynamic batch dim N)."""
    from onnxinspect import inspect_model

    if framework == "torch":
        from .torch.export import export as run_export
    else:
        from .keras.export import export as run_export
    opset = opset or OPSETS[framework]
    try:
        if save_keras and framework == "torch":
            raise UsageError("--save-keras needs --framework keras")
        refuse_overwrite([output, save_keras], force)
        with progress() as step:
            exported = run_export(source, output, opset, seed, step)
            if save_keras:
                exported.keras_model.save(save_keras)
        report = inspect_model(output)
    except InspectError as error:
        fail(error)
    click.echo(f"Exported {source} ({_seed_text(exported)}, opset {opset}) to {output}: "
               f"{report.totals.unique_params:,} params, {report.totals.nodes:,} nodes")


@click.command("verify", short_help="Run an ONNX model on onnxruntime against Keras or PyTorch.",
               epilog=VERIFY_EXIT)
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--keras", "keras_source", metavar="unet|KERAS_MODEL",
              help="The reference: 'unet' (seeded) or a .keras / .h5 file / SavedModel directory.")
@click.option("--torch", "torch_source", metavar="unet|package.module:factory",
              help="The reference in PyTorch: 'unet' (seeded) or a callable returning (module, example_inputs).")
@click.option("--seed", type=int, default=None, help="The seed the export used (unet: default 0).")
@_common_verify_options
def verify(model, keras_source, torch_source, seed, device, batches, atol, rtol, min_cosine, min_snr, layers,
           chunk_mib, fmt):
    """Run MODEL on onnxruntime and the Keras (or PyTorch) model on the same seeded inputs; compare."""
    from .keras.export import load_keras
    from .pipeline import reconcile_file, verify_keras, verify_torch
    from .verify import format_result

    if not os.path.isfile(model):
        fail(UsageError(f"{model}: no such file"))
    try:
        if (keras_source is None) == (torch_source is None):
            raise UsageError("give the reference as one of --keras or --torch")
        if layers and torch_source is not None:
            raise UsageError("--layers needs --keras: layer outputs are compared with Keras's")
        atols, rtols = parse_tolerances(atol, "--atol"), parse_tolerances(rtol, "--rtol")
        with progress() as step:
            if torch_source is not None:
                from .torch.export import load_torch

                step("Importing torch")
                module, example = load_torch(torch_source, seed)
                result = verify_torch(model, module, example, _batches(batches), device, atols, rtols, step,
                                      min_cosine, min_snr)
            else:
                step("Importing TensorFlow")
                keras_model = load_keras(keras_source, seed)
                reconciliation = reconcile_file(model, keras_model) if layers else None
                result = verify_keras(model, keras_model, _batches(batches), device, atols, rtols, step,
                                      reconciliation, chunk_mib * 2 ** 20, min_cosine, min_snr)
    except InspectError as error:
        fail(error)
    if fmt == "json":
        click.echo(json.dumps({"schema": "onnxinspect-verify/1", "model": model, **result.to_dict()}, **COMPACT))
    else:
        click.echo("\n".join(format_result(result)))
    sys.exit(0 if result.passed else 1)


@click.command("export-and-verify", short_help="Export, inspect, verify and reconcile, in one go.",
               epilog=f"{SOURCE_HELP}\n\n{VERIFY_EXIT}")
@click.argument("source", default="unet", metavar=SOURCE_METAVAR)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Where to write the ONNX file (default: ./<model>.onnx).")
@_framework_option
@click.option("--opset", type=int, default=None, help="ONNX opset (default: keras 17, torch 18).")
@click.option("--seed", type=int, default=None, help="Randomise every weight from this seed (unet: default 0).")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@_common_verify_options
def export_and_verify(source, output, framework, opset, seed, force, device, batches, atol, rtol, min_cosine,
                      min_snr, layers, chunk_mib, fmt):
    """Export, inspect, verify on onnxruntime against Keras (or PyTorch), and reconcile the parameter counts."""
    from .pipeline import export_and_verify as run

    output = output or _default_output(source)
    opset = opset or OPSETS[framework]
    try:
        if layers and framework == "torch":
            raise UsageError("--layers needs --framework keras: layer outputs are compared with Keras's")
        refuse_overwrite([output], force)
        atols, rtols = parse_tolerances(atol, "--atol"), parse_tolerances(rtol, "--rtol")
        with progress() as step:
            result = run(source, output, opset, seed, _batches(batches), device, atols, rtols, step,
                         layers, chunk_mib * 2 ** 20, min_cosine, min_snr, framework)
    except InspectError as error:
        fail(error)
    click.echo(json.dumps(pipeline_dict(result), **COMPACT) if fmt == "json" else "\n".join(pipeline_lines(result)))
    sys.exit(0 if result.passed else 1)


def _seed_text(exported) -> str:
    return f"seed {exported.seed}" if exported.seed is not None else "weights as saved"


def _default_output(source: str) -> str:
    if ":" in source and not os.path.exists(source):   # package.module:factory
        source = source.rpartition(":")[2]
    stem = os.path.splitext(os.path.basename(os.path.normpath(source)))[0] or "model"
    return f"{stem}.onnx"


def pipeline_lines(result) -> list:
    """The one readable report of export-and-verify."""
    from onnxinspect.render import render_table

    from .reconcile import format_reconciliation
    from .verify import format_result

    exported = result.exported
    size = os.path.getsize(result.path) / 2 ** 20
    rec = result.reconciliation
    lines = [f"Exported:      {exported.source} ({_seed_text(exported)}, opset {exported.opset}) -> {result.path} "
             f"({size:.1f} MiB)", "", "== ONNX graph (onnxinspect) ==", render_table(result.report), "",
             f"== {rec.framework} vs ONNX, layer by layer ==", *format_reconciliation(rec), "",
             f"== onnxruntime vs {rec.framework} (same seeded inputs) ==", *format_result(result.verification), "",
             "== Summary ==", f"ONNX file:     {result.path}", f"Parameters:    {rec.headline()}",
             f"Device:        {result.verification.device.upper()}", _error_line(result.verification),
             "Result:        " + ("PASSED" if result.passed else "FAILED")]
    return lines


def _error_line(verification) -> str:
    outputs = [c for b in verification.batches for c in b.outputs]
    worst = max(outputs, key=lambda c: c.max_abs)
    within = "within" if all(c.passed for c in outputs) else "NOT within"
    batches = ", ".join(str(b.batch) for b in verification.batches)
    return (f"Max abs error: {worst.max_abs:.3g}, max rel {max(c.max_rel for c in outputs):.3g} "
            f"({within} atol {worst.atol:g} + rtol {worst.rtol:g}*|ref|) at batch {batches}")


def pipeline_dict(result) -> dict:
    exported = result.exported
    return {"schema": "onnxinspect-export-and-verify/1",
            "export": {"source": exported.source, "path": result.path, "seed": exported.seed,
                       "opset": exported.opset, "bytes": os.path.getsize(result.path)},
            "inspect": result.report.to_dict(),
            "reconcile": result.reconciliation.to_dict(),
            "verify": result.verification.to_dict(),
            "passed": result.passed}
