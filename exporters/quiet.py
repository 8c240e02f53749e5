"""Silence TensorFlow's import-time chatter (oneDNN, CUDA stub, CPU-feature banners).

TensorFlow prints from C++ straight to file descriptor 2, past ``sys.stderr``; fd 2 is
captured while it loads (:func:`onnxinspect.exporters.verify.captured_fd2`); an import failure still
surfaces as an exception, shown as one line.
"""

from __future__ import annotations

import logging
import os

from onnxinspect.errors import InspectError

from .verify import captured_fd2

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",     # TensorFlow C++: errors only
    "TF_ENABLE_ONEDNN_OPTS": "0",    # no oneDNN banner; also keeps CPU results bit-stable
    "ABSL_MIN_LOG_LEVEL": "3",
    "GRPC_VERBOSITY": "ERROR",
    "KERAS_BACKEND": "tensorflow",
}


def quiet_environment() -> None:
    """Set the environment variables before TensorFlow is first imported (user values win)."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def import_tensorflow():
    """``import tensorflow`` without its banner; also quiets tf2onnx's and absl's loggers."""
    quiet_environment()
    try:
        with captured_fd2():
            import tensorflow as tf  # noqa: I001  (TensorFlow first, then Keras on it)
            import keras  # noqa: F401  (imported here so its own import-time chatter is captured too)
    except ImportError as error:
        raise InspectError(f"TensorFlow/Keras is needed for this command ({error}); "
                           "install it with: pip install 'onnxinspect[export]'") from None
    tf.get_logger().setLevel(logging.ERROR)
    for name in ("tf2onnx", "absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return tf
