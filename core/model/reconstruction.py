"""How far a reconstruction is from the image the network saw, image by image.

Both errors take (N, ...) images and reconstructions in [0, 1] and return (N,) values; each image's
value depends on its own row alone, so they apply in any chunks.
"""

from __future__ import annotations

import numpy as np


def squared_error(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean squared pixel error per image (N,) of reconstructions against images, both (N, ...)
    in [0, 1]: the results table's ``reconstruction_error``."""
    return _per_image(lambda x, y: np.mean((x - y) ** 2, axis=1), images, reconstructions)


def cross_entropy_error(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean binary cross-entropy per image (N,) in nats per pixel, of reconstructions against
    images (both (N, ...) in [0, 1]): the autoencoder's own training loss, image by image."""
    def error(x, y):
        y = np.clip(y, 1e-7, 1 - 1e-7)
        return -np.mean(x * np.log(y) + (1 - x) * np.log1p(-y), axis=1)

    return _per_image(error, images, reconstructions)


ERROR_CHUNK = 4096  # images per step of the error functions: their temporaries stay a few MB


def _per_image(error, images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """``error(x, y)`` of (n, pixels) rows, ``ERROR_CHUNK`` images at a time: (N,). Each image's
    value depends on its own row alone, so the chunks change nothing but the peak memory."""
    images, reconstructions = images.reshape(len(images), -1), reconstructions.reshape(len(images), -1)
    values = [error(images[start:start + ERROR_CHUNK], reconstructions[start:start + ERROR_CHUNK])
              for start in range(0, len(images), ERROR_CHUNK)]
    return np.concatenate(values) if values else np.zeros(0, dtype=np.float32)

