"""Regenerate keras_mha_dynamic.onnx: a small Keras attention block exported by tf2onnx
with batch and sequence length both dynamic, so every Reshape / Tile / Slice target is
computed by a Shape -> Gather -> ReduceProd -> Concat subgraph.  Seeded random weights
(zero biases would be optimised away by tf2onnx).  Keras counts 1,691 parameters.

    /work/venv/bin/python tests/ops/data/make_keras_mha_dynamic.py
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

inp = keras.Input((None, 16), name="x")
h = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8)(inp, inp)
h = keras.layers.LayerNormalization()(h + inp)
h = keras.layers.Dense(32, activation="relu")(h)
pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Reshape((-1, 8))(h))
model = keras.Model(inp, [keras.layers.Dense(3)(pooled), keras.layers.UpSampling1D(2)(h)])
rng = np.random.default_rng(0)
model.set_weights([rng.standard_normal(w.shape).astype("float32") for w in model.get_weights()])
spec = (tf.TensorSpec((None, None, 16), tf.float32, name="x"),)


@tf.function(input_signature=spec)
def forward(x):
    return model(x)


proto, _ = tf2onnx.convert.from_function(forward, input_signature=spec, opset=17)
with open(os.path.join(os.path.dirname(__file__), "keras_mha_dynamic.onnx"), "wb") as handle:
    handle.write(proto.SerializeToString())
print("Keras parameters:", model.count_params())
