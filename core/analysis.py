"""Analysis of a latent matrix: clusters, anomaly scores, a 2-D map, and evaluation metrics.

Inputs are float arrays of shape (N, d) (a latent matrix, or flattened pixels for the raw-pixel
baselines). Anomaly scores follow PyOD's convention everywhere: higher = more anomalous.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics
from sklearn.cluster import KMeans
from sklearn.ensemble import IsolationForest

from core.errors import UserInputError

MAX_CLUSTERS = 100


def check_n_clusters(n_clusters, n_images: int) -> int:
    """Raise UserInputError unless 1 <= n_clusters <= min(n_images, MAX_CLUSTERS)."""
    if not float(n_clusters).is_integer() or not 1 <= n_clusters <= MAX_CLUSTERS:
        raise UserInputError(f"the number of clusters must be a whole number from 1 to {MAX_CLUSTERS}, got {n_clusters}")
    if n_clusters > n_images:
        raise UserInputError(f"cannot make {n_clusters} clusters from {n_images} images; choose k <= {n_images}")
    return int(n_clusters)


def fit_kmeans(features: np.ndarray, n_clusters: int, seed: int = 0) -> KMeans:
    """KMeans on (N, d) features; the fitted estimator has ``labels_`` (N,) and ``cluster_centers_`` (k, d)."""
    n_clusters = check_n_clusters(n_clusters, len(features))
    return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit(features)


def isolation_forest_scores(features: np.ndarray, seed: int = 0, n_estimators: int = 200) -> np.ndarray:
    """IsolationForest anomaly scores (N,) on (N, d) features; higher = more anomalous.

    The score is the negated ``score_samples``: the mean path length to isolate a point, mapped to
    (0, 1] (about 0.5 for ordinary points, near 1 for points isolated at once).
    """
    forest = IsolationForest(n_estimators=n_estimators, random_state=seed).fit(features)
    return -forest.score_samples(features)


def anomaly_threshold(scores: np.ndarray, contamination: float) -> float:
    """The score above which the top ``contamination`` share (0 < c < 0.5) of images lie."""
    if not 0 < contamination < 0.5:
        raise UserInputError(f"contamination must be between 0 and 0.5, got {contamination}")
    return float(np.quantile(scores, 1.0 - contamination))


def map_2d(features: np.ndarray, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    """A 2-D UMAP embedding (N, 2), float32, of (N, d) features, reproducible for a given seed."""
    import umap

    n_neighbors = max(2, min(n_neighbors, len(features) - 1))
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed)
    return reducer.fit_transform(features).astype(np.float32)


# --- evaluation (labels are used only here, never to train) -----------------------------------


def clustering_accuracy(y_true, y_pred) -> float:
    """Share of images whose cluster maps to their label under the best one-to-one matching
    of clusters to labels (Hungarian algorithm). Clusters left unmatched count as wrong."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    true_values, true_codes = np.unique(y_true, return_inverse=True)
    pred_values, pred_codes = np.unique(y_pred, return_inverse=True)
    counts = np.zeros((len(pred_values), len(true_values)), dtype=np.int64)
    np.add.at(counts, (pred_codes, true_codes), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(y_true))


def clustering_scores(y_true, y_pred) -> dict[str, float]:
    """{"accuracy", "nmi", "ari"} of a clustering against true labels."""
    return {
        "accuracy": clustering_accuracy(y_true, y_pred),
        "nmi": float(metrics.normalized_mutual_info_score(y_true, y_pred)),
        "ari": float(metrics.adjusted_rand_score(y_true, y_pred)),
    }


def anomaly_detection_scores(is_anomaly, scores) -> dict[str, float]:
    """{"auroc", "average_precision"} of anomaly scores (higher = more anomalous) against flags."""
    is_anomaly = np.asarray(is_anomaly, dtype=bool)
    if is_anomaly.all() or not is_anomaly.any():
        raise UserInputError("anomaly metrics need both anomalous and normal images")
    return {
        "auroc": float(metrics.roc_auc_score(is_anomaly, scores)),
        "average_precision": float(metrics.average_precision_score(is_anomaly, scores)),
    }


def k_selection_scores(features: np.ndarray, cluster_counts, seed: int = 0, sample_size: int = 2000) -> list[dict]:
    """KMeans inertia (elbow) and silhouette for each k in ``cluster_counts``, on (N, d) features.

    Returns one {"k", "inertia", "silhouette"} dict per k. The silhouette is computed on a seeded
    sample of at most ``sample_size`` images (its cost grows with N squared); inertia on all.
    """
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(features), size=min(sample_size, len(features)), replace=False)
    rows = []
    for k in cluster_counts:
        if not 2 <= k < len(features):
            continue
        kmeans = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(features)
        labels = kmeans.labels_[sample]
        silhouette = metrics.silhouette_score(features[sample], labels) if len(set(labels)) > 1 else float("nan")
        rows.append({"k": int(k), "inertia": float(kmeans.inertia_), "silhouette": float(silhouette)})
    return rows


def distance_to_cluster_mean(features: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """(N,) Euclidean distance of each row of (N, d) features to the mean of its cluster:
    small = a typical member, large = an untypical one."""
    distances = np.empty(len(features), dtype=np.float64)
    for cluster in np.unique(clusters):
        members = clusters == cluster
        distances[members] = np.linalg.norm(features[members] - features[members].mean(axis=0), axis=1)
    return distances
