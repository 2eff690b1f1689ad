"""What an image goes through before the autoencoder sees it (the design's ``prepare``).

:func:`straighten` removes the slant of grey images and centres them, one image at a time: the
shear that makes the rows' and columns' second moments uncorrelated, and the shift that moves the
centre of mass to the middle. Handwriting varies most in slant and position; taken out, images of
the same shape lie closer together in the latent space (MNIST clusters: docs/benchmarks.md). Each
image's result depends on that image alone, so it applies in any batch, on any worker.
"""

from __future__ import annotations

import numpy as np

PREPARATIONS = ("none", "straighten", "standardize")


def prepare(images: np.ndarray, how: str = "none", downsample: int = 1) -> np.ndarray:
    """(N, H, W, C) images in [0, 1] as the network sees them: averaged down by ``downsample``, then
    straightened (grey images), standardised (photos) or left as they are. Image by image."""
    if downsample > 1:
        images = average_down(images, downsample)
    if how == "straighten":
        return straighten(images)
    if how == "standardize":
        return standardize(images)
    return images


def average_down(images: np.ndarray, factor: int) -> np.ndarray:
    """(N, H, W, C) -> (N, H // factor, W // factor, C): the mean of each factor x factor block."""
    count, height, width, channels = images.shape
    height, width = height - height % factor, width - width % factor
    blocks = images[:, :height, :width].reshape(count, height // factor, factor, width // factor, factor, channels)
    return blocks.mean(axis=(2, 4)).astype(np.float32)


def standardize(images: np.ndarray) -> np.ndarray:
    """Each image's pixels minus their mean, over their standard deviation, squashed into (0, 1) by a
    sigmoid: what is left is the image's pattern, not its brightness or contrast."""
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    spread = np.maximum(images.std(axis=(1, 2, 3), keepdims=True), 1e-3)
    return (1.0 / (1.0 + np.exp(-(images - mean) / spread))).astype(np.float32)


def straighten(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 1) grey images in [0, 1] -> the same shape, each sheared to zero slant and shifted
    to its centre of mass, sampled bilinearly (zeros outside the image). Other shapes pass through.
    Works through ``STRAIGHTEN_CHUNK`` images at a time, so its temporaries stay small."""
    if images.ndim != 4 or images.shape[-1] != 1 or len(images) == 0:
        return images
    straightened = np.empty(images.shape, dtype=images.dtype)
    for start in range(0, len(images), STRAIGHTEN_CHUNK):
        chunk = images[start:start + STRAIGHTEN_CHUNK, ..., 0].astype(np.float32)
        straightened[start:start + STRAIGHTEN_CHUNK, ..., 0] = _straighten(chunk)
    return straightened


STRAIGHTEN_CHUNK = 2048


def _straighten(pixels: np.ndarray) -> np.ndarray:
    """(n, H, W) float32 grey images -> the same, straightened (see :func:`straighten`)."""
    count, height, width = pixels.shape
    rows = np.arange(height, dtype=np.float32)[None, :, None]
    columns = np.arange(width, dtype=np.float32)[None, None, :]
    mass = pixels.sum(axis=(1, 2)) + np.float32(1e-6)
    row_centre = (pixels * rows).sum(axis=(1, 2)) / mass
    column_centre = (pixels * columns).sum(axis=(1, 2)) / mass
    row_offset = rows - row_centre[:, None, None]
    row_variance = (pixels * row_offset**2).sum(axis=(1, 2)) / mass
    covariance = (pixels * row_offset * (columns - column_centre[:, None, None])).sum(axis=(1, 2)) / mass
    slant = covariance / np.maximum(row_variance, np.float32(1e-6))
    middle_row, middle_column = np.float32(height / 2 - 0.5), np.float32(width / 2 - 0.5)
    # output pixel (i, j) samples the input at (i - middle + row centre, slant * (i - middle) + j - middle + column centre)
    source_rows = np.broadcast_to((rows - middle_row) + row_centre[:, None, None], pixels.shape)
    source_columns = (slant[:, None, None] * (rows - middle_row) + (columns - middle_column)
                      + column_centre[:, None, None])
    return _bilinear(pixels, source_rows, np.nan_to_num(source_columns))


def _bilinear(pixels: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """(n, H, W) values of ``pixels`` at fractional (n, H, W) positions; zero outside. The images
    are padded with two rows and columns of zeros on every side, and positions outside are clipped
    onto that border, so every corner of every position reads a real or a zero pixel."""
    count, height, width = pixels.shape
    pad = 2
    padded = np.zeros((count, height + 2 * pad, width + 2 * pad), dtype=np.float32)
    padded[:, pad:-pad, pad:-pad] = pixels
    flat, stride = padded.reshape(-1), width + 2 * pad
    top, left = np.floor(rows).astype(np.int64), np.floor(columns).astype(np.int64)
    down, right = rows - top, columns - left  # float64: as the results have always been computed
    top = np.clip(top, -pad, height) + pad
    left = np.clip(left, -pad, width) + pad
    corner = (np.arange(count) * (height + 2 * pad) * stride)[:, None, None] + top * stride + left
    result = np.zeros(rows.shape, dtype=np.float32)
    for offset, weight in ((0, (1 - down) * (1 - right)), (stride, down * (1 - right)),
                           (1, (1 - down) * right), (stride + 1, down * right)):
        result += flat[corner + offset] * weight
    return np.clip(result, 0.0, 1.0)
