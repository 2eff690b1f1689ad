"""Each image's nearest images by appearance among a million, without a pass over all pairs.

The appearance vectors (N, d) are split into cells by k-means (seeded, fitted on a sample of at
most ``FIT_ROWS`` of them, about ``CELL_SIZE`` images a cell); every image joins its two nearest
cells, so that two images near a border between cells still share one. Within a cell the distances
are computed exactly, a block of rows at a time (a matrix product), and each image keeps its ``k``
nearest there. The work is about ``N * 4 * CELL_SIZE * d`` multiply-adds (a pass over all pairs
would be ``N * N * d``), and the memory one cell's block of distances plus the pairs found.
"""

from __future__ import annotations

import numpy as np

CELL_SIZE = 1_000


FIT_ROWS = 50_000


BLOCK_VALUES = 4_000_000  # distances computed at a time (16 MB)


def cells(appearance: np.ndarray, seed: int = 0, iterations: int = 12) -> np.ndarray:
    """float32 (C, d) k-means centres of (N, d) rows, C = about N / ``CELL_SIZE`` (1 for small N):
    Lloyd's iterations from a seeded choice of rows, on a seeded sample of ``FIT_ROWS`` rows."""
    n_cells = max(1, round(len(appearance) / CELL_SIZE))
    rng = np.random.default_rng(seed)
    rows = appearance if len(appearance) <= FIT_ROWS else appearance[rng.choice(len(appearance), FIT_ROWS, replace=False)]
    rows = np.asarray(rows, dtype=np.float32)
    centres = rows[rng.choice(len(rows), n_cells, replace=False)].copy()
    for _ in range(iterations if n_cells > 1 else 0):
        nearest = nearest_cells(rows, centres, 1)[:, 0]
        counts = np.bincount(nearest, minlength=n_cells)
        sums = np.zeros_like(centres)
        np.add.at(sums, nearest, rows)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    return centres


def nearest_cells(rows: np.ndarray, centres: np.ndarray, count: int = 2, block: int = 20_000) -> np.ndarray:
    """int64 (N, count): the ``count`` nearest centres of each row, nearest first."""
    count = min(count, len(centres))
    out = np.empty((len(rows), count), np.int64)
    squares = np.einsum("cd,cd->c", centres, centres)
    for start in range(0, len(rows), block):
        distance = squares - 2.0 * np.asarray(rows[start:start + block], np.float32) @ centres.T
        chosen = np.argpartition(distance, count - 1, axis=1)[:, :count] if count < len(centres) else \
            np.broadcast_to(np.arange(count), distance.shape).copy()
        order = np.argsort(np.take_along_axis(distance, chosen, axis=1), axis=1)
        out[start:start + block] = np.take_along_axis(chosen, order, axis=1)
    return out


def nearest_neighbours(appearance: np.ndarray, k: int, seed: int = 0):
    """Each image's ``k`` nearest by appearance within its cells, cell after cell.

    Yields (rows int64 (m,), neighbours int64 (m, k'), primary bool (m,)) per cell: the cell's
    images, their k' = min(k, m - 1) nearest other images of the cell (global positions, nearest
    first), and whether the cell is the image's nearest one. An image is in two cells."""
    appearance = np.asarray(appearance, dtype=np.float32)
    centres = cells(appearance, seed)
    assigned = nearest_cells(appearance, centres, 2)
    members = np.concatenate([assigned[:, 0], assigned[:, 1:].ravel()]) if assigned.shape[1] > 1 else assigned[:, 0]
    images = np.concatenate([np.arange(len(appearance))] * assigned.shape[1])
    primary = np.arange(len(images)) < len(appearance)
    order = np.argsort(members, kind="stable")
    bounds = np.searchsorted(members[order], np.arange(len(centres) + 1))
    for cell in range(len(centres)):
        chosen = order[bounds[cell]:bounds[cell + 1]]
        rows = images[chosen]
        if len(rows) < 2:
            continue
        yield rows, _nearest_within(appearance[rows], rows, min(k, len(rows) - 1)), primary[chosen]


def _nearest_within(vectors: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """(m, k) global positions of each vector's k nearest others among ``vectors``, nearest first."""
    squares = np.einsum("nd,nd->n", vectors, vectors)
    found = np.empty((len(vectors), k), np.int64)
    block = max(1, BLOCK_VALUES // len(vectors))
    for start in range(0, len(vectors), block):
        distance = squares[start:start + block, None] + squares[None, :] - 2.0 * vectors[start:start + block] @ vectors.T
        distance[np.arange(len(distance)), np.arange(start, start + len(distance))] = np.inf  # not itself
        chosen = np.argpartition(distance, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(distance, chosen, axis=1), axis=1, kind="stable")
        found[start:start + block] = rows[np.take_along_axis(chosen, order, axis=1)]
    return found
