"""Integer constant folding of PyTorch-style shape subgraphs.

Every value we fold (ints, or symbolic dims substituted with the batch size) must equal
the value onnxruntime computes for that tensor, at two batch sizes, and every shape the
folded values lead to (Reshape, Expand, Resize, Slice, ConstantOfShape, Range targets)
must equal ORT's actual shape.  The int64 constants of these subgraphs are never
parameters."""

import os

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from tensor_cases import F, build, check, concrete_shapes, const, ort_values
from truth import random_feeds

from onnxinspect import inspect_model
from onnxinspect.dims import subs_dim

N = helper.make_node


def _dim(i, shape="shp", name=None):
    """``Unsqueeze(Gather(shape, i), 0)``: one dim of a Shape as a 1-element vector."""
    name = name or f"d{i}"
    return [N("Gather", [shape, f"idx{i}"], [f"{name}_s"], axis=0),
            N("Unsqueeze", [f"{name}_s", "zero"], [name])], [const(f"idx{i}", i)]


def _flatten_like_pytorch():
    """``x.view(x.size(0), -1)`` as torch.onnx exports it."""
    gather, inits = _dim(0)
    nodes = [N("Shape", ["x"], ["shp"]), *gather,
             N("Concat", ["d0", "minus1"], ["target"], axis=0),
             N("Reshape", ["x", "target"], ["y"])]
    return build(nodes, [("x", F, ["N", 64, 5, 5])], [*inits, const("zero", [0]), const("minus1", [-1])])


def _view_with_products():
    """``x.view(n, c*h*w)`` with the product computed by Mul nodes."""
    nodes = [N("Shape", ["x"], ["shp"])]
    inits = [const("zero", [0])]
    for i in range(4):
        part, extra = _dim(i)
        nodes += part
        inits += extra
    nodes += [N("Mul", ["d1", "d2"], ["m12"]), N("Mul", ["m12", "d3"], ["chw"]),
              N("Concat", ["d0", "chw"], ["target"], axis=0), N("Reshape", ["x", "target"], ["y"])]
    return build(nodes, [("x", F, ["N", 3, 4, 5])], inits)


def _interpolate_sizes():
    """``F.interpolate(x, scale_factor=2)`` at opset 13: sizes from Shape, Cast, Mul, Floor."""
    nodes = [N("Shape", ["x"], ["shp"]),
             N("Slice", ["shp", "s0", "s2"], ["nc"]),
             N("Slice", ["shp", "s2", "big"], ["hw"]),
             N("Cast", ["hw"], ["hwf"], to=1),
             N("Mul", ["hwf", "two"], ["scaled"]),
             N("Floor", ["scaled"], ["floored"]),
             N("Cast", ["floored"], ["hwi"], to=7),
             N("Concat", ["nc", "hwi"], ["sizes"], axis=0),
             N("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest")]
    inits = [const("s0", [0]), const("s2", [2]), const("big", [2 ** 63 - 1]),
             const("two", [2.0, 2.0], np.float32)]
    return build(nodes, [("x", F, ["N", 3, "H", "W"])], inits, opset=13)


def _expand_minus_one():
    """``x.expand(n, -1, 4)``: -1 replaced through Equal / ConstantOfShape / Where."""
    gather, inits = _dim(0, shape="xs")
    nodes = [N("Shape", ["b"], ["xs"]), *gather,
             N("Concat", ["d0", "minus1", "four"], ["sizes"], axis=0),
             N("Equal", ["sizes", "minus1"], ["is_minus1"]),
             N("Shape", ["sizes"], ["rank"]),
             N("ConstantOfShape", ["rank"], ["ones"], value=numpy_helper.from_array(np.array([1], np.int64))),
             N("Where", ["is_minus1", "ones", "sizes"], ["target"]),
             N("Expand", ["x", "target"], ["y"])]
    inits += [const("zero", [0]), const("minus1", [-1]), const("four", [4])]
    return build(nodes, [("x", F, [1, 3, 1]), ("b", F, ["N", 2])], inits)


def _slice_to_length_minus_one():
    """``x[:, : x.size(1) - 1]``: the Slice end comes from Shape arithmetic."""
    gather, inits = _dim(1)
    nodes = [N("Shape", ["x"], ["shp"]), *gather,
             N("Sub", ["d1", "one"], ["end"]),
             N("Slice", ["x", "zero", "end", "one"], ["y"])]
    inits += [const("zero", [0]), const("one", [1])]
    return build(nodes, [("x", F, ["N", "T", 4])], inits)


