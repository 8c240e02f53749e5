"""Symbolic dims on a real network: Keras MobileNetV2 (alpha 0.35, any resolution) through tf2onnx.

Five stride-2 stages nest five floors; the dim algebra collapses them into one, every
intermediate dim stays an expression in the input's N, H, W, and substituting real sizes
gives exactly what onnxruntime computes.  onnxruntime's own symbolic_shape_infer is run on
the same file for comparison: it keeps the floors nested.
"""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import onnx
import pytest
from export_helpers import require_tensorflow
from truth import check, node_of

from onnxinspect import inspect_model
from onnxinspect.dims import Expr, FloorDiv, Symbol, floordiv, sym

pytestmark = pytest.mark.tensorflow

INPUT = "image"
SYMBOLS = ("N", "H", "W")  # NHWC input: batch, height, width (channels fixed at 3)
OUTPUT_STRIDE = 32         # MobileNetV2: a stride-2 first conv and four stride-2 blocks


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    keras = require_tensorflow()
    import tensorflow as tf
    import tf2onnx

    from onnxinspect.exporters.keras.export import randomize_weights

    keras.utils.set_random_seed(0)
    keras.backend.clear_session()
    model = keras.applications.MobileNetV2(weights=None, input_shape=(None, None, 3), alpha=0.35,
                                           include_top=False, pooling="avg")
    randomize_weights(model, 0)  # non-zero biases: tf2onnx would delete zero ones
    proto, _ = tf2onnx.convert.from_keras(
        model, input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32, name=INPUT)], opset=17)
    _name_dims(proto)
    path = tmp_path_factory.mktemp("mobilenet") / "mobilenetv2.onnx"
    onnx.save(proto, str(path))
    report = inspect_model(str(path))
    deepest = node_of(report, "GlobalAveragePool").inputs[0]
    return SimpleNamespace(keras=keras, model=model, proto=proto, report=report, deepest=deepest)


def _name_dims(proto) -> None:
    """tf2onnx names the dynamic dims ``unk__<counter>`` (the counter depends on what ran
    before in the process): call the input's N, H, W and the output's batch N."""
    (image,) = [vi for vi in proto.graph.input if vi.name == INPUT]
    for dim, name in zip(image.type.tensor_type.shape.dim, SYMBOLS, strict=False):
        assert dim.dim_param, f"input dim {name} is not dynamic"
        dim.dim_param = name
    for vi in proto.graph.output:
        vi.type.tensor_type.shape.dim[0].dim_param = "N"


def test_every_dim_is_an_expression_in_the_input_symbols(mobilenet):
    tensors = [t for node in mobilenet.report.nodes for t in node.outputs]
    assert len(tensors) == len(mobilenet.proto.graph.node)
    for t in tensors:
        assert t.shape is not None, f"{t.name}: unknown shape"
        for d in t.shape:
            assert d is not None, f"{t.name}: unknown dim in {t.shape}"
            if isinstance(d, Expr):
                assert d.symbols() <= set(SYMBOLS), f"{t.name}: {d}"
    assert any(isinstance(d, Expr) and d.symbols() == {"H"} for d in mobilenet.deepest.shape)


def _single_floor_of_linear(d, symbol: str) -> FloorDiv:
    """``d`` is exactly ``floor(linear(symbol)/k)``: one term, coefficient 1, one FloorDiv
    atom whose numerator has only the bare symbol and a constant (no floor inside)."""
    assert isinstance(d, Expr) and len(d.terms) == 1, d
    (mono, coeff), = d.terms
    assert coeff == 1 and len(mono) == 1 and isinstance(mono[0], FloorDiv), d
    atom = mono[0]
    for inner, _ in atom.num.terms:
        assert inner in ((), (Symbol(symbol),)), f"{d}: numerator term {inner}"
    return atom


def test_deepest_map_is_one_floor_per_spatial_dim(mobilenet):
    n, channels, height, width = mobilenet.deepest.shape
    assert (str(n), channels) == ("N", 1280)
    for d, symbol in ((height, "H"), (width, "W")):
        assert str(d).count("floor(") == 1, d
        assert _single_floor_of_linear(d, symbol).den == OUTPUT_STRIDE
        # By hand: Conv1 is SAME with stride 2 -> ceil(H/2) = floor((H + 1)/2); each of the
        # four stride-2 blocks pads (0, 1) then runs a VALID 3x3 stride-2 conv -> floor(x/2).
        assert d == floordiv(sym(symbol) + 1, OUTPUT_STRIDE), d


@pytest.mark.parametrize("bindings", [{"N": 1, "H": 96, "W": 128},
                                      # odd sizes; 95 = 3*32 - 1 is where floor((H+1)/32) != floor(H/32)
                                      {"N": 2, "H": 161, "W": 95}],
                         ids=["96x128", "161x95"])
def test_substituted_shapes_equal_onnxruntime(mobilenet, bindings):
    # Every node output, our expressions substituted, == onnxruntime's actual shape.
    check(mobilenet.proto, bindings)


def test_onnxruntime_symbolic_shape_infer_keeps_the_floors_nested(mobilenet):
    if importlib.util.find_spec("sympy") is None:
        pytest.skip("sympy is not installed: onnxruntime's symbolic_shape_infer needs it")
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    inferred = SymbolicShapeInference.infer_shapes(mobilenet.proto, auto_merge=True)
    theirs = {vi.name: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in inferred.graph.value_info}[mobilenet.deepest.name]
    ours = [str(d) for d in mobilenet.deepest.shape]
    assert theirs[:2] == ["N", 1280]
    for mine, other in zip(ours[2:], theirs[2:], strict=True):
        assert mine.count("floor(") == 1
        assert other.count("floor(") > 1 and len(other) > len(mine), (ours, theirs)


def test_params_equal_keras_less_folded_batchnorm(mobilenet):
    """Keras counts 4 weights per BatchNormalization channel (gamma, beta, moving mean and
    variance).  tf2onnx folds a BN that follows a Conv2D into that conv's bias (4C -> C) and
    leaves one that follows a DepthwiseConv2D as a Mul and an Add (4C -> 2C)."""
    keras = mobilenet.keras
    dropped, previous = 0, None
    for layer in mobilenet.model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            assert isinstance(previous, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)), previous
            channels = layer.gamma.shape[0]
            dropped += 2 * channels if isinstance(previous, keras.layers.DepthwiseConv2D) else 3 * channels
        previous = layer
    totals = mobilenet.report.totals
    assert totals.params == mobilenet.model.count_params() - dropped
