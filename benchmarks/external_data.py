"""Inspecting must not read weight payloads: time and peak RSS vs. weight bytes.

Generates, in a temporary directory deleted afterwards, three twins of one MLP graph
(19 MatMul + Relu layers) that differ only in weight size: tiny (16x16 weights),
~300 MB embedded in the .onnx file, and ~1.2 GB in an external data file.  Each tool runs in a
fresh process; the time of the call itself and the process's peak RSS (VmHWM) are printed,
with ratios to the tiny twin and to ``onnx.load``.

    python benchmarks/external_data.py                # 300 MB embedded, 1.2 GB external
    python benchmarks/external_data.py --embedded-mb 50 --external-mb 100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import TensorProto, helper

CHUNK = bytes(range(256)) * 4096   # 1 MiB of non-zero bytes, written over and over

# tool -> (imports, the timed call)
TOOLS = {
    "onnxinspect": ("from onnxinspect import inspect_model", "inspect_model(path)"),
    "onnx.load": ("import onnx", "onnx.load(path)"),
    "onnx.load(no ext)": ("import onnx", "onnx.load(path, load_external_data=False)"),
}

PROBE = """
import json, resource, sys, time
{setup}
path = sys.argv[1]
start = time.perf_counter()
{call}
seconds = time.perf_counter() - start
try:  # this process's own peak (ru_maxrss can carry over a big parent's RSS through fork+exec)
    kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except OSError:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"s": seconds, "rss_mib": kib / 1024}}))
"""


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, length: int) -> bytes:
    """Tag and length of a length-delimited field whose value follows."""
    return _varint((number << 3) | 2) + _varint(length)


def _write_payload(handle, n_bytes: int) -> None:
    while n_bytes > 0:
        piece = CHUNK[:min(n_bytes, len(CHUNK))]
        handle.write(piece)
        n_bytes -= len(piece)


def mlp_skeleton(layers: int, width: int, external: str = "") -> onnx.ModelProto:
    """The graph without weight payloads; with ``external`` every weight points into
    that file (offsets laid out back to back)."""
    nodes, inits = [], []
    previous = "x"
    for i in range(layers):
        w = TensorProto(name=f"W{i}", data_type=TensorProto.FLOAT, dims=[width, width])
        if external:
            w.data_location = TensorProto.EXTERNAL
            size = width * width * 4
            for key, value in (("location", external), ("offset", str(i * size)), ("length", str(size))):
                w.external_data.add(key=key, value=value)
        inits.append(w)
        nodes.append(helper.make_node("MatMul", [previous, f"W{i}"], [f"h{i}"], name=f"fc{i}"))
        nodes.append(helper.make_node("Relu", [f"h{i}"], [f"a{i}"], name=f"relu{i}"))
        previous = f"a{i}"
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
                              [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [1, width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def write_embedded(path: str, layers: int, width: int) -> None:
    """An .onnx file whose weights are embedded raw_data, streamed without building them."""
    model = mlp_skeleton(layers, width)
    tensors = list(model.graph.initializer)
    del model.graph.initializer[:]
    payload = width * width * 4
    heads = [t.SerializeToString() + _field(9, payload) for t in tensors]
    graph_body = model.graph.SerializeToString()
    graph_len = len(graph_body) + sum(len(_field(5, len(h) + payload)) + len(h) + payload for h in heads)
    model.ClearField("graph")
    with open(path, "wb") as handle:
        handle.write(model.SerializeToString() + _field(7, graph_len) + graph_body)
        for head in heads:
            handle.write(_field(5, len(head) + payload) + head)
            _write_payload(handle, payload)


def write_external(path: str, layers: int, width: int) -> None:
    """An .onnx file plus ``<name>.bin`` holding every weight."""
    location = os.path.basename(path) + ".bin"
    onnx.save(mlp_skeleton(layers, width, external=location), path)
    with open(os.path.join(os.path.dirname(path), location), "wb") as handle:
        _write_payload(handle, layers * width * width * 4)


def measure(tool: str, path: str, repeat: int = 1) -> dict:
    """Best time and lowest peak RSS of ``repeat`` fresh processes (a shared machine is noisy)."""
    setup, call = TOOLS[tool]
    runs = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup, call=call), path],
                              capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"{tool} failed on {path}:\n{proc.stderr}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {key: min(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedded-mb", type=int, default=300)
    parser.add_argument("--external-mb", type=int, default=1200)
    parser.add_argument("--layers", type=int, default=19)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    def width(mb: int) -> int:   # square float32 weights: same graph, only their size differs
        return max(1, round((mb * 1e6 / args.layers / 4) ** 0.5))

    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "tiny": (os.path.join(tmp, "tiny.onnx"), lambda p: write_embedded(p, args.layers, 16)),
            f"{args.embedded_mb} MB embedded": (
                os.path.join(tmp, "embedded.onnx"),
                lambda p: write_embedded(p, args.layers, width(args.embedded_mb))),
            f"{args.external_mb} MB external": (
                os.path.join(tmp, "external.onnx"),
                lambda p: write_external(p, args.layers, width(args.external_mb))),
        }
        results = {}
        for case, (path, write) in cases.items():
            write(path)
            size = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp)
                       if f.startswith(os.path.basename(path)))
            results[case] = {tool: measure(tool, path, args.repeat) for tool in TOOLS}
            print(f"{case:>20}  ({size / 2**20:,.0f} MiB on disk)")
            for tool, r in results[case].items():
                tiny = results["tiny"][tool]
                print(f"    {tool:<18} {r['s'] * 1000:9.1f} ms  {r['rss_mib']:8.1f} MiB peak RSS"
                      f"   x{r['s'] / tiny['s']:.2f} time, x{r['rss_mib'] / tiny['rss_mib']:.2f} RSS vs tiny")
            ours, load = results[case]["onnxinspect"], results[case]["onnx.load"]
            print(f"    onnxinspect / onnx.load: time x{ours['s'] / load['s']:.3f}, "
                  f"RSS x{ours['rss_mib'] / load['rss_mib']:.3f}")
            for name in os.listdir(tmp):
                os.remove(os.path.join(tmp, name))


if __name__ == "__main__":
    main()
