"""A clustering that a change of the last float bit cannot move: several manifolds, each over-clustered
and merged along the latent's neighbour graph, then their consensus.

KMeans with k clusters in one UMAP manifold splits the neighbour graph's islands along whichever seam
the manifold's random layout happens to favour: on the built-in digits a change of 1e-6 in the pixels
moved the accuracy by up to 0.08 (docs/benchmarks.md). Here each manifold is cut into more, smaller
and purer groups than asked for, and the groups are joined two at a time, always the pair whose union
adds the most modularity to the latent's fuzzy neighbour graph (the graph UMAP itself lays out): the
seams follow the graph, not the layout. With several manifolds (small data, where they are cheap),
KMeans on their stacked one-hot labels takes the partition they agree on.

New rows are assigned by the fuzzy-weighted vote of their nearest fitted rows in the latent space,
row by row, as the map places them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from core.methods.checks import check_fitted, check_n_clusters
from core.methods.layout import fuzzy_weights, import_umap, umap_embedding
from core.methods.neighbours import (
    MANIFOLD_DIMENSIONS,
    MANIFOLD_NEIGHBORS,
    MAX_REFERENCE,
    nearest_neighbors,
    neighbor_index,
    reference_sample,
)


def fuzzy_graph(latent: np.ndarray, knn: tuple[np.ndarray, np.ndarray], n_neighbors: int, seed: int):
    """The symmetric fuzzy neighbour graph (scipy CSR, N x N) of (N, d) rows from their exact
    neighbours ``knn`` = (indices, distances), each (N, >= n_neighbors): UMAP's own graph."""
    umap = import_umap()

    indices, distances = knn
    graph, _, _ = umap.umap_.fuzzy_simplicial_set(latent, n_neighbors, np.random.RandomState(seed), "euclidean",
                                                  knn_indices=indices[:, :n_neighbors],
                                                  knn_dists=distances[:, :n_neighbors])
    return graph.tocsr()


def modularity_merge(labels: np.ndarray, graph, n_clusters: int) -> np.ndarray:
    """Join the groups of (N,) ``labels`` two at a time, always the pair whose union adds the most
    modularity of the (N, N) ``graph`` (the greedy step of Clauset, Newman and Moore, starting from
    the groups instead of single rows), until ``n_clusters`` are left. Returns (N,) labels 0..k-1."""
    import scipy.sparse as sparse

    labels = np.unique(labels, return_inverse=True)[1]
    n_groups = int(labels.max()) + 1
    members = sparse.csr_matrix((np.ones(len(labels)), (np.arange(len(labels)), labels)),
                                shape=(len(labels), n_groups))
    weights = (members.T @ graph @ members).toarray()  # edge weight between (and within) groups
    total, degree = weights.sum(), weights.sum(axis=1)
    alive, group = np.ones(n_groups, dtype=bool), np.arange(n_groups)
    while alive.sum() > n_clusters:
        gain = weights / total - np.outer(degree, degree) / total**2
        np.fill_diagonal(gain, -np.inf)
        gain[~alive], gain[:, ~alive] = -np.inf, -np.inf
        first, second = np.unravel_index(np.argmax(gain), gain.shape)
        weights[first] += weights[second]
        weights[:, first] += weights[:, second]
        weights[second], weights[:, second] = 0, 0
        degree[first], degree[second] = degree[first] + degree[second], 0
        alive[second] = False
        group[group == second] = first
    return np.unique(group, return_inverse=True)[1][labels].astype(np.int64)


def _kmeans(features: np.ndarray, n_clusters: int, seed: int, n_init: int = 10) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit(features).labels_


