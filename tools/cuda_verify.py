"""Verify the Keras and the PyTorch U-Net on CUDA; record providers, timings and errors as JSON.

    python tools/cuda_verify.py                       # both frameworks, JSON on stdout
    python tools/cuda_verify.py --framework torch -o cuda.json

For each framework: export the seeded U-Net to a temporary folder, then ``verify`` it with
``--device cuda``.  Where CUDA is not usable, that attempt records the one-line error and an
``auto`` run records the fallback (the device and providers that really ran).  Exit status
0 when every run that could start passed, 1 otherwise.  A prepared device check: it needs
nothing but the export/torch extras and prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List


def _run(name: str, device: str, verify: Callable[[str], Any]) -> Dict[str, Any]:
    from onnxinspect.errors import InspectError

    start = time.perf_counter()
    entry: Dict[str, Any] = {"framework": name, "requested": device}
    try:
        result = verify(device)
    except InspectError as error:
        entry.update(error=error.message, seconds=round(time.perf_counter() - start, 3))
        return entry
    outputs = [c for b in result.batches for c in b.outputs]
    entry.update(device=result.device, providers=result.providers, note=result.note, passed=result.passed,
                 max_abs=max(c.max_abs for c in outputs), min_snr_db=min(c.snr_db for c in outputs),
                 seconds=round(time.perf_counter() - start, 3), error=None)
    return entry


def check(framework: str, folder: str) -> List[Dict[str, Any]]:
    """The cuda attempt, and the auto fallback when CUDA was not usable."""
    from onnxinspect.exporters import pipeline

    path = os.path.join(folder, f"unet_{framework}.onnx")
    start = time.perf_counter()
    if framework == "torch":
        from onnxinspect.exporters.torch.export import export

        made = export("unet", path)

        def verify(device: str) -> Any:
            return pipeline.verify_torch(path, made.module, made.example, (1, 4), device)
    else:
        from onnxinspect.exporters.keras.export import export as export_keras

        model = export_keras("unet", path, seed=0).keras_model

        def verify(device: str) -> Any:
            return pipeline.verify_keras(path, model, (1, 4), device)
    exported = round(time.perf_counter() - start, 3)
    runs = [_run(framework, "cuda", verify)]
    if runs[0]["error"] is not None:
        runs.append(_run(framework, "auto", verify))
    for entry in runs:
        entry["export_seconds"] = exported
    return runs


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=["keras", "torch", "both"], default="both")
    parser.add_argument("-o", "--output", help="write the JSON here instead of stdout (an existing file is kept)")
    args = parser.parse_args(argv)
    if args.output and os.path.exists(args.output):
        print(f"cuda_verify: error: {args.output}: exists; choose another path", file=sys.stderr)
        return 2
    import onnxruntime

    frameworks = ["keras", "torch"] if args.framework == "both" else [args.framework]
    with tempfile.TemporaryDirectory() as folder:
        runs = [entry for framework in frameworks for entry in check(framework, folder)]
    record = {"schema": "onnxinspect-cuda-verify/1", "onnxruntime": onnxruntime.__version__,
              "available_providers": onnxruntime.get_available_providers(), "runs": runs,
              "cuda_ran": any(r.get("device") == "cuda" for r in runs)}
    text = json.dumps(record, indent=1)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        print(text)
    return 0 if all(r.get("passed") for r in runs if r["error"] is None) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
