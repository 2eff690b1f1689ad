"""Labellers: a person's few labels -> a label and a confidence for every image.

scikit-learn's semi-supervised shape (``sklearn.semi_supervised``): ``fit(X, y)`` with ``y`` (N,)
int, ``UNLABELLED`` (-1) for the rows nobody labelled, and an optional ``sample_weight`` (N,) for how
much each labelled row counts (a name given to a whole cluster can count less than a label a person
chose). After ``fit``: ``classes_`` (the labels seen, sorted), ``label_distributions_`` (N, classes)
each fitted row's probabilities (rows sum to 1), ``transduction_`` (N,) the label each fitted row is
given. ``predict_proba(X)`` and ``predict(X)`` label new rows, each row's answer depending on that
row alone (one batch or several give the same).

scikit-learn, SciPy and Keras are imported inside the methods that use them.
"""

from __future__ import annotations

import numpy as np

from core.methods.checks import check_fitted
from core.methods.neighbours import nearest_neighbors, neighbor_index, unit_rows

UNLABELLED = -1


class _Labeller:
    """What every labeller shares: the targets' checks, ``predict`` from ``predict_proba``, and the
    fitted rows' ``label_distributions_`` and ``transduction_``."""

    def _targets(self, y, sample_weight) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labelled positions (L,), their class codes (L,) in 0..classes-1, their weights (L,));
        sets ``classes_``. ValueError with fewer than two distinct labels: nothing to tell apart."""
        y = np.asarray(y)
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must be (N,) integers with {UNLABELLED} for unlabelled rows")
        labelled = np.flatnonzero(y != UNLABELLED)
        self.classes_ = np.unique(y[labelled])
        if len(self.classes_) < 2:
            raise ValueError("a labeller needs at least two distinct labels")
        weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        return labelled, np.searchsorted(self.classes_, y[labelled]), weights[labelled]

    def _fitted(self, distributions: np.ndarray):
        self.label_distributions_ = np.asarray(distributions, dtype=np.float64)
        self.transduction_ = self.classes_[np.argmax(self.label_distributions_, axis=1)]
        return self

    def predict(self, X) -> np.ndarray:
        """(N,) the most probable label of each row of X."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class LinearLabeller(_Labeller):
    """A logistic regression on standardised features (their mean and spread over every fitted row,
    labelled or not), trained on the labelled rows, weighted by ``sample_weight``.

    Parameters: ``regularization`` (logistic regression's C), ``seed``.
    Attributes after ``fit``: ``classifier_``, ``mean_`` and ``scale_`` (d,), and the shared ones."""

    def __init__(self, regularization=1.0, seed=0):
        self.regularization = regularization
        self.seed = seed

    def fit(self, X, y, sample_weight=None):
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(X, dtype=np.float32)
        labelled, codes, weights = self._targets(y, sample_weight)
        self.mean_, self.scale_ = X.mean(axis=0), X.std(axis=0) + np.float32(1e-6)
        self.classifier_ = LogisticRegression(C=self.regularization, max_iter=1000, random_state=self.seed)
        self.classifier_.fit(self._standardised(X[labelled]), codes, sample_weight=weights)
        return self._fitted(self.predict_proba(X))

    def _standardised(self, X) -> np.ndarray:
        return (np.asarray(X, dtype=np.float32) - self.mean_) / self.scale_

    def predict_proba(self, X) -> np.ndarray:
        check_fitted(self, "classifier_")
        return self.classifier_.predict_proba(self._standardised(X))