class ConsensusClusterer:
    """Over-cluster each of several manifolds, merge along the latent graph, take their consensus.

    X is ``[latent (d columns), manifold (MANIFOLD_DIMENSIONS columns)]``: the manifold is the run's
    own (the first of the manifolds); the others are seeded UMAP manifolds of the latent with the
    same settings (``seed + 1000 r``), fitted side by side in threads (their numba code runs without
    the GIL). Parameters: ``n_clusters``, ``seed``, ``n_manifolds`` (used up to
    ``many_manifolds_up_to`` fitted rows; one above, where each costs more than it steadies),
    ``over_clusters`` (KMeans' groups in each manifold before merging), ``graph_neighbors`` (the
    fuzzy graph's, and the vote's, neighbours).

    Attributes after ``fit``: ``labels_`` (M,), ``partitions_`` (R, M) each manifold's merged groups,
    ``reference_`` (at most ``MAX_REFERENCE``, d) fitted latent rows with ``reference_labels_``.
    """

    criterion = "negated modularity"

    def __init__(self, n_clusters=10, seed=0, n_manifolds=3, over_clusters=15, graph_neighbors=15,
                 many_manifolds_up_to=5_000):
        self.n_clusters = n_clusters
        self.seed = seed
        self.n_manifolds = n_manifolds
        self.over_clusters = over_clusters
        self.graph_neighbors = graph_neighbors
        self.many_manifolds_up_to = many_manifolds_up_to

    def fit(self, X):
        X = np.ascontiguousarray(X, dtype=np.float32)
        latent, manifold = X[:, :-MANIFOLD_DIMENSIONS], X[:, -MANIFOLD_DIMENSIONS:]
        n_clusters = check_n_clusters(self.n_clusters, len(X))
        over = max(n_clusters, min(self.over_clusters, len(X)))
        knn = nearest_neighbors(latent, max(self.graph_neighbors, MANIFOLD_NEIGHBORS))
        graph = fuzzy_graph(latent, knn, self.graph_neighbors, self.seed)
        rounds = self.n_manifolds if len(X) <= self.many_manifolds_up_to else 1

        def partition(round_: int) -> np.ndarray:
            seed = self.seed + 1000 * round_
            space = manifold if round_ == 0 else umap_embedding(
                latent, n_components=MANIFOLD_DIMENSIONS, n_neighbors=MANIFOLD_NEIGHBORS, min_dist=0.0, seed=seed,
                knn=knn)
            return modularity_merge(_kmeans(space, over, seed), graph, n_clusters)

        order = [*range(1, rounds), 0]  # the manifolds to fit first, side by side; the run's own last
        with ThreadPoolExecutor(max_workers=2) as pool:
            found = dict(zip(order, pool.map(partition, order)))
        self.partitions_ = np.stack([found[round_] for round_ in range(rounds)])
        if rounds == 1:
            labels = self.partitions_[0]
        else:
            stacked = np.zeros((len(X), n_clusters * rounds), dtype=np.float32)
            for round_, labels in enumerate(self.partitions_):
                stacked[np.arange(len(X)), round_ * n_clusters + labels] = 1
            labels = _kmeans(stacked, n_clusters, self.seed, n_init=20)
        self.labels_ = np.asarray(labels, dtype=np.int64)
        kept = reference_sample(len(X), self.seed, MAX_REFERENCE)
        self.reference_, self.reference_labels_ = latent[kept], self.labels_[kept]
        return self

    def predict(self, X) -> np.ndarray:
        """(N,) clusters of new rows: the fuzzy-weighted vote of their ``graph_neighbors`` nearest
        fitted rows in the latent space; a row equal to a kept fitted row gets that row's cluster."""
        check_fitted(self, "reference_")
        latent = np.asarray(X, dtype=np.float32)[:, :-MANIFOLD_DIMENSIONS]
        k = min(self.graph_neighbors, len(self.reference_))
        distances, indices = neighbor_index(self.reference_, k).kneighbors(latent)
        votes = np.zeros((len(latent), int(self.labels_.max()) + 1))
        np.add.at(votes, (np.repeat(np.arange(len(latent)), k), self.reference_labels_[indices].ravel()),
                  fuzzy_weights(distances).ravel())
        found = votes.argmax(axis=1).astype(np.int64)
        copies = distances[:, 0] <= 1e-5  # a fitted row (or an exact copy of one) keeps its own cluster
        found[copies] = self.reference_labels_[indices[copies, 0]]
        return found

    def selection_score(self, X) -> float:
        """Lower is better: minus the modularity of the clusters on the latent's graph."""
        check_fitted(self, "reference_")
        latent = np.ascontiguousarray(X, dtype=np.float32)[:, :-MANIFOLD_DIMENSIONS]
        graph = fuzzy_graph(latent, nearest_neighbors(latent, self.graph_neighbors), self.graph_neighbors, self.seed)
        return -modularity(graph, self.predict(X))


def modularity(graph, labels: np.ndarray) -> float:
    """The modularity (-0.5 to 1, higher = denser within clusters than chance) of (N,) ``labels`` on
    the (N, N) weighted ``graph``."""
    import scipy.sparse as sparse

    labels = np.unique(labels, return_inverse=True)[1]
    members = sparse.csr_matrix((np.ones(len(labels)), (np.arange(len(labels)), labels)))
    weights = (members.T @ graph @ members).toarray()
    total = weights.sum()
    return float(np.trace(weights) / total - np.sum((weights.sum(axis=1) / total) ** 2))
