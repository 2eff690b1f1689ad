"""Analysis on the latent matrix: metrics against hand-computed cases, and real quality checks."""

import numpy as np
import pytest

from core import analysis
from core.errors import UserInputError


def test_clustering_accuracy_matches_hand_computed_cases():
    assert analysis.clustering_accuracy([0, 0, 1, 1], [1, 1, 0, 0]) == 1.0
    assert analysis.clustering_accuracy([0, 0, 1, 1], [0, 0, 0, 0]) == 0.5
    # clusters 0 -> label 0 (2 right), 2 -> label 1 (2 right); cluster 1 is left unmatched.
    assert analysis.clustering_accuracy([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(4 / 6)


def test_nmi_and_ari_are_one_for_a_relabelled_perfect_clustering():
    scores = analysis.clustering_scores([0, 0, 1, 1, 2, 2], [2, 2, 0, 0, 1, 1])
    assert scores == {"accuracy": 1.0, "nmi": pytest.approx(1.0), "ari": pytest.approx(1.0)}


def test_anomaly_metrics_match_hand_computed_cases():
    perfect = analysis.anomaly_detection_scores([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])
    assert perfect == {"auroc": 1.0, "average_precision": 1.0}
    assert analysis.anomaly_detection_scores([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1])["auroc"] == 0.0
    # Positives at ranks 1 and 3: AP = (1/1 + 2/3) / 2.
    mixed = analysis.anomaly_detection_scores([1, 0, 1, 0], [4, 3, 2, 1])
    assert mixed["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert mixed["auroc"] == pytest.approx(0.75)
    with pytest.raises(UserInputError):
        analysis.anomaly_detection_scores([0, 0, 0], [1, 2, 3])


def test_isolation_forest_scores_higher_for_the_odd_point():
    points = np.random.default_rng(0).normal(size=(300, 4))
    points[17] = 25.0
    scores = analysis.isolation_forest_scores(points, seed=0)
    assert scores.shape == (300,)
    assert scores.argmax() == 17
    threshold = analysis.anomaly_threshold(scores, 0.01)
    assert (scores > threshold).sum() == 3


@pytest.mark.parametrize("k", [0, -3, 2.5, 21])
def test_bad_cluster_counts_are_refused(k):
    with pytest.raises(UserInputError, match="clusters"):
        analysis.fit_kmeans(np.zeros((20, 3)), k)


def test_kmeans_on_a_briefly_trained_latent_beats_chance(seed_model, mnist_with_outliers, mnist_2000):
    latent = seed_model.transform(mnist_2000)
    clusters = analysis.fit_kmeans(latent, 10, seed=0).labels_
    accuracy = analysis.clustering_accuracy(mnist_2000.labels, clusters)
    assert accuracy >= 0.45  # chance is about 0.11


def test_isolation_forest_on_the_latent_finds_injected_fashion_images(seed_model, mnist_with_outliers):
    latent = seed_model.transform(mnist_with_outliers)
    scores = analysis.isolation_forest_scores(latent, seed=0)
    result = analysis.anomaly_detection_scores(mnist_with_outliers.anomaly_flags, scores)
    assert result["auroc"] >= 0.8


def test_map_2d_is_finite_and_reproducible(seed_model, mnist_2000):
    latent = seed_model.transform(mnist_2000.images[:300])
    first = analysis.map_2d(latent, seed=3)
    assert first.shape == (300, 2) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, analysis.map_2d(latent, seed=3))


def test_umap_numba_cache_falls_back_to_compiling_when_nowhere_to_write():
    import numba

    njit = analysis.caching_njit(numba.njit)
    namespace = {}
    exec("def add(a, b):\n    return a + b\n", namespace)  # no source file: numba has no cache folder for it
    with pytest.raises(RuntimeError):
        numba.njit(cache=True)(namespace["add"])
    assert njit(namespace["add"])(1, 2) == 3
    assert njit(fastmath=True)(namespace["add"])(2.0, 3.0) == 5.0
