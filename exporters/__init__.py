"""Exporters: Keras models (the seed's U-Net or the user's own) to ONNX, plus reconciliation.

Everything here imports TensorFlow lazily; ``onnxinspect MODEL`` never loads this package.
"""
