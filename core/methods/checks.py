"""The settings every clusterer and scorer checks: the cluster count and the contamination."""

from __future__ import annotations

import numpy as np

from core.errors import UserInputError

MAX_CLUSTERS = 100


def check_n_clusters(n_clusters, n_images: int) -> int:
    """Raise UserInputError unless 1 <= n_clusters <= min(n_images, MAX_CLUSTERS)."""
    if not float(n_clusters).is_integer() or not 1 <= n_clusters <= MAX_CLUSTERS:
        raise UserInputError(f"the number of clusters must be a whole number from 1 to {MAX_CLUSTERS}, got {n_clusters}")
    if n_clusters > n_images:
        raise UserInputError(f"cannot make {n_clusters} clusters from {n_images} images; choose k <= {n_images}")
    return int(n_clusters)


def anomaly_threshold(scores: np.ndarray, contamination: float) -> float:
    """The score above which the top ``contamination`` share (0 < c < 0.5) of images lie."""
    check_contamination(contamination)
    return float(np.quantile(scores, 1.0 - contamination))


def check_contamination(contamination) -> float:
    """Raise UserInputError unless 0 < contamination < 0.5."""
    if not 0 < contamination < 0.5:
        raise UserInputError(f"contamination must be between 0 and 0.5, got {contamination}")
    return float(contamination)



def check_fitted(estimator, attribute: str) -> None:
    """Raise scikit-learn's ``NotFittedError`` (the one not-fitted error of every estimator here, the
    autoencoder's too) unless ``estimator`` has the learned ``attribute``."""
    if not hasattr(estimator, attribute):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(f"this {type(estimator).__name__} is not fitted yet; call fit first")
