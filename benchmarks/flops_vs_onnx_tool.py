"""Our MACs/FLOPs against onnx-tool's MACs, per op type, on the U-Net and ResNet-50.

    python benchmarks/flops_vs_onnx_tool.py [MODEL.onnx ...]

Symbolic input dims are set to 1 for both tools (onnx-tool needs concrete shapes).
Nodes are paired by their position in the file (both tools keep it).  For each op type
it prints both totals, their ratio, and the convention that explains the difference:

- Conv: onnx-tool counts the bias add as one more MAC per output element; we count it
  as one FLOP (not a MAC).  So onnx-tool MACs = our MACs + output elements.
- ConvTranspose: onnx-tool reports 2·MACs + bias, i.e. FLOPs under the MAC label: about
  2x our MACs on every U-Net up-convolution.  Our FLOPs equal its number.
- Gemm: like Conv, the bias (C) is counted by onnx-tool as a MAC per output element.
- Sigmoid/Softmax/BatchNormalization/pooling and element-wise ops: onnx-tool uses its own
  per-element weights for transcendental ops; ours are 1 FLOP per output element
  (activations), 3 (Softmax: exp, sum, divide), and kernel·output (pooling).
- Data movement (Reshape, Concat, ...): 0 in both.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict

import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run_onnx_tool import concrete_inputs  # noqa: E402

from onnxinspect import inspect_model  # noqa: E402

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
DEFAULT_MODELS = [os.path.join(ROOT, "fixtures", "unet.onnx"), os.path.join(LIGHT, "light_resnet50.onnx")]

CONVENTIONS = {
    "Conv": "bias: +1 MAC per output element in onnx-tool, 1 FLOP (not a MAC) here",
    "ConvTranspose": "onnx-tool's MACs are 2*MACs + bias, i.e. our FLOPs: ~2x our MACs",
    "Gemm": "C: +1 MAC per output element in onnx-tool, 1 FLOP here",
    "BatchNormalization": "per element: onnx-tool's weights for sub/div/sqrt; 2 (scale, shift) here",
    "Sigmoid": "per element: onnx-tool's weight for exp/div; 1 (an activation) here",
    "Softmax": "per element: onnx-tool's weight for exp/sum/div; 3 here",
}
# Element-wise ops have no MACs here; onnx-tool's MACs are then compared with our FLOPs.


def onnx_tool_macs(path: str) -> list:
    """onnx-tool's MACs of every node, in file order: [(op_type, macs)]."""
    import onnx_tool

    model = onnx_tool.Model(path)
    graph = model.graph
    graph.shape_infer(concrete_inputs(path))
    graph.profile()
    return [(graph.nodemap[n].op_type, int(graph.nodemap[n].macs[0])) for n in graph.nodemap]


def ours(path: str) -> dict:
    """Our (op_type, macs, flops, output elements) by node index in the file."""
    model = onnx.load(path, load_external_data=False)
    init = {t.name for t in model.graph.initializer}
    shapes = {vi.name: [d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim]
              for vi in model.graph.input if vi.name not in init}
    report = inspect_model(path, inputs=shapes)
    return {n.index: (n.op_type, n.macs or 0, n.flops, n.outputs[0].size if n.outputs else 0)
            for n in report.nodes}, report.totals


def compare(path: str) -> dict:
    mine, totals = ours(path)
    theirs = onnx_tool_macs(path)
    by_op = defaultdict(lambda: [0, 0, 0, 0])  # count, our MACs, our FLOPs, onnx-tool MACs
    for index, (op, their_macs) in enumerate(theirs):
        if index not in mine or mine[index][0] != op:
            raise SystemExit(f"{path}: node {index} is {op} in onnx-tool and "
                             f"{mine.get(index, ('missing',))[0]} here; cannot pair")
        _, macs, flops, _ = mine[index]
        row = by_op[op]
        row[0] += 1
        row[1] += macs
        row[2] += flops or 0
        row[3] += their_macs
    print(f"\n{os.path.basename(path)}: our MACs {totals.macs:,}, FLOPs {totals.flops:,}; "
          f"onnx-tool MACs {sum(m for _, m in theirs):,}")
    print(f"{'op':<20}{'nodes':>6}{'our MACs':>16}{'our FLOPs':>16}{'onnx-tool MACs':>16}{'ratio':>8}  note")
    for op, (count, macs, flops, their) in sorted(by_op.items(), key=lambda kv: -kv[1][3]):
        basis = macs or flops  # MACs where the op has them, else FLOPs
        ratio = f"{their / basis:.3f}" if basis else ("=" if their == 0 else "-")
        print(f"{op:<20}{count:>6}{macs:>16,}{flops:>16,}{their:>16,}{ratio:>8}  {CONVENTIONS.get(op, '')}")
    return by_op


if __name__ == "__main__":
    for model_path in sys.argv[1:] or DEFAULT_MODELS:
        compare(model_path)
