"""Keras models to ONNX through tf2onnx: the seed's U-Net builder and the exporter."""