class SpreadingLabeller(_Labeller):
    """Label spreading (Zhou et al., "Learning with local and global consistency", 2004) over the
    graph of each fitted row's ``n_neighbors`` nearest rows: every row takes, repeatedly, ``alpha``
    of its neighbours' label scores and ``1 - alpha`` of its own given label (weighted by
    ``sample_weight``), ``max_iter`` times; a row's scores, normalised, are its probabilities (rows
    no label reaches get equal ones). New rows take the mean distribution of their nearest fitted rows.

    Parameters: ``n_neighbors``, ``alpha`` (0 to 1: how far labels spread), ``max_iter``, and
    ``precomputed_knn`` (indices (N, k+1), distances) of the rows to be fitted, self first, as
    :func:`core.methods.neighbours.nearest_neighbors` gives them (UMAP's parameter of that name):
    the graph then costs nothing.
    Attributes after ``fit``: ``fit_X_`` (N, d) and the shared ones."""

    def __init__(self, n_neighbors=10, alpha=0.99, max_iter=100, precomputed_knn=None):
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.max_iter = max_iter
        self.precomputed_knn = precomputed_knn

    def fit(self, X, y, sample_weight=None):
        from scipy import sparse

        X = np.asarray(X, dtype=np.float32)
        labelled, codes, weights = self._targets(y, sample_weight)
        n = len(X)
        indices = (nearest_neighbors(X, self.n_neighbors + 1) if self.precomputed_knn is None
                   else self.precomputed_knn)[0][:, 1:self.n_neighbors + 1]
        graph = sparse.csr_matrix((np.ones(indices.size), (np.repeat(np.arange(n), indices.shape[1]),
                                                           indices.ravel())), shape=(n, n))
        graph = graph.maximum(graph.T)
        inverse_root = 1.0 / np.sqrt(np.maximum(np.asarray(graph.sum(axis=1)).ravel(), 1e-12))
        spread = sparse.diags(inverse_root) @ graph @ sparse.diags(inverse_root)
        given = np.zeros((n, len(self.classes_)))
        given[labelled, codes] = weights / np.bincount(codes, weights, len(self.classes_))[codes]  # each class alike
        scores = given.copy()
        for _ in range(self.max_iter):
            scores = self.alpha * (spread @ scores) + (1 - self.alpha) * given
        self.fit_X_, self.spread_ = X, _normalised(scores)
        return self._fitted(self.spread_)

    def predict_proba(self, X) -> np.ndarray:
        check_fitted(self, "fit_X_")
        _, indices = neighbor_index(self.fit_X_, min(self.n_neighbors, len(self.fit_X_))).kneighbors(
            np.asarray(X, dtype=np.float32))
        return self.spread_[indices].mean(axis=1)


