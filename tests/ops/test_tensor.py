"""Shape / data-movement / indexing rules against onnxruntime's actual shapes and
onnx.shape_inference, one small model per attribute variant; parameters and FLOPs of
the same models against what the ops are (no weights, no arithmetic)."""

import numpy as np
import pytest
from onnx import helper
from tensor_cases import I64, B, F, build, check, const, node_of, single

X = ("x", F, [2, 3, 4, 5])


def _one(op, inits=(), opset=17, outs=("y",), x=X, **attrs):
    """``op(x, *inits)`` with the initializers as the remaining inputs ('' = omitted)."""
    names = ["x"] + [t if isinstance(t, str) else t.name for t in inits]
    return single(op, [x], names, outs, [t for t in inits if not isinstance(t, str)], opset, **attrs)


CASES = {
    # Reshape: 0 copies, -1 infers, allowzero keeps a real 0
    "reshape_minus1": lambda: _one("Reshape", [const("s", [2, -1])]),
    "reshape_zero_copies": lambda: _one("Reshape", [const("s", [0, 0, -1])]),
    "reshape_opset5": lambda: _one("Reshape", [const("s", [6, 20])], opset=5),
    "reshape_allowzero": lambda: _one("Reshape", [const("s", [0, 4])], opset=14, allowzero=1,
                                      x=("x", F, [0, 2, 2])),
    # Flatten
    **{f"flatten_axis{a}": (lambda a=a: _one("Flatten", axis=a)) for a in (0, 1, 2, 4, -1)},
    # Transpose
    "transpose_default_reverses": lambda: _one("Transpose"),
    "transpose_perm": lambda: _one("Transpose", perm=[0, 2, 3, 1]),
    # Squeeze / Unsqueeze
    "squeeze_attr_opset11": lambda: _one("Squeeze", opset=11, axes=[0, -2], x=("x", F, [1, 3, 1, 5])),
    "squeeze_input_opset13": lambda: _one("Squeeze", [const("a", [2])], opset=13, x=("x", F, [2, 3, 1, 5])),
    "squeeze_all_ones": lambda: _one("Squeeze", x=("x", F, [1, 3, 1, 5])),
    "unsqueeze_attr_opset11": lambda: _one("Unsqueeze", opset=11, axes=[0, 3]),
    "unsqueeze_input_negative": lambda: _one("Unsqueeze", [const("a", [-1, 1])]),
    # Expand / Tile
    "expand_broadcasts": lambda: _one("Expand", [const("s", [2, 1, 6])], x=("x", F, [3, 1])),
    "expand_keeps_ones": lambda: _one("Expand", [const("s", [1, 1])], x=("x", F, [3, 4])),
    "tile": lambda: _one("Tile", [const("r", [1, 2, 3, 1])]),
    # DepthToSpace / SpaceToDepth
    "depth_to_space_dcr": lambda: _one("DepthToSpace", blocksize=2, x=("x", F, [1, 8, 2, 3])),
    "depth_to_space_crd": lambda: _one("DepthToSpace", blocksize=2, mode="CRD", x=("x", F, [1, 8, 2, 3])),
    "space_to_depth": lambda: _one("SpaceToDepth", blocksize=2, x=("x", F, [1, 3, 4, 6])),
    # Slice: attribute form, negative / INT_MAX bounds, steps, axes
    "slice_opset9_attrs": lambda: _one("Slice", opset=9, starts=[1, 0], ends=[1000, -1], axes=[1, 3]),
    "slice_int_max": lambda: _one("Slice", [const("s", [1]), const("e", [2 ** 63 - 1]), const("a", [2])]),
    "slice_negative": lambda: _one("Slice", [const("s", [-3, 0]), const("e", [-1, 10])]),
    "slice_steps": lambda: _one("Slice", [const("s", [0, 1]), const("e", [5, 5]), const("a", [3, 2]),
                                          const("p", [2, 2])]),
    "slice_reverse": lambda: _one("Slice", [const("s", [-1]), const("e", [-2 ** 63]), const("a", [3]),
                                            const("p", [-1])]),
    "slice_reverse_step2": lambda: _one("Slice", [const("s", [10]), const("e", [0]), const("a", [-1]),
                                                  const("p", [-2])]),
    "slice_empty": lambda: _one("Slice", [const("s", [3]), const("e", [1]), const("a", [1])]),
    # Pad: attribute pads (opset 2), input pads (11), constant_value, axes (18)
    "pad_opset2_attr": lambda: _one("Pad", opset=2, pads=[0, 0, 1, 2, 0, 0, 3, 4]),
    "pad_input": lambda: _one("Pad", [const("p", [0, 1, 0, 2, 0, 0, 1, 1])], opset=11),
    "pad_reflect": lambda: _one("Pad", [const("p", [0, 0, 1, 2, 0, 0, 1, 1])], mode="reflect"),
    "pad_constant_value": lambda: _one("Pad", [const("p", [0, 0, 1, 1, 0, 0, 1, 1]), const("v", 1.5, np.float32)]),
    "pad_axes_opset18": lambda: _one("Pad", [const("p", [1, 2, 3, 4]), "", const("a", [1, -1])], opset=18),
    "pad_negative": lambda: _one("Pad", [const("p", [0, 0, -1, 0, 0, 0, -1, -2])]),
    # Resize: scales (10, 13), sizes (11), roi input, axes and aspect-ratio policy (18)
    "resize_opset10_scales": lambda: _one("Resize", [const("s", [1, 1, 2, 2], np.float32)], opset=10),
    "resize_sizes": lambda: _one("Resize", ["", "", const("z", [2, 3, 7, 9])], opset=13),
    "resize_opset11_roi": lambda: _one("Resize", [const("r", [], np.float32), const("s", [1, 1, 1.5, 0.5], np.float32)],
                                       opset=11, mode="linear"),
    "resize_scales_linear": lambda: _one("Resize", ["", const("s", [1, 1, 2.5, 3], np.float32)], mode="linear"),
    "resize_axes": lambda: _one("Resize", ["", const("s", [2, 3], np.float32)], opset=18, axes=[2, 3]),
    "resize_not_larger": lambda: _one("Resize", ["", "", const("z", [8, 8])], opset=18, axes=[2, 3],
                                      keep_aspect_ratio_policy="not_larger"),
    "resize_not_smaller": lambda: _one("Resize", ["", "", const("z", [8, 8])], opset=18, axes=[2, 3],
                                       keep_aspect_ratio_policy="not_smaller"),
    "upsample_opset9": lambda: _one("Upsample", [const("s", [1, 1, 2, 3], np.float32)], opset=9),
    "upsample_opset7_attr": lambda: _one("Upsample", opset=7, scales=[1.0, 1.0, 2.0, 2.0]),
    # Gather family and scatter
    "gather_axis0": lambda: _one("Gather", [const("i", [[0, 1], [1, 1]])]),
    "gather_scalar_index": lambda: _one("Gather", [const("i", -1)], axis=2),
    "gather_axis_negative": lambda: _one("Gather", [const("i", [4, 0, 2])], axis=-1),
    "gather_elements": lambda: _one("GatherElements", [const("i", np.zeros((2, 3, 4, 2)))], axis=3),
    "gather_nd": lambda: _one("GatherND", [const("i", [[0, 1], [1, 2]])]),
    "gather_nd_batch_dims": lambda: _one("GatherND", [const("i", np.zeros((2, 2, 1)))], batch_dims=1),
    "scatter_nd": lambda: _one("ScatterND", [const("i", [[0, 1]]), const("u", np.ones((1, 4, 5)), np.float32)]),
    "scatter_elements": lambda: _one("ScatterElements", [const("i", np.zeros((1, 3, 4, 5))),
                                                         const("u", np.ones((1, 3, 4, 5)), np.float32)]),
    # Misc tensor ops
    "one_hot": lambda: single("OneHot", [("i", I64, [2, 3])], ["i", "d", "v"], ["y"],
                              [const("d", 5), const("v", [0, 1], np.float32)]),
    "one_hot_axis0": lambda: single("OneHot", [("i", I64, [2, 3])], ["i", "d", "v"], ["y"],
                                    [const("d", [4]), const("v", [0, 1])], axis=0),
    "trilu": lambda: _one("Trilu", [const("k", 1)], upper=0),
    "reverse_sequence": lambda: single("ReverseSequence", [("x", F, [4, 2, 3])], ["x", "l"], ["y"],
                                       [const("l", [1, 4])], batch_axis=1, time_axis=0),
    "grid_sample": lambda: single("GridSample", [("x", F, [1, 2, 4, 5]), ("g", F, [1, 6, 7, 2])], opset=16),
    "compress_axis": lambda: _one("Compress", [const("c", [True, False, True], bool)], axis=1),
    "cumsum": lambda: _one("CumSum", [const("a", 2)]),
    "range_int": lambda: single("Range", [], ["a", "b", "c"], ["y"], [const("a", 2), const("b", 11), const("c", 3)]),
    "range_float_down": lambda: single("Range", [], ["a", "b", "c"], ["y"],
                                       [const("a", 1.0, np.float32), const("b", -2.0, np.float32),
                                        const("c", -0.75, np.float32)]),
    "constant_of_shape": lambda: single("ConstantOfShape", [], ["s"], ["y"], [const("s", [2, 3])]),
    "shape_start_end": lambda: _one("Shape", opset=15, start=1, end=-1),
    "size": lambda: _one("Size"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_shapes_match_ort_and_onnx(case):
    model = case()
    report = check(model)
    # Shape, index, pad and fill operands are never parameters; Scatter's constant
    # updates ("u") are data written into the output, so they are.
    updates = sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.name == "u")
    assert report.nodes[-1].params == updates


SPLITS = {
    "attr_opset11": (dict(opset=11, split=[1, 3]), 2, []),
    "input_opset13": ({}, 3, [const("s", [1, 1, 2])]),
    "equal": ({}, 2, []),
    "num_outputs_even_opset18": (dict(opset=18, num_outputs=2), 2, []),
    "num_outputs_uneven_opset18": (dict(opset=18, num_outputs=3, axis=-1), 3, []),
}


@pytest.mark.parametrize("attrs,count,inits", SPLITS.values(), ids=SPLITS.keys())
def test_split_variants(attrs, count, inits):
    attrs = dict(attrs)
    opset = attrs.pop("opset", 17)
    axis = attrs.setdefault("axis", 1)
    x = ("x", F, [2, 4, 3, 5] if axis == 1 else [2, 4, 3, 7])
    outs = [f"y{i}" for i in range(count)]
    model = build([helper.make_node("Split", ["x"] + [t.name for t in inits], outs, **attrs)], [x], inits,
                  opset, outputs=outs)
    check(model)


def test_concat_sums_the_axis_and_explains_it():
    model = build([helper.make_node("Concat", ["a", "b", "c"], ["y"], axis=1)],
                  [("a", F, [1, 32, 8]), ("b", F, [1, 32, 8]), ("c", F, [1, 5, 8])])
    report = check(model, explain=True)
    assert report.nodes[0].outputs[0].shape == (1, 32 + 32 + 5, 8)
    assert ("shape", "axis 1: 32 + 32 + 5 = 69") in report.nodes[0].explanations


def test_concat_negative_axis_with_symbolic_batch():
    model = build([helper.make_node("Concat", ["a", "b"], ["y"], axis=-3)],
                  [("a", F, ["N", 2, 3, 4]), ("b", F, ["N", 5, 3, 4])])
    for n in (1, 3):
        check(model, {"N": n})


def test_reshape_explains_minus_one():
    model = _one("Reshape", [const("s", [1, -1])], x=("x", F, [1, 64, 5, 5]))
    report = check(model, explain=True)
    assert report.nodes[0].outputs[0].shape == (1, 1600)
    assert ("shape", "-1 = 1·64·5·5 / 1 = 1600") in report.nodes[0].explanations


def test_flatten_explains_the_dense_layer_input():
    report = check(_one("Flatten", x=("x", F, ["N", 64, 5, 5])), {"N": 2}, explain=True)
    assert ("shape", "(N, 64, 5, 5) → (N, 64·5·5) = (N, 1600)") in report.nodes[0].explanations


def test_resize_explains_scales():
    report = check(_one("Resize", ["", const("s", [1, 1, 2, 2], np.float32)]), explain=True)
    assert any("scales 1, 1, 2, 2" in text for kind, text in report.nodes[0].explanations)


def test_slice_of_symbolic_dims():
    """``x[:, 1:]`` of ``N`` rows is ``N - 1``; ``x[-2:]`` is 2; a reversed axis keeps ``N``."""
    model = build([helper.make_node("Slice", ["x", "s", "e", "a"], ["y"]),
                   helper.make_node("Slice", ["x", "s2", "e2", "a2", "p2"], ["z"]),
                   helper.make_node("Slice", ["x", "s3", "e3", "a3"], ["w"])],
                  [("x", F, ["N", "T", 4])],
                  [const("s", [1, 0]), const("e", [2 ** 63 - 1, -1]), const("a", [0, 2]),
                   const("s2", [-1]), const("e2", [-2 ** 63]), const("a2", [1]), const("p2", [-1]),
                   const("s3", [-2]), const("e3", [2 ** 31 - 1]), const("a3", [1])],
                  outputs=["y", "z", "w"])
    report = check(model, {"N": 5, "T": 7})
    check(model, {"N": 3, "T": 2})
    shapes = {t.name: tuple(map(str, t.shape)) for n in report.nodes for t in n.outputs}
    assert shapes == {"y": ("N - 1", "T", "3"), "z": ("N", "T", "4"), "w": ("N", "2", "4")}


def test_data_dependent_dims_are_named_symbols():
    """NonZero / Unique / NonMaxSuppression / Compress sizes depend on the data: a named
    symbol each, with the bound the op implies, never a guess (sizes checked against ORT's
    by ``check``, bounds by hand)."""
    model = build([helper.make_node("NonZero", ["x"], ["nz"]),
                   helper.make_node("Unique", ["x"], ["u", "ui", "uinv", "uc"], sorted=1),
                   helper.make_node("Unique", ["x"], ["v", "vi", "vinv", "vc"], axis=1),
                   helper.make_node("Compress", ["x", "c"], ["cz"]),
                   helper.make_node("NonMaxSuppression", ["boxes", "scores", "m"], ["sel"])],
                  [("x", F, [3, 4]), ("c", B, [5]), ("boxes", F, [1, 6, 4]), ("scores", F, [1, 2, 6])],
                  [const("m", [3])], outputs=["nz", "u", "uinv", "v", "vinv", "cz", "sel"])
    report = check(model)
    shapes = {t.name: tuple(map(str, t.shape)) for n in report.nodes for t in n.outputs}
    assert shapes["nz"] == ("2", "nonzero_0") and shapes["sel"] == ("nonmaxsuppression_4", "3")
    assert shapes["u"] == shapes["ui"] == shapes["uc"] == ("unique_1",) and shapes["uinv"] == ("12",)
    assert shapes["v"] == ("3", "unique_2") and shapes["vinv"] == ("4",) and shapes["cz"] == ("compress_3",)
    # at most 12 elements are non-zero or distinct, 4 columns; 5 conditions; 1 x 2 classes x 3 boxes
    assert [(d.symbol, d.bound) for d in report.data_dependent] == [
        ("nonzero_0", 12), ("unique_1", 12), ("unique_2", 4), ("compress_3", 5), ("nonmaxsuppression_4", 6)]


def test_gather_on_an_embedding_table_counts_the_table():
    rng = np.random.default_rng(0)
    table = const("table", rng.standard_normal((10, 3)), np.float32)
    report = check(single("Gather", [("ids", I64, ["N", 7])], ["table", "ids"], ["y"], [table]), {"N": 2})
    assert report.nodes[0].params == 10 * 3
    assert report.totals.unique_params == 30


def test_data_movement_costs_nothing():
    for case in ("transpose_perm", "reshape_minus1", "slice_steps", "pad_input", "gather_axis0", "tile"):
        assert node_of(check(CASES[case]()), CASES[case]().graph.node[0].op_type).flops == 0


def test_linear_resize_flops_follow_the_documented_convention():
    """Bilinear: 4 neighbours per output element, 4 multiplies + 3 adds = 7 FLOPs."""
    report = check(CASES["resize_scales_linear"]())
    out = report.nodes[0].outputs[0].shape
    assert report.nodes[0].flops == 7 * int(np.prod(out))
    assert node_of(check(CASES["resize_sizes"]()), "Resize").flops == 0  # nearest copies


MORE = {
    "center_crop_pad": lambda: _one("CenterCropPad", [const("s", [3, 7])], opset=18, axes=[1, 2]),
    "center_crop_pad_all": lambda: _one("CenterCropPad", [const("s", [1, 4, 2, 8])], opset=18),
    "affine_grid_2d": lambda: single("AffineGrid", [("t", F, [2, 2, 3])], ["t", "s"], ["y"],
                                     [const("s", [2, 3, 5, 7])], opset=20),
    "affine_grid_3d": lambda: single("AffineGrid", [("t", F, [1, 3, 4])], ["t", "s"], ["y"],
                                     [const("s", [1, 2, 3, 4, 5])], opset=20),
    "hann_window": lambda: single("HannWindow", [], ["n"], ["y"], [const("n", 10)], opset=17),
    "multinomial": lambda: single("Multinomial", [("p", F, [3, 5])], sample_size=4),
    "blackman_window_double": lambda: single("BlackmanWindow", [], ["n"], ["y"], [const("n", 6)], opset=17,
                                             output_datatype=11),
    "cumprod": lambda: _one("CumProd", [const("a", 1)], opset=26),
    "constant_value_ints": lambda: single("Constant", [], [], ["y"], value_ints=[1, 2, 3]),
    "constant_tensor": lambda: single("Constant", [], [], ["y"],
                                      value=const("c", np.ones((2, 3)), np.float32)),
    "constant_value_float": lambda: single("Constant", [], [], ["y"], value_float=1.5),
}


@pytest.mark.parametrize("case", MORE.values(), ids=MORE.keys())
def test_more_ops_match_ort_and_onnx(case):
    check(case())


@pytest.mark.parametrize("scales,expected", [([1, 1, 2, 3], ("N", 3, "2*H", "3*W")),
                                             ([1, 1, 0.5, 0.25], ("N", 3, "floor(H/2)", "floor(W/4)"))])
def test_resize_scales_on_symbolic_dims(scales, expected):
    model = _one("Resize", ["", const("s", scales, np.float32)], x=("x", F, ["N", 3, "H", "W"]))
    report = check(model, {"N": 2, "H": 9, "W": 13})
    check(model, {"N": 1, "H": 4, "W": 8})
    assert tuple(str(d) for d in report.nodes[0].outputs[0].shape) == tuple(map(str, expected))


def test_data_movement_is_free_even_when_the_shape_is_not_known():
    """A Reshape whose target arrives at run time: rank from the target's length, dims
    unknown (null, not guessed), FLOPs still 0, so the model's total stays known."""
    model = build([helper.make_node("Reshape", ["x", "s"], ["r"]), helper.make_node("Transpose", ["r"], ["y"])],
                  [("x", F, [2, 3, 4]), ("s", I64, [2])])
    report = check(model, feeds={"x": np.zeros((2, 3, 4), np.float32), "s": np.array([4, 6])},
                   data_dependent={"r", "y"})
    assert [n.outputs[0].shape for n in report.nodes] == [(None, None), (None, None)]
    assert [n.flops for n in report.nodes] == [0, 0] and report.totals.flops == 0


@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_positional_table_gathered_by_shape_derived_indices_counts(dtype):
    """``pos_table[arange(T)]`` with T fixed: the indices fold (they come from Shape), the
    table (float or quantized int8) is still the layer's weight."""
    table = const("pos", np.arange(16 * 8).reshape(16, 8) % 100, dtype)
    model = build([helper.make_node("Shape", ["x"], ["s"]),
                   helper.make_node("Gather", ["s", "one"], ["t"]),
                   helper.make_node("Range", ["zero", "t", "one"], ["idx"]),
                   helper.make_node("Gather", ["pos", "idx"], ["y"])],
                  [("x", F, [2, 5])], [table, const("zero", 0), const("one", 1)])
    report = check(model)
    assert report.nodes[-1].outputs[0].shape == (5, 8)
    assert report.totals.unique_params == 16 * 8


def test_small_quantized_weight_moved_by_reshape_still_counts():
    """An int8 weight reshaped by a constant shape: data movement of a weight, not shape
    arithmetic, so its 64·48 values are parameters."""
    weight = const("wq", np.arange(64 * 48).reshape(64, 48) % 100, np.int8)
    model = build([helper.make_node("Reshape", ["wq", "s"], ["w2"]),
                   helper.make_node("Transpose", ["w2"], ["y"], perm=[1, 0])],
                  [], [weight, const("s", [48, 64])])
    report = check(model)
    assert report.totals.unique_params == 64 * 48


# The cases whose input is X, with its first dim made dynamic ("N"): every symbolic
# answer, substituted, must equal ORT's shape at two batch sizes.  Left out: the cases
# whose operands spell the batch as a number (a (6, 20) target, sizes (2, ...), index
# tensors with a batch of 2).
NOT_SYMBOLIC = {"reshape_opset5", "resize_sizes",
                "gather_elements", "scatter_elements", "gather_nd_batch_dims", "scatter_nd"}


def _takes_x(case) -> bool:
    inputs = case().graph.input
    return bool(inputs) and [d.dim_value for d in inputs[0].type.tensor_type.shape.dim] == X[2]


SYMBOLIC = {k: v for k, v in CASES.items() if k not in NOT_SYMBOLIC and _takes_x(v)}


@pytest.mark.parametrize("case", SYMBOLIC.values(), ids=SYMBOLIC.keys())
def test_dynamic_batch_stays_symbolic(case):
    model = case()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    for n in (4, 7):
        report = check(model, {"N": n})
    assert all(t.shape is not None for node in report.nodes for t in node.outputs)
