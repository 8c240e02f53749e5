"""DFT, STFT, Col2Im, MaxUnpool and RMSNormalization with a symbolic batch, against
onnxruntime's actual shapes; their costs against the stated conventions by hand."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from truth import check, make_model

from onnxinspect import inspect_model

F = TensorProto.FLOAT


def _const(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


CASES = {
    # opset 17: axis is an attribute; a real signal zero-padded to 16
    "dft17": make_model([helper.make_node("DFT", ["x", "n"], ["y"], axis=1)],
                        [("x", F, ["N", 12, 1])], [("y", F, None)], [_const("n", 16)], opset=17),
    # opset 20: axis is input 2; one-sided (RFFT) of length 12 on axis -2
    "rfft20": make_model([helper.make_node("DFT", ["x", "", "axis"], ["y"], onesided=1)],
                         [("x", F, ["N", 3, 12, 1])], [("y", F, None)], [_const("axis", -2)], opset=20),
    "stft": make_model([helper.make_node("STFT", ["x", "step", "w"], ["y"])],
                       [("x", F, ["N", 64, 1])], [("y", F, None)],
                       [_const("step", 8), _const("w", np.hanning(16), np.float32)], opset=17),
    "col2im": make_model([helper.make_node("Col2Im", ["x", "image", "block"], ["y"], strides=[2, 2])],
                         [("x", F, ["N", 2 * 4, 9])], [("y", F, None)],
                         [_const("image", [6, 6]), _const("block", [2, 2])], opset=18),
    "maxunpool": make_model([helper.make_node("MaxUnpool", ["x", "i"], ["y"], kernel_shape=[2, 2],
                                              strides=[2, 2])],
                            [("x", F, ["N", 3, 4, 5]), ("i", TensorProto.INT64, ["N", 3, 4, 5])],
                            [("y", F, None)], opset=11),
    "rms": make_model([helper.make_node("RMSNormalization", ["x", "g"], ["y"], axis=-1)],
                      [("x", F, ["N", 5, 16])], [("y", F, None)],
                      [_const("g", np.ones(16), np.float32)], opset=23),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("n", [1, 3])
def test_shapes_are_onnxruntimes(case, n):
    feeds = None
    if case == "maxunpool":   # indices must point inside the (N, 3, 8, 10) output
        feeds = {"x": np.ones((n, 3, 4, 5), np.float32), "i": np.zeros((n, 3, 4, 5), np.int64)}
    # onnx 1.23's shape inference gives STFT with a window frame_length bins, not the
    # one-sided frame_length//2 + 1 of the spec (and ORT): STFT is checked against ORT alone.
    check(CASES[case], {"N": n}, feeds=feeds, onnx_truth=case != "stft")


def _node(case, n=3):
    (node,) = inspect_model(CASES[case], dims={"N": n}).nodes
    return node


def test_fft_cost_is_5_n_log2_n_per_transform():
    # length 16: 5·16·4 real FLOPs per transform, one transform per batch row
    assert _node("dft17").flops == 3 * 5 * 16 * 4
    # length 12 (⌈log₂ 12⌉ = 4), 3 transforms per batch row
    assert _node("rfft20").flops == 3 * 3 * 5 * 12 * 4
    # 64 samples, frames of 16 every 8: 7 frames; each a transform plus the window
    assert _node("stft").flops == 3 * 7 * (5 * 16 * 4 + 16)


def test_other_costs_by_hand():
    assert _node("col2im").flops == 3 * 8 * 9          # one add per column entry
    assert _node("maxunpool").flops == 0               # a scatter
    rms = _node("rms")
    assert rms.flops == 4 * 3 * 5 * 16 and rms.params == 16   # the scale is a weight


def test_the_window_and_lengths_are_not_parameters():
    assert _node("stft").params == 0 and _node("dft17").params == 0
