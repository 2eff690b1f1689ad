"""Everything that computes: image sources, the autoencoder, analysis and one pipeline run.

Importable and testable without a browser; TensorFlow is imported only where a model is built
or loaded, through :func:`import_keras`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # silence TensorFlow's C++ start-up chatter


def import_keras():
    """Keras, imported with TensorFlow's start-up lines on stderr silenced.

    TensorFlow's C++ code prints its oneDNN and CUDA notes to file descriptor 2 before its logging
    is set up (``TF_CPP_MIN_LOG_LEVEL`` does not reach them), so they are sent to /dev/null while
    TensorFlow loads and its CPU device starts; Python's own stderr is untouched."""
    import sys

    if "keras" in sys.modules:
        return sys.modules["keras"]
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras
            import tensorflow as tf

            tf.constant(0.0) + 1.0  # start the device while the notes are silenced
            tf.get_logger().setLevel("ERROR")  # retracing notes and other advice for developers
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return keras
