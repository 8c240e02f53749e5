"""Batch mode: one summary row per model, many models inspected in parallel processes.

``onnxinspect DIR`` (every ``*.onnx`` below DIR, recursively, sorted) or
``onnxinspect A.onnx B.onnx ...``: each model is inspected in a worker process
(``min(cpus, files)`` of them); a file that fails gets an error row (its reason on stderr) and
the others carry on.  JSON: ``{"schema": "onnxinspect-batch/1", "models": [row, ...]}``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Dict, List, Optional, Sequence, cast

import click

from .dims import format_count
from .errors import InspectError, UsageError

SCHEMA = "onnxinspect-batch/1"
FIELDS = ["path", "status", "params", "unique_params", "param_bytes", "flops", "nodes", "opset",
          "producer", "warnings", "error"]
FORMATS = ("table", "json", "csv")


def collect(paths: Sequence[str]) -> List[str]:
    """Directories expand to their ``*.onnx`` files (recursive, sorted); files stay as given."""
    files: List[str] = []
    for path in paths:
        if not os.path.isdir(path):
            files.append(path)
            continue
        found = sorted(os.path.join(root, name) for root, _, names in os.walk(path)
                       for name in names if name.endswith(".onnx"))
        if not found:
            raise UsageError("no *.onnx files in this directory", path)
        files.extend(found)
    return files


def summarise(path: str) -> Dict[str, object]:
    """One model's row; never raises (runs in a worker process)."""
    from .api import inspect_model
    from .dims import to_json

    row: Dict[str, object] = dict.fromkeys(FIELDS)
    row["path"] = path
    try:
        report = inspect_model(path)
    except InspectError as error:
        row.update(status="error", error=error.reason)
        return row
    except Exception as error:  # an inspector bug must cost one row, not the batch
        row.update(status="error", error=f"internal error: {type(error).__name__}: {error}")
        return row
    totals, model = report.totals, report.model
    row.update(status="ok", params=totals.params, unique_params=totals.unique_params,
               param_bytes=totals.param_bytes, flops=to_json(totals.flops), nodes=totals.nodes,
               opset=model.opsets.get("ai.onnx", model.opsets.get("")),
               producer=f"{model.producer} {model.producer_version}".strip(),
               warnings=len(report.warnings))
    return row


def run(files: Sequence[str], advance: Optional[Callable[[], None]] = None) -> List[Dict[str, object]]:
    """Rows in the order of ``files``, computed by ``min(cpus, files)`` worker processes."""
    rows: List[Optional[Dict[str, object]]] = [None] * len(files)
    workers = max(1, min(os.cpu_count() or 1, len(files)))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(summarise, path): i for i, path in enumerate(files)}
        for future in as_completed(futures):
            i = futures[future]
            try:
                rows[i] = future.result()
            except Exception as error:  # the worker itself died (killed, out of memory)
                rows[i] = {**dict.fromkeys(FIELDS), "path": files[i], "status": "error",
                           "error": f"worker process failed: {type(error).__name__}: {error}"}
            if advance is not None:
                advance()
    return cast(List[Dict[str, object]], rows)   # every slot is filled: each future returns or raises


def render(rows: List[Dict[str, object]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"schema": SCHEMA, "models": rows}, ensure_ascii=False, separators=(",", ":"))
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
        return buffer.getvalue().rstrip("\n")
    return _table(rows)


def _flops_cell(flops: object) -> str:
    """A JSON FLOP count for the table: ``3390031872*N`` as ``3,390,031,872*N``."""
    if isinstance(flops, str):   # a symbolic count, as to_json wrote it
        return re.sub(r"\d{4,}", lambda m: f"{int(m.group()):,}", flops)
    return format_count(flops)  # type: ignore[arg-type]


def _table(rows: List[Dict[str, object]]) -> str:
    header = ["Path", "Params", "Unique", "FLOPs", "Nodes", "Opset", "Producer", "Warn", "Status"]
    cells = []
    for row in rows:
        ok = row["status"] == "ok"
        cells.append([
            str(row["path"]),
            f"{row['params']:,}" if ok else "-",
            f"{row['unique_params']:,}" if ok else "-",
            _flops_cell(row["flops"]) if ok else "-",
            f"{row['nodes']:,}" if ok else "-",
            str(row["opset"]) if ok and row["opset"] is not None else "-",
            str(row["producer"] or "-") if ok else "-",
            str(row["warnings"]) if ok else "-",
            "ok" if ok else "error (below)",
        ])
    from .render.table import grid  # late, like summarise's import of the inspector

    failed = sum(r["status"] != "ok" for r in rows)
    footer = f"{len(rows)} models: {len(rows) - failed} ok, {failed} failed"
    return "\n".join(grid(header, cells, right={1, 2, 3, 4, 5, 7}) + [footer])


def main(paths: Sequence[str], fmt: str) -> int:
    """The CLI's batch path: print every row, then the exit code (1 if any model failed)."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: batch mode prints {', '.join(FORMATS)}")
    files = collect(paths)
    if sys.stderr.isatty():
        rows = _with_progress(files)
    else:
        rows = run(files)
    click.echo(render(rows, fmt))
    for row in rows:
        if row["status"] != "ok":
            click.echo(f"onnxinspect: error: {row['path']}: {row['error']}", err=True)
    return 1 if any(row["status"] != "ok" for row in rows) else 0


def _with_progress(files: Sequence[str]) -> List[Dict[str, object]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    def advance() -> None:
        progress.advance(task)
        progress.refresh()

    # No auto-refresh thread: the worker processes are forked while the bar is shown.
    columns = (TextColumn("inspecting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True, auto_refresh=False) as progress:
        task = progress.add_task("models", total=len(files))
        return run(files, advance=advance)
