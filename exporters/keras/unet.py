"""The seed article's U-Net (``getnetwork()``), rebuilt from its description.

96x96x1 channels-last input; five encoder levels of two 3x3 'same' ReLU convs with Dropout
between; 2x2 max pooling after levels 1-4 (the article's unused ``pool5`` is dead code and is
left out: it is not part of the model); four decoder levels Conv2DTranspose(f, 2, strides 2)
concatenated on axis 3 with the matching encoder output; a final 1x1 sigmoid conv.
Keras reports 7,759,521 parameters, all trainable.
"""

from __future__ import annotations

INPUT_SHAPE = (96, 96, 1)
ENCODER = ((32, 0.2), (64, 0.2), (128, 0.3), (256, 0.3), (512, 0.3))
DECODER = ((256, 0.3), (128, 0.3), (64, 0.3), (32, 0.3))
PARAMS = 7_759_521


def _conv_block(layers, filters: int, rate: float, x):
    x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same")(x)
    x = layers.Dropout(rate)(x)
    return layers.Conv2D(filters, (3, 3), activation="relu", padding="same")(x)


def build_unet():
    """The U-Net as a functional Keras model with Keras's default layer names
    (``conv2d``, ``conv2d_1``, ...), which tf2onnx's name scopes map back to."""
    import keras
    from keras import layers

    inputs = keras.Input(INPUT_SHAPE, name="input_1")
    x = inputs
    skips = []
    for level, (filters, rate) in enumerate(ENCODER):
        x = _conv_block(layers, filters, rate, x)
        if level < len(ENCODER) - 1:
            skips.append(x)
            x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    for (filters, rate), skip in zip(DECODER, reversed(skips), strict=True):
        up = layers.Conv2DTranspose(filters, (2, 2), strides=(2, 2), padding="same")(x)
        x = layers.concatenate([up, skip], axis=3)
        x = _conv_block(layers, filters, rate, x)
    outputs = layers.Conv2D(1, (1, 1), activation="sigmoid")(x)
    return keras.Model(inputs=[inputs], outputs=[outputs], name="unet")
