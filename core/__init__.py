"""Everything that computes: image sources, the autoencoder, analysis and one pipeline run.

Importable and testable without a browser; TensorFlow is imported only where a model is built
or loaded.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # silence TensorFlow's C++ start-up chatter
