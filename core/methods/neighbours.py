"""Exact nearest neighbours of latent rows, and the distance-to-neighbours anomaly score.

Brute-force searches (scikit-learn's, imported on use) against at most ``MAX_REFERENCE`` fitted rows.
"""

from __future__ import annotations

import numpy as np

MANIFOLD_NEIGHBORS = 20  # the clustering manifold's UMAP neighbours (core.methods.embeddings)
MANIFOLD_DIMENSIONS = 10  # and its dimensions


def neighbor_index(reference: np.ndarray, n_neighbors: int):
    """An exact nearest-neighbour index over (M, d) reference rows (scikit-learn's, fitted).

    Brute force: on latent vectors (d of about 10 and more) it beats scikit-learn's trees (one
    matrix product; docs/benchmarks.md). Its distances are computed in float64 for float32 rows."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(reference)


def nearest_neighbors(features: np.ndarray, n_neighbors: int = MANIFOLD_NEIGHBORS) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row of (N, d) features among the rows, self included
    (column 0). Returns (indices (N, k) int64, distances (N, k) float32), k = min(n_neighbors, N).

    Computed once and shared by the clustering manifold and the 2-D map (UMAP's precomputed_knn),
    which also spares UMAP's approximate search and its numba compilation.
    """
    n_neighbors = min(n_neighbors, len(features))
    distances, indices = neighbor_index(features, n_neighbors).kneighbors(features)
    return indices.astype(np.int64), distances.astype(np.float32)


def knn_distance_scores(features: np.ndarray, reference: np.ndarray, n_neighbors: int = 10,
                        same_set: bool = False, own_rows: np.ndarray | None = None) -> np.ndarray:
    """Mean distance (N,) from each row of features to its ``n_neighbors`` nearest reference rows;
    higher = more anomalous. A row's own match is left out: every row's when ``same_set`` (features
    are the reference rows themselves), or the rows flagged in the (N,) bool ``own_rows`` (rows that
    are among the reference rows, each its own nearest)."""
    if same_set:
        own_rows = np.ones(len(features), dtype=bool)
    skip = own_rows is not None and bool(np.any(own_rows))
    n_neighbors = max(1, min(n_neighbors, len(reference) - int(skip)))
    distances, _ = neighbor_index(reference, n_neighbors + int(skip)).kneighbors(features)
    if not skip:
        return distances.mean(axis=1)
    return np.where(own_rows, distances[:, 1:].mean(axis=1), distances[:, :n_neighbors].mean(axis=1))


def unit_rows(features: np.ndarray) -> np.ndarray:
    """(N, d) rows scaled to unit length (Euclidean distances between them are cosine distances)."""
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def reference_sample(n_train: int, seed: int = 0, n_reference: int = 2000) -> np.ndarray:
    """Indices of a seeded sample of at most ``n_reference`` of ``n_train`` fitted images (all of them,
    in order, when there are no more): e.g. the images whose spread the default anomaly score is
    standardized by, or the neighbours new images are measured against (``MAX_REFERENCE``)."""
    if n_train <= n_reference:
        return np.arange(n_train)
    return np.random.default_rng(seed).permutation(n_train)[:n_reference]


# Neighbour searches of new images run against at most this many fitted images: their cost grows with
# it (a million new images against 60,000 would take several times longer than against 20,000).
MAX_REFERENCE = 20_000