def _split_height_in_halves():
    """``x.view(n, c, h // 2, 2, w)`` with Div on a symbolic height."""
    nodes = [N("Shape", ["x"], ["shp"])]
    inits = [const("zero", [0]), const("two", [2])]
    for i in range(4):
        part, extra = _dim(i)
        nodes += part
        inits += extra
    nodes += [N("Div", ["d2", "two"], ["half"]),
              N("Concat", ["d0", "d1", "half", "two", "d3"], ["target"], axis=0),
              N("Reshape", ["x", "target"], ["y"])]
    return build(nodes, [("x", F, ["N", 3, "H", 5])], inits)


def _positions_and_mask():
    """``torch.arange(x.size(1))`` and ``torch.zeros(x.size(0), x.size(1))``: Range and
    ConstantOfShape with symbolic targets, and numel via ReduceProd(Shape)."""
    g0, i0 = _dim(0)
    g1, i1 = _dim(1)
    nodes = [N("Shape", ["x"], ["shp"]), *g0, *g1,
             N("Squeeze", ["d1", "zero"], ["t"]),
             N("Range", ["start", "t", "step"], ["positions"]),
             N("Concat", ["d0", "d1"], ["nt"], axis=0),
             N("ConstantOfShape", ["nt"], ["mask"]),
             N("ReduceProd", ["shp"], ["numel"], keepdims=0),
             N("Cast", ["positions"], ["fpositions"], to=1),
             N("Add", ["mask", "fpositions"], ["y"])]
    inits = [*i0, *i1, const("zero", [0]), const("start", 0), const("step", 1)]
    return build(nodes, [("x", F, ["N", "T", 4])], inits, outputs=["y", "numel"])


SUBGRAPHS = {
    "flatten": (_flatten_like_pytorch, {"N": (1, 3)}, {"y": ("N", 1600)}),
    "view_products": (_view_with_products, {"N": (1, 2)}, {"y": ("N", 60)}),
    "interpolate": (_interpolate_sizes, {"N": (1, 2), "H": (4, 5), "W": (6, 3)}, {"y": ("N", 3, "2*H", "2*W")}),
    "expand_minus_one": (_expand_minus_one, {"N": (2, 5)}, {"y": ("N", 3, 4)}),
    "slice_end": (_slice_to_length_minus_one, {"N": (1, 2), "T": (5, 8)}, {"y": ("N", "T - 1", 4)}),
    "div_height": (_split_height_in_halves, {"N": (1, 3), "H": (4, 6)}, {"y": ("N", 3, "floor(H/2)", 2, 5)}),
    "range_constant_of_shape": (_positions_and_mask, {"N": (1, 2), "T": (3, 6)},
                                {"positions": ("T",), "mask": ("N", "T"), "y": ("N", "T")}),
}


def _text(shape):
    return tuple(d if isinstance(d, int) else str(d) for d in shape)


@pytest.mark.parametrize("make,sizes,expected", SUBGRAPHS.values(), ids=SUBGRAPHS.keys())
def test_shape_subgraphs_stay_symbolic_and_match_ort(make, sizes, expected):
    model = make()
    report = inspect_model(model)
    ours = {t.name: t for node in report.nodes for t in node.outputs if t.name}
    for name, shape in expected.items():
        assert _text(ours[name].shape) == shape
    assert report.totals.params == 0, "int64 shape constants are never parameters"
    for k in range(2):
        bindings = {name: values[k] for name, values in sizes.items()}
        check(model, bindings)
        _assert_folded_values_match(model, ours, bindings)


def _assert_folded_values_match(model, ours, bindings):
    actual = ort_values(model, random_feeds(model, concrete_shapes(model, bindings)))
    folded = [name for name, info in ours.items() if info.value is not None and name in actual]
    assert folded, "the subgraph folded nothing"
    for name in folded:
        value = ours[name].value
        substituted = np.array([subs_dim(v, bindings) for v in value.reshape(-1).tolist()]).reshape(value.shape)
        expected = actual[name]
        if expected.dtype.kind in "fb" and expected.size:  # ConstantOfShape zeros, Equal masks
            np.testing.assert_array_equal(substituted.astype(expected.dtype), expected, err_msg=name)
        else:
            np.testing.assert_array_equal(substituted, expected, err_msg=name)


