"""The two loops of the photo features (``core.model.representation``) compiled by numba, parallel
over images (numba comes with umap-learn). Imported only when photo features are computed."""

import numba
import numpy as np


@numba.njit(parallel=True, fastmath=True, cache=True)
def normalised_patches(pixels, side, stride, eps, out):
    """pixels (n, h, w, C) -> out (n * rows * columns, side * side * C): every side x side patch at
    ``stride``, in (row, column, channel) order, minus its mean, over sqrt(its variance + eps)."""
    count, height, width, channels = pixels.shape
    rows, columns = (height - side) // stride + 1, (width - side) // stride + 1
    size = side * side * channels
    for image in numba.prange(count):
        for a in range(rows):
            for b in range(columns):
                row = (image * rows + a) * columns + b
                total = np.float32(0.0)
                for u in range(side):
                    for v in range(side):
                        for channel in range(channels):
                            value = pixels[image, a * stride + u, b * stride + v, channel]
                            out[row, (u * side + v) * channels + channel] = value
                            total += value
                mean = total / size
                variance = np.float32(0.0)
                for j in range(size):
                    centred = out[row, j] - mean
                    out[row, j] = centred
                    variance += centred * centred
                scale = np.float32(1.0) / np.sqrt(variance / size + eps)
                for j in range(size):
                    out[row, j] *= scale


@numba.njit(parallel=True, fastmath=True, cache=True)
def triangle_pool(dots, squares, centroid_squares, quadrant_row, quadrant_column, columns, out):
    """dots (n, P, K) of patches and centroids, squares (n, P) of the patches, centroid_squares (K,)
    -> out (n, 2, 2, K) += max(0, mean_j z_j - z_k), z_k the distance of a patch to centroid k,
    summed over the patches of each quadrant (P = rows * columns patches per image)."""
    count, n_patches, n_centroids = dots.shape
    for image in numba.prange(count):
        distances = np.empty(n_centroids, np.float32)
        for patch in range(n_patches):
            row, column = quadrant_row[patch // columns], quadrant_column[patch % columns]
            total = np.float32(0.0)
            for k in range(n_centroids):
                value = squares[image, patch] + centroid_squares[k] - 2.0 * dots[image, patch, k]
                value = np.sqrt(value) if value > 0 else np.float32(0.0)
                distances[k] = value
                total += value
            mean = total / n_centroids
            for k in range(n_centroids):
                activation = mean - distances[k]
                if activation > 0:
                    out[image, row, column, k] += activation
