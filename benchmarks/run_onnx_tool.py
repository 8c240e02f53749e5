"""onnx-tool's profile of a model, with every symbolic input dim set to 1 (it needs
concrete shapes); used by bench_inspect.py as a whole-process baseline."""

import sys

import numpy as np
import onnx
import onnx_tool


def concrete_inputs(path):
    model = onnx.load(path, load_external_data=False)
    init = {t.name for t in model.graph.initializer}
    shapes = {}
    for vi in model.graph.input:
        if vi.name in init:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = np.zeros(dims, dtype=onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type))
    return shapes


if __name__ == "__main__":
    onnx_tool.model_profile(sys.argv[1], dynamic_shapes=concrete_inputs(sys.argv[1]))
