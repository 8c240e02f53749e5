"""Start-up as a new user gets it: whole processes in a fresh, non-editable install.

A virtual environment is created with ``python -m venv`` and the repository installed
into it with ``pip install <repo>`` (not editable: the site-packages layout and the
byte-compiled files users get, and the dependency versions pip picks today).  The venv
is cached under ``benchmarks/.cache/startup-<hash of pyproject.toml>``; onnxinspect
itself is reinstalled there whenever its sources changed.  Then, round-robin so that
noise spreads evenly, best of ``--repeat`` runs each:

    onnxinspect fixtures/unet.onnx --format json >/dev/null
    onnxinspect --help >/dev/null
    python -c "import numpy"              # the yardstick: what any numerical tool pays
    python -c pass                        # the interpreter alone

Printed: absolute times, the ratios to ``import numpy``, the targets (JSON <= 0.25 s and
<= 3.0x numpy; --help <= 0.10 s and <= 1.5x numpy) and the versions in that venv.  It
never fails on a time: the figures are for reading (docs/performance.md).

    python benchmarks/bench_startup.py                 # best of 7
    python benchmarks/bench_startup.py --repeat 15 --markdown
    python benchmarks/bench_startup.py --rebuild       # a new venv, today's versions
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CACHE = os.path.join(HERE, ".cache")
UNET = os.path.join(REPO, "fixtures", "unet.onnx")
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "onnxinspect", "exporters")
VERSIONS = ("onnxinspect", "onnx", "numpy", "ml_dtypes", "protobuf", "click", "networkx", "rich")

# name -> (target seconds, target ratio to `import numpy`) for the rows that have targets
TARGETS = {"json": (0.25, 3.0), "help": (0.10, 1.5)}


def _digest(paths) -> str:
    digest = hashlib.sha256()
    for root in paths:
        full = os.path.join(REPO, root)
        walk = [(os.path.dirname(full), [], [os.path.basename(full)])] if os.path.isfile(full) else os.walk(full)
        for folder, dirs, files in walk:
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                path = os.path.join(folder, name)
                if path.endswith(".pyc") or not os.path.isfile(path):
                    continue
                digest.update(os.path.relpath(path, REPO).encode() + b"\0")
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()[:16]


def _source_copy(into: str) -> str:
    """The files a wheel is built from, copied, so that the checkout gets no build/."""
    for name in SOURCES:
        path = os.path.join(REPO, name)
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(into, name), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif os.path.exists(path):
            shutil.copy(path, os.path.join(into, name))
    return into


def venv(rebuild: bool) -> str:
    """The cached venv's folder, created and filled when missing or stale."""
    folder = os.path.join(CACHE, "startup-" + _digest(["pyproject.toml"]))
    python = os.path.join(folder, "bin", "python")
    stamp = os.path.join(folder, "onnxinspect-sources")
    sources = _digest(SOURCES)
    if rebuild and os.path.isdir(folder):
        shutil.rmtree(folder)
    fresh = not os.path.exists(python)
    if fresh:
        print(f"creating {os.path.relpath(folder, REPO)} (python -m venv; pip install <repo>) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", folder], check=True)
    current = open(stamp).read() if os.path.exists(stamp) else None
    if fresh or current != sources:
        with tempfile.TemporaryDirectory() as tmp:
            command = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            if not fresh:   # same dependencies: only onnxinspect changed
                command += ["--no-deps", "--force-reinstall"]
            subprocess.run(command + [_source_copy(tmp)], check=True)
        with open(stamp, "w") as handle:
            handle.write(sources)
    return folder


def versions(python: str) -> dict:
    script = ("import importlib.metadata as m, json, platform\n"
              f"names = {VERSIONS!r}\n"
              "out = {'python': platform.python_version()}\n"
              "for n in names:\n"
              "    try: out[n] = m.version(n)\n"
              "    except m.PackageNotFoundError: out[n] = '-'\n"
              "print(json.dumps(out))\n")
    return json.loads(subprocess.run([python, "-c", script], capture_output=True, text=True, check=True).stdout)


def run_once(command) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: exit {proc.returncode}: {proc.stderr.decode().strip()[-300:]}")
    return elapsed


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command; the best is kept")
    parser.add_argument("--rebuild", action="store_true", help="create the venv afresh (today's versions)")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args(argv)

    folder = venv(args.rebuild)
    python, onnxinspect = os.path.join(folder, "bin", "python"), os.path.join(folder, "bin", "onnxinspect")
    commands = {
        "json": (f"onnxinspect {os.path.relpath(UNET, REPO)} --format json", [onnxinspect, UNET, "--format", "json"]),
        "help": ("onnxinspect --help", [onnxinspect, "--help"]),
        "numpy": ('python -c "import numpy"', [python, "-c", "import numpy"]),
        "python": ('python -c pass', [python, "-c", "pass"]),
    }
    for _, command in commands.values():   # warm the page cache; check that each works
        run_once(command)
    best = {name: float("inf") for name in commands}
    for _ in range(args.repeat):
        for name, (_, command) in commands.items():
            best[name] = min(best[name], run_once(command))

    numpy = best["numpy"]
    rows = []
    for name, (label, _) in commands.items():
        seconds, ratio = best[name], best[name] / numpy
        target = ""
        if name in TARGETS:
            limit, times = TARGETS[name]
            met = seconds <= limit and ratio <= times
            target = f"<= {limit:.2f} s and <= {times:.1f}x: {'met' if met else 'NOT met'}"
        rows.append((label, seconds, ratio, target))

    print(f"\nbest of {args.repeat}, whole processes, {os.cpu_count()} CPUs, venv {os.path.relpath(folder, REPO)}")
    width = max(len(r[0]) for r in rows)
    print(f"{'command':<{width}}  {'best s':>7}  {'x numpy':>7}  target")
    for label, seconds, ratio, target in rows:
        print(f"{label:<{width}}  {seconds:>7.3f}  {ratio:>7.2f}  {target}")
    found = versions(python)
    print("\nversions: " + ", ".join(f"{name} {version}" for name, version in found.items()))
    if args.markdown:
        print("\n| command | best of %d | × `import numpy` | target |\n|---|---|---|---|" % args.repeat)
        for label, seconds, ratio, target in rows:
            print(f"| `{label}` | {seconds:.3f} s | {ratio:.2f} | {target} |")


if __name__ == "__main__":
    main()
