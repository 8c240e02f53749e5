"""Silence the native libraries' loader chatter (TensorFlow, absl, onnxruntime).

TensorFlow and onnxruntime print from C++ straight to file descriptor 2, which Python's
``sys.stderr`` cannot intercept; we point fd 2 at a temporary file while they load and
replay what they said only if the step fails, so a failure still shows its cause.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile

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


@contextlib.contextmanager
def captured_fd2():
    """Run the block with fd 2 redirected to a temporary file; replay it if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow():
    """``import tensorflow`` without its banner; also quiets tf2onnx's and absl's loggers."""
    quiet_environment()
    with captured_fd2():
        import tensorflow as tf
        import keras  # noqa: F401  (Keras 3 registers its backend on import)
    tf.get_logger().setLevel(logging.ERROR)
    for name in ("tf2onnx", "absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return tf
