"""Evaluation: clusterings and anomaly scores judged against true labels and known anomalies, and
compared with each other where there are none. Labels are used only here, never to train.
"""

from __future__ import annotations

import numpy as np

from core.errors import UserInputError


def clustering_accuracy(y_true, y_pred) -> float:
    """Share of images whose cluster maps to their label under the best one-to-one matching
    of clusters to labels (Hungarian algorithm). Clusters left unmatched count as wrong."""
    from scipy.optimize import linear_sum_assignment

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    true_values, true_codes = np.unique(y_true, return_inverse=True)
    pred_values, pred_codes = np.unique(y_pred, return_inverse=True)
    counts = np.zeros((len(pred_values), len(true_values)), dtype=np.int64)
    np.add.at(counts, (pred_codes, true_codes), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(y_true))


def clustering_scores(y_true, y_pred) -> dict[str, float]:
    """{"accuracy", "nmi", "ari"} of a clustering against true labels."""
    from sklearn import metrics

    return {
        "accuracy": clustering_accuracy(y_true, y_pred),
        "nmi": float(metrics.normalized_mutual_info_score(y_true, y_pred)),
        "ari": float(metrics.adjusted_rand_score(y_true, y_pred)),
    }


def anomaly_detection_scores(is_anomaly, scores) -> dict[str, float]:
    """{"auroc", "average_precision"} of anomaly scores (higher = more anomalous) against flags."""
    from sklearn import metrics

    is_anomaly = np.asarray(is_anomaly, dtype=bool)
    if is_anomaly.all() or not is_anomaly.any():
        raise UserInputError("anomaly metrics need both anomalous and normal images")
    return {
        "auroc": float(metrics.roc_auc_score(is_anomaly, scores)),
        "average_precision": float(metrics.average_precision_score(is_anomaly, scores)),
    }


def k_selection_scores(features: np.ndarray, make_clusterer, cluster_counts, seed: int = 0,
                       sample_size: int = 2000) -> list[dict]:
    """For each k in ``cluster_counts``: the clusterer's own selection criterion and the silhouette.

    ``make_clusterer(k)`` returns an unfitted clusterer with ``selection_score(X)`` (lower is better:
    KMeans' inertia, a mixture's BIC, named by its ``criterion``). Returns one {"k", "criterion",
    "silhouette"} dict per k.
    The silhouette is computed on a seeded sample of at most ``sample_size`` rows (its cost grows
    with N squared); the criterion on all.
    """
    from sklearn import metrics

    rng = np.random.default_rng(seed)
    sample = rng.choice(len(features), size=min(sample_size, len(features)), replace=False)
    rows = []
    for k in cluster_counts:
        if not 2 <= k < len(features):
            continue
        clusterer = make_clusterer(k).fit(features)
        labels = clusterer.labels_[sample]
        silhouette = metrics.silhouette_score(features[sample], labels) if len(set(labels)) > 1 else float("nan")
        rows.append({"k": int(k), "criterion": clusterer.selection_score(features), "silhouette": float(silhouette)})
    return rows


def silhouette(features: np.ndarray, clusters: np.ndarray, seed: int = 0, sample_size: int = 2000) -> float:
    """Silhouette (-1 to 1, higher = tighter, better separated clusters) of ``clusters`` in the (N, d)
    features, on a seeded sample of at most ``sample_size`` rows; NaN with fewer than 2 clusters."""
    from sklearn import metrics

    sample = np.random.default_rng(seed).choice(len(features), size=min(sample_size, len(features)), replace=False)
    labels = np.asarray(clusters)[sample]
    if len(set(labels)) < 2 or len(set(labels)) >= len(sample):
        return float("nan")
    return float(metrics.silhouette_score(features[sample], labels))


def agreement(first: np.ndarray, second: np.ndarray) -> float:
    """Adjusted Rand index of two clusterings of the same images (1 = the same grouping)."""
    from sklearn import metrics

    return float(metrics.adjusted_rand_score(first, second))


def top_overlap(first: np.ndarray, second: np.ndarray, top: int) -> float:
    """Share (0 to 1) of the ``top`` highest-scoring images of ``first`` that are also among the
    ``top`` highest of ``second`` (two anomaly scores of the same images)."""
    top = max(1, min(int(top), len(first)))
    return len(np.intersect1d(np.argsort(-first)[:top], np.argsort(-second)[:top])) / top


def rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rank correlation (-1 to 1) of two scores of the same images."""
    from scipy.stats import spearmanr

    return float(spearmanr(first, second).statistic)


def distance_to_cluster_mean(features: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """(N,) Euclidean distance of each row of (N, d) features to the mean of its cluster:
    small = a typical member, large = an untypical one."""
    distances = np.empty(len(features), dtype=np.float64)
    for cluster in np.unique(clusters):
        members = clusters == cluster
        distances[members] = np.linalg.norm(features[members] - features[members].mean(axis=0), axis=1)
    return distances

