"""Anomaly scorers in PyOD's shape: ``fit(X)`` keeps ``decision_scores_`` of the fitted rows (each
scored against the others, never against itself) and ``threshold_`` from ``contamination``;
``decision_function(X)`` scores new rows. Higher = more anomalous, always.
"""

from __future__ import annotations

import numpy as np

from core.methods.checks import anomaly_threshold, check_fitted
from core.methods.neighbours import MAX_REFERENCE, knn_distance_scores, reference_sample, unit_rows


class Scorer:
    """What every scorer shares: ``threshold_`` from ``contamination`` after ``fit``."""

    contamination: float

    def _set_threshold(self, scores: np.ndarray):
        self.decision_scores_ = np.asarray(scores, dtype=np.float64)
        self.threshold_ = anomaly_threshold(self.decision_scores_, self.contamination)
        return self


class IsolationForestScorer(Scorer):
    """IsolationForest (200 trees): the negated ``score_samples``, about 0.5 for ordinary rows and
    near 1 for rows isolated at once."""

    def __init__(self, contamination=0.01, seed=0, n_estimators=200):
        self.contamination = contamination
        self.seed = seed
        self.n_estimators = n_estimators

    def fit(self, X):
        from sklearn.ensemble import IsolationForest

        self.forest_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.seed).fit(X)
        return self._set_threshold(self.decision_function(X))

    def decision_function(self, X) -> np.ndarray:
        check_fitted(self, "forest_")
        return -self.forest_.score_samples(X)


class KnnDistanceScorer(Scorer):
    """Mean Euclidean distance to the ``n_neighbors`` nearest reference rows: the fitted rows, or a
    seeded sample of ``MAX_REFERENCE`` of them (a fitted row's own match left out of its
    ``decision_scores_``)."""

    def __init__(self, contamination=0.01, n_neighbors=10, seed=0):
        self.contamination = contamination
        self.n_neighbors = n_neighbors
        self.seed = seed

    def fit(self, X):
        X = np.asarray(X, dtype=np.float32)
        self.reference_, own = _reference_rows(X, self.seed)
        return self._set_threshold(knn_distance_scores(X, self.reference_, self.n_neighbors, own_rows=own))

    def decision_function(self, X) -> np.ndarray:
        check_fitted(self, "reference_")
        return knn_distance_scores(np.asarray(X, dtype=np.float32), self.reference_, self.n_neighbors)


def _reference_rows(X: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(reference rows, (M,) bool: which fitted rows are among them): all fitted rows, or a seeded
    sample of ``MAX_REFERENCE``."""
    kept = reference_sample(len(X), seed, MAX_REFERENCE)
    own = np.zeros(len(X), dtype=bool)
    own[kept] = True
    return X[kept], own


class ColumnScorer(Scorer):
    """A score that is already computed per image, such as a reconstruction error: X is (N, 1)."""

    def __init__(self, contamination=0.01):
        self.contamination = contamination

    def fit(self, X):
        return self._set_threshold(self.decision_function(X))

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64).reshape(len(X), -1)[:, 0]



def robust_standardize(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(scores - median(reference)) / IQR(reference): scores in units of the reference's spread."""
    low, median, high = np.quantile(reference, [0.25, 0.5, 0.75])
    return (scores - median) / max(high - low, 1e-12)



class LatentAndReconstructionScorer(Scorer):
    """The default anomaly score, from two robust z-scores (each in units of its spread over a seeded
    sample of at most 2,000 fitted images, ``reference_sample``): the mean cosine distance to
    the ``n_neighbors`` nearest fitted images in the latent space (all of them, or a seeded sample of
    ``MAX_REFERENCE``), and the reconstruction error.

    X is ``[latent (d columns), cross_entropy, squared_error]``. When the model trained on the
    analysed images themselves, the score is the larger of the distance (100 neighbours) and the
    cross-entropy z-scores: an odd image far from the rest or badly drawn stands out either way, and
    the autoencoder, trained on it too, draws its faint odd images well enough that only their
    cross-entropy stays high. With ``novelty`` (trained on clean images other than the analysed
    ones), it is the distance z-score (50 neighbours) plus the larger of the cross-entropy and
    squared-error z-scores. Measurements: docs/benchmarks.md.
    """

    def __init__(self, contamination=0.01, seed=0, n_neighbors=None, novelty=False):
        self.contamination = contamination
        self.seed = seed
        self.n_neighbors = n_neighbors
        self.novelty = novelty

    @property
    def neighbour_count(self) -> int:
        """How many nearest fitted images the distance is averaged over: ``n_neighbors``, else 50 or 100."""
        return self.n_neighbors or (50 if self.novelty else 100)

    def fit(self, X):
        X = np.asarray(X, dtype=np.float32)
        latent, cross_entropy, squared_error = unit_rows(X[:, :-2]), X[:, -2], X[:, -1]
        self.reference_, own = _reference_rows(latent, self.seed)
        self.sample_ = reference_sample(len(X), seed=self.seed)
        distance = knn_distance_scores(latent, self.reference_, self.neighbour_count, own_rows=own)
        self.spread_ = {"distance": distance[self.sample_], "cross_entropy": cross_entropy[self.sample_],
                        "squared_error": squared_error[self.sample_]}
        return self._set_threshold(self._combine(distance, cross_entropy, squared_error))

    def decision_function(self, X) -> np.ndarray:
        check_fitted(self, "spread_")
        X = np.asarray(X, dtype=np.float32)
        distance = knn_distance_scores(unit_rows(X[:, :-2]), self.reference_, self.neighbour_count)
        return self._combine(distance, X[:, -2], X[:, -1])

    def _combine(self, distance, cross_entropy, squared_error) -> np.ndarray:
        spread = self.spread_
        distance = robust_standardize(distance, spread["distance"])
        reconstruction = robust_standardize(cross_entropy, spread["cross_entropy"])
        if not self.novelty:
            return np.maximum(distance, reconstruction)
        return distance + np.maximum(reconstruction, robust_standardize(squared_error,
                                                                                 spread["squared_error"]))