class ClusterAndSpreadingLabeller(SpreadingLabeller):
    """Label spreading (:class:`SpreadingLabeller`) on X's columns but the last, averaged with the
    shares of the labels among the labelled images of each row's cluster (X's last column: the run's
    clusters, integers), ``cluster_share`` of the one to ``1 - cluster_share`` of the other; a row
    whose cluster holds no labelled image keeps the spreading's answer alone. Where the clusters are
    good (the self-trained clusterer's), a few labels name them and the spreading mends their borders.

    Attributes after ``fit``: ``cluster_distributions_`` (clusters, classes) each cluster's label
    shares (zeros where none is labelled), ``spread_`` (N, classes), and the spreading's others."""

    def __init__(self, cluster_share=0.5, n_neighbors=10, alpha=0.99, max_iter=100, precomputed_knn=None):
        super().__init__(n_neighbors, alpha, max_iter, precomputed_knn)
        self.cluster_share = cluster_share

    def fit(self, X, y, sample_weight=None):
        X = np.asarray(X, dtype=np.float32)
        clusters = X[:, -1].astype(np.int64)
        super().fit(X[:, :-1], y, sample_weight)
        labelled, codes, weights = self._targets(y, sample_weight)
        counts = np.zeros((int(clusters.max()) + 1, len(self.classes_)))
        np.add.at(counts, (clusters[labelled], codes), weights)
        totals = counts.sum(axis=1, keepdims=True)
        self.cluster_distributions_ = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 0.0)
        return self._fitted(self._mixed(self.spread_, clusters))

    def _mixed(self, spread: np.ndarray, clusters: np.ndarray) -> np.ndarray:
        known = np.clip(clusters, 0, len(self.cluster_distributions_) - 1)
        named = (clusters < len(self.cluster_distributions_)) & (self.cluster_distributions_[known].sum(axis=1) > 0)
        mixed = self.cluster_share * self.cluster_distributions_[known] + (1 - self.cluster_share) * spread
        return np.where(named[:, None], mixed, spread)

    def predict_proba(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        return self._mixed(super().predict_proba(X[:, :-1]), X[:, -1].astype(np.int64))


class NeighbourVoteLabeller(_Labeller):
    """Each row takes the vote of its ``n_neighbors`` nearest labelled rows by cosine distance, each
    vote weighted by ``sample_weight`` over the distance: its probabilities are the votes' shares.

    Attributes after ``fit``: ``labelled_X_`` (L, d) unit rows, ``labelled_codes_`` and
    ``labelled_weights_`` (L,), and the shared ones."""

    def __init__(self, n_neighbors=10):
        self.n_neighbors = n_neighbors

    def fit(self, X, y, sample_weight=None):
        X = np.asarray(X, dtype=np.float32)
        labelled, self.labelled_codes_, self.labelled_weights_ = self._targets(y, sample_weight)
        self.labelled_X_ = unit_rows(X[labelled])
        return self._fitted(self.predict_proba(X))

    def predict_proba(self, X) -> np.ndarray:
        check_fitted(self, "labelled_X_")
        k = min(self.n_neighbors, len(self.labelled_X_))
        distances, indices = neighbor_index(self.labelled_X_, k).kneighbors(unit_rows(np.asarray(X, np.float32)))
        votes = np.zeros((len(indices), len(self.classes_)))
        np.add.at(votes, (np.repeat(np.arange(len(indices)), k), self.labelled_codes_[indices].ravel()),
                  (self.labelled_weights_[indices] / (distances + 1e-6)).ravel())
        return _normalised(votes)


class SelfTrainedLabeller(_Labeller):
    """The default clusterer's small CNN (``core.methods.clusterers.image_classifier``) trained on
    the images: first on the labelled ones (fixed targets, weighted by ``sample_weight``), then also
    on the unlabelled images it is at least ``threshold`` sure of, with its own guesses as targets.

    X is the pixels (N, H*W*C); ``image_shape`` (H, W, C) says how they form images. Parameters:
    ``seed``, ``min_steps`` (training steps of each phase at least), ``threshold``, ``max_guesses``
    (at most this many guessed images, a seeded sample, join the second phase).
    Attributes after ``fit``: ``network_`` and the shared ones."""

    def __init__(self, image_shape, seed=0, min_steps=300, threshold=0.9, max_guesses=20_000):
        self.image_shape = tuple(image_shape)
        self.seed = seed
        self.min_steps = min_steps
        self.threshold = threshold
        self.max_guesses = max_guesses

    def fit(self, X, y, sample_weight=None):
        from core import import_keras
        from core.methods.clusterers import image_classifier

        keras = import_keras()
        images = self._images(X)
        labelled, codes, weights = self._targets(y, sample_weight)
        keras.utils.set_random_seed(int(self.seed))
        self.network_ = image_classifier(keras, self.image_shape, len(self.classes_))
        self._train(images[labelled], codes, weights)
        guessed = self.predict_proba(X)
        sure = np.setdiff1d(np.flatnonzero(guessed.max(axis=1) >= self.threshold), labelled)
        if len(sure) > self.max_guesses:
            sure = np.sort(np.random.default_rng(self.seed).choice(sure, self.max_guesses, replace=False))
        self._train(images[np.concatenate([labelled, sure])], np.concatenate([codes, guessed[sure].argmax(axis=1)]),
                    np.concatenate([weights, np.ones(len(sure))]))
        return self._fitted(self.predict_proba(X))

    def _images(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float32).reshape(len(X), *self.image_shape)

    def _train(self, images: np.ndarray, codes: np.ndarray, weights: np.ndarray) -> None:
        batch = int(min(128, max(16, len(images) // 4)))
        epochs = max(1, -(-self.min_steps // -(-len(images) // batch)))
        targets = np.eye(len(self.classes_), dtype=np.float32)[codes]
        self.network_.fit(images, targets, sample_weight=weights.astype(np.float32), epochs=epochs,
                          batch_size=batch, shuffle=True, verbose=0)

    def predict_proba(self, X) -> np.ndarray:
        from core.model.batches import predict_in_batches

        check_fitted(self, "network_")
        return predict_in_batches(self.network_, self._images(X)).astype(np.float64)


def _normalised(scores: np.ndarray) -> np.ndarray:
    """(N, K) non-negative scores -> rows summing to 1 (equal shares where a row has none)."""
    scores = np.maximum(np.asarray(scores, dtype=np.float64), 0.0)
    totals = scores.sum(axis=1, keepdims=True)
    return np.where(totals > 0, scores / np.where(totals > 0, totals, 1.0), 1.0 / scores.shape[1])
