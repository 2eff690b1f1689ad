"""Embeddings: UMAP fitted on a sample, new rows placed by their nearest fitted rows.

``fit(X)`` embeds the sample (``embedding_``); ``transform(X)`` places new rows row by row, so a
row's place never depends on which other rows share its batch.
"""

from __future__ import annotations

import numpy as np

from core.methods.checks import check_fitted
from core.methods.layout import MAP_EPOCHS, fuzzy_weights, umap_embedding
from core.methods.neighbours import (
    MANIFOLD_DIMENSIONS,
    MANIFOLD_NEIGHBORS,
    MAX_REFERENCE,
    neighbor_index,
    reference_sample,
)


class NeighbourEmbedding:
    """A seeded UMAP embedding of the fitted rows; new rows go to the fuzzy-weighted mean position of
    their ``n_neighbors`` nearest fitted rows (the start UMAP's own ``transform`` refines, without
    its random refinement, so that a row's place depends on that row alone).

    Parameters:
        n_components: output dimensions (2 for the map, about the cluster count for a manifold).
        n_neighbors, min_dist: UMAP's; ``n_epochs`` its layout epochs.
        seed: UMAP's random_state (which makes it single-threaded), and the reference sample's.

    Attributes after ``fit``:
        embedding_: (M, n_components) float32 positions of the fitted rows.
        reference_: (R, d) float32 fitted rows new rows are placed by: all of them, or a seeded
            sample of ``MAX_REFERENCE``; ``reference_embedding_`` (R, n_components) their places.
    """

    def __init__(self, n_components=2, n_neighbors=15, min_dist=0.1, n_epochs=MAP_EPOCHS, seed=0):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.n_epochs = n_epochs
        self.seed = seed

    def fit(self, X, knn=None):
        """Embed (M, d) rows. ``knn``: their (indices, distances) from ``nearest_neighbors``."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        self.embedding_ = umap_embedding(X, n_components=self.n_components, n_neighbors=self.n_neighbors,
                                                  min_dist=self.min_dist, n_epochs=self.n_epochs, seed=self.seed,
                                                  knn=knn)
        kept = reference_sample(len(X), self.seed, MAX_REFERENCE)
        self.reference_, self.reference_embedding_ = X[kept], self.embedding_[kept]
        return self

    def neighbours(self, X, n_neighbors: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(distances, indices), each (N, k), of the k nearest reference rows of (N, d) rows; k is
        ``n_neighbors`` or this embedding's own (at most the reference's size)."""
        check_fitted(self, "reference_")
        k = max(1, min(n_neighbors or self.n_neighbors, len(self.reference_)))
        return neighbor_index(self.reference_, k).kneighbors(np.asarray(X, dtype=np.float32))

    def transform(self, X, neighbours: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """(N, n_components) float32 positions of (N, d) new rows; ``neighbours`` may hand in their
        :meth:`neighbours` (at least this embedding's count of them) found once for several embeddings
        with the same reference."""
        distances, indices = neighbours if neighbours is not None else self.neighbours(X)
        k = min(self.n_neighbors, distances.shape[1])
        weights = fuzzy_weights(distances[:, :k])
        return np.einsum("nk,nkc->nc", weights, self.reference_embedding_[indices[:, :k]]).astype(np.float32)


def map_embedding(seed: int = 0) -> NeighbourEmbedding:
    """The 2-D map of the latent space: UMAP, 15 neighbours, min_dist 0.1."""
    return NeighbourEmbedding(n_components=2, n_neighbors=15, min_dist=0.1, seed=seed)


def manifold_embedding(seed: int = 0, n_components: int = MANIFOLD_DIMENSIONS) -> NeighbourEmbedding:
    """The clustering manifold (the N2D recipe): UMAP to ``n_components`` dimensions, 20 neighbours,
    min_dist 0, so that clusters come out dense and apart."""
    return NeighbourEmbedding(n_components=n_components, n_neighbors=MANIFOLD_NEIGHBORS, min_dist=0.0,
                              seed=seed)