def test_fixed_batch_folds_to_plain_numbers():
    model = _flatten_like_pytorch()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 4
    report = check(model)
    target = next(t for n in report.nodes for t in n.outputs if t.name == "target")
    assert target.value.dtype == np.int64 and target.value.tolist() == [4, -1]


def test_fraction_of_a_symbol_is_not_folded():
    """``H · 1.5`` is not a whole dim: the sizes stay unknown, nothing is guessed."""
    model = _interpolate_sizes()
    model.graph.initializer[-1].CopyFrom(const("two", [1.5, 1.5], np.float32))
    report = inspect_model(model)
    ours = {t.name: t for node in report.nodes for t in node.outputs if t.name}
    assert ours["sizes"].value is None and ours["y"].shape is None
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 6
    model.graph.input[0].type.tensor_type.shape.dim[3].dim_value = 4
    check(model, {"N": 2})


def test_folded_shape_of_a_constant_weight_is_not_a_parameter():
    """Reshape of an embedding-like weight: the weight counts, its shape tensor does not."""
    weight = const("w", np.ones((6, 4)), np.float32)
    model = build([N("Reshape", ["w", "s"], ["wr"]), N("MatMul", ["x", "wr"], ["y"])],
                  [("x", F, ["N", 3])], [weight, const("s", [3, 8])])
    report = check(model, {"N": 2})
    assert report.totals.unique_params == 24


def test_variadic_max_of_shapes_folds_without_touching_its_inputs():
    model = build([N("Shape", ["a"], ["sa"]), N("Shape", ["b"], ["sb"]), N("Shape", ["c"], ["sc"]),
                   N("Max", ["sa", "sb", "sc"], ["m"]), N("Min", ["sa", "sb", "sc"], ["s"]),
                   N("Expand", ["a", "m"], ["y"])],
                  [("a", F, [1, 4, 1]), ("b", F, [3, 1, 1]), ("c", F, [1, 1, 5])], outputs=["y", "s"])
    report = check(model)
    ours = {t.name: t for node in report.nodes for t in node.outputs if t.name}
    assert ours["y"].shape == (3, 4, 5)
    _assert_folded_values_match(model, ours, {})


KERAS_MHA = os.path.join(os.path.dirname(__file__), "data", "keras_mha_dynamic.onnx")


def test_a_real_tf2onnx_export_stays_symbolic_and_matches_ort():
    """Keras MultiHeadAttention + LayerNorm + Reshape(-1) + UpSampling1D, batch and sequence
    dynamic (see data/make_keras_mha_dynamic.py): every tensor symbolic, equal to ORT's
    shapes at two sizes; parameters = Keras's 1,691 (the attention scale and LayerNorm
    epsilon the exporter writes as 0-d initializers are literals, not weights)."""
    model = onnx.load(KERAS_MHA)
    batch, seq = (d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim[:2])
    report = None
    for b, s in ((1, 3), (4, 7)):
        report = check(model, {batch: b, seq: s})
    assert all(t.shape is not None for n in report.nodes for t in n.outputs)
    assert [str(d) for d in report.outputs[1].shape] == [batch, f"2*{seq}", "32"]
    assert report.totals.unique_params == 1691


def test_explain_shows_how_the_reshape_target_is_assembled():
    report = inspect_model(_flatten_like_pytorch(), explain=True)
    lines = {n.op_type: n.explanations for n in report.nodes}
    assert ("shape", "value = [N, 64, 5, 5]") in lines["Shape"]
    assert ("shape", "value = [N, -1]") in lines["Concat"]
    assert ("shape", "-1 = N·64·5·5 / N = 1600") in lines["Reshape"]


def test_integer_division_truncates_like_onnxruntime():
    """ONNX Div on integers truncates toward zero: (4 − 10) / 4 folds to −1, not ⌊−1.5⌋ = −2."""
    model = build([N("Shape", ["x"], ["s"]), N("Sub", ["s", "ten"], ["d"]), N("Div", ["d", "four"], ["q"]),
                   N("Mod", ["d", "four"], ["r"])],
                  [("x", F, [4, 13, 2])], [const("ten", [10]), const("four", [4, -4, 4])], outputs=["q", "r"])
    report = check(model)
    ours = {t.name: t for node in report.nodes for t in node.outputs if t.name}
    assert ours["q"].value.tolist() == [-1, -0, -2]
    _assert_folded_values_match(model, ours, {})
