"""Analysis helpers: metrics, agreement between methods and neighbour weights against hand-computed cases."""

import numpy as np
import pytest

from core import evaluation
from core.errors import UserInputError
from core.methods import checks, layout


def test_clustering_accuracy_matches_hand_computed_cases():
    assert evaluation.clustering_accuracy([0, 0, 1, 1], [1, 1, 0, 0]) == 1.0
    assert evaluation.clustering_accuracy([0, 0, 1, 1], [0, 0, 0, 0]) == 0.5
    # clusters 0 -> label 0 (2 right), 2 -> label 1 (2 right); cluster 1 is left unmatched.
    assert evaluation.clustering_accuracy([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(4 / 6)


def test_nmi_and_ari_are_one_for_a_relabelled_perfect_clustering():
    scores = evaluation.clustering_scores([0, 0, 1, 1, 2, 2], [2, 2, 0, 0, 1, 1])
    assert scores == {"accuracy": 1.0, "nmi": pytest.approx(1.0), "ari": pytest.approx(1.0)}


def test_anomaly_metrics_match_hand_computed_cases():
    perfect = evaluation.anomaly_detection_scores([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])
    assert perfect == {"auroc": 1.0, "average_precision": 1.0}
    assert evaluation.anomaly_detection_scores([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1])["auroc"] == 0.0
    # Positives at ranks 1 and 3: AP = (1/1 + 2/3) / 2.
    mixed = evaluation.anomaly_detection_scores([1, 0, 1, 0], [4, 3, 2, 1])
    assert mixed["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert mixed["auroc"] == pytest.approx(0.75)
    with pytest.raises(UserInputError):
        evaluation.anomaly_detection_scores([0, 0, 0], [1, 2, 3])


@pytest.mark.parametrize("k", [0, -3, 2.5, 21])
def test_bad_cluster_counts_are_refused(k):
    with pytest.raises(UserInputError, match="clusters"):
        checks.check_n_clusters(k, 20)


def test_agreement_overlap_and_rank_correlation_match_hand_computed_cases():
    assert evaluation.agreement([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(1.0)
    first, second = np.array([5.0, 4, 3, 2, 1]), np.array([4.0, 5, 1, 2, 3])
    assert evaluation.top_overlap(first, second, 2) == 1.0  # both top-2 lists are images 0 and 1
    assert evaluation.top_overlap(first, second, 3) == pytest.approx(2 / 3)
    assert evaluation.rank_correlation(first, first[::-1]) == pytest.approx(-1.0)
    points = np.r_[np.zeros((20, 2)), np.full((20, 2), 10.0)] + np.random.default_rng(0).normal(size=(40, 2)) * 0.1
    assert evaluation.silhouette(points, np.r_[np.zeros(20), np.ones(20)]) > 0.9


def test_fuzzy_weights_favour_the_nearest_and_sum_to_one():
    weights = layout.fuzzy_weights(np.array([[0.0, 1.0, 2.0, 4.0], [1.0, 1.0, 1.0, 1.0]], dtype=np.float32))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(np.diff(weights[0]) <= 0) and weights[0][3] < weights[0][2] < weights[0][1]  # nearer weigh more
    np.testing.assert_allclose(weights[1], 0.25, rtol=1e-6)  # equal distances, equal weights


def test_umap_numba_cache_falls_back_to_compiling_when_nowhere_to_write():
    import numba

    njit = layout.caching_njit(numba.njit)
    namespace = {}
    exec("def add(a, b):\n    return a + b\n", namespace)  # no source file: numba has no cache folder for it
    with pytest.raises(RuntimeError):
        numba.njit(cache=True)(namespace["add"])
    assert njit(namespace["add"])(1, 2) == 3
    assert njit(fastmath=True)(namespace["add"])(2.0, 3.0) == 5.0
