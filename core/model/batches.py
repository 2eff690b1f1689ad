"""Keras predictions over any number of rows, in batches of a few fixed shapes and bounded memory."""

from __future__ import annotations

import numpy as np

PREDICT_BATCH_SIZE = 1024


def predict_in_batches(network, inputs: np.ndarray) -> np.ndarray:
    """``network.predict`` on (n, ...) inputs in batches of one of a few fixed sizes: full batches of
    ``PREDICT_BATCH_SIZE``, the rest zero-padded to a power of two (at least 32). Keras traces its
    predict function once per batch shape; without the padding every new n costs a trace
    (a fraction of a second each). The inputs go to Keras ``PREDICT_CHUNK`` rows at a time (Keras copies what it is
    given into a tensor: a chunk, not the whole array). Each row's outputs depend on that row alone."""
    n = len(inputs)
    if n == 0:
        return network.predict(inputs, verbose=0)
    size = PREDICT_BATCH_SIZE if n >= PREDICT_BATCH_SIZE else max(32, 1 << (n - 1).bit_length())
    outputs = None
    for start in range(0, n, PREDICT_CHUNK):
        chunk = inputs[start:start + PREDICT_CHUNK]
        padded = -(-len(chunk) // size) * size
        if padded != len(chunk):
            chunk = np.concatenate([chunk, np.zeros((padded - len(chunk), *chunk.shape[1:]), dtype=chunk.dtype)])
        predicted = network.predict(chunk, batch_size=size, verbose=0)
        if outputs is None:
            outputs = np.empty((n, *predicted.shape[1:]), dtype=predicted.dtype)
        outputs[start:start + PREDICT_CHUNK] = predicted[:min(PREDICT_CHUNK, n - start)]
    return outputs


PREDICT_CHUNK = 8 * PREDICT_BATCH_SIZE

