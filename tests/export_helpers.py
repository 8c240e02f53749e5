"""Small Keras models exported through our exporter, for the export/verify/reconcile tests.

TensorFlow is slow to import on CI's two cores: every test module that needs it asks for it
through :func:`require_tensorflow` (skipped cleanly where the ``export`` extra is missing).
"""

from __future__ import annotations

import importlib.util

import pytest


def require_tensorflow():
    """Keras, imported quietly (TensorFlow's banners silenced), or skip the test."""
    for name in ("tensorflow", "tf2onnx", "onnxruntime"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed (pip install '.[export]')")
    from onnxinspect.exporters.quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def export_small(model, path, seed=1):
    """Seed ``model``'s weights, convert it, save it to ``path``; returns (path, report)."""
    import onnx

    from onnxinspect import inspect_model
    from onnxinspect.exporters.keras.export import randomize_weights, to_onnx

    if seed is not None:
        randomize_weights(model, seed)
    onnx.save(to_onnx(model), str(path))
    return str(path), inspect_model(str(path))
