"""The registry of clusterers and anomaly scorers (core/methods/), on real latent vectors: every
entry fits, applies in batches, and gives the same result in one batch as in several; embeddings
keep the fitted rows' places and put new rows near their neighbours."""

import numpy as np
import pytest

from core import evaluation
from core.errors import UserInputError
from core.methods import CLUSTERERS, SCORERS, map_embedding, stack_inputs, stand_in
from core.methods.neighbours import neighbor_index
from core.run.stages import encode


@pytest.fixture(scope="module")
def features(seed_model, mnist_with_outliers):
    """Every input a method can name, for the 2,020 images of ``mnist_with_outliers``: the seed
    model's latent and reconstruction errors, the pixels (every fourth as a representation), and UMAP
    manifolds of latent and pixels."""
    images = mnist_with_outliers.images
    found = encode(seed_model, images)
    found["pixels"] = images.reshape(len(images), -1)
    found["representation"] = found["pixels"][:, ::4]  # the methods that read a representation take any vectors
    manifold = map_embedding(seed=0)
    manifold.n_components, manifold.min_dist = 5, 0.0
    found["manifold"] = manifold.fit(found["latent"]).embedding_
    found["pixel_manifold"] = manifold.fit(found["pixels"]).embedding_
    return found


def rows(features, index):
    return {name: values[index] for name, values in features.items()}


@pytest.mark.parametrize("name", list(CLUSTERERS))
def test_every_clusterer_fits_and_predicts_the_same_in_one_batch_as_in_several(name, features, mnist_2000):
    entry = CLUSTERERS[name]
    fit_rows, new_rows = np.arange(0, 2020, 2), np.arange(1, 2020, 2)
    clusterer = entry.make(n_clusters=10, seed=0, image_shape=(28, 28, 1), representation_size=196)
    clusterer.fit(stack_inputs(entry, rows(features, fit_rows)))
    assert clusterer.labels_.shape == (1010,) and set(clusterer.labels_) <= set(range(10))
    np.testing.assert_array_equal(clusterer.predict(stack_inputs(entry, rows(features, fit_rows))), clusterer.labels_)

    X = stack_inputs(entry, rows(features, new_rows))
    whole = clusterer.predict(X)
    batches = np.concatenate([clusterer.predict(X[start:start + 97]) for start in range(0, len(X), 97)])
    np.testing.assert_array_equal(batches, whole)
    digits = new_rows < 2000  # the last 20 images are Fashion outliers, without digit labels
    accuracy = evaluation.clustering_accuracy(mnist_2000.labels[new_rows[digits]], whole[digits])
    assert accuracy > 0.35, f"{name}: accuracy {accuracy:.3f} (chance: about 0.11)"


@pytest.mark.parametrize("name", list(SCORERS))
def test_every_scorer_fits_scores_and_thresholds_the_same_in_one_batch_as_in_several(name, features,
                                                                                      mnist_with_outliers):
    entry = SCORERS[name]
    scorer = entry.make(contamination=0.05, seed=0).fit(stack_inputs(entry, features))
    assert scorer.decision_scores_.shape == (2020,) and np.isfinite(scorer.decision_scores_).all()
    assert np.mean(scorer.decision_scores_ > scorer.threshold_) == pytest.approx(0.05, abs=0.002)

    X = stack_inputs(entry, features)
    whole = scorer.decision_function(X)
    batches = np.concatenate([scorer.decision_function(X[start:start + 101]) for start in range(0, len(X), 101)])
    np.testing.assert_allclose(batches, whole, rtol=1e-6, atol=1e-9)
    # higher = more anomalous: the 20 Fashion images among 2,000 digits rank high
    auroc = evaluation.anomaly_detection_scores(mnist_with_outliers.anomaly_flags, scorer.decision_scores_)["auroc"]
    assert auroc > 0.6, f"{name}: AUROC {auroc:.3f}"


def test_knn_scores_leave_a_fitted_row_out_of_its_own_neighbours(features):
    entry = SCORERS["kNN distance in latent"]
    scorer = entry.make().fit(stack_inputs(entry, features))
    own = scorer.decision_function(stack_inputs(entry, features))  # new rows: a copy of each is in the set
    assert np.all(scorer.decision_scores_ > own)


def test_the_map_keeps_fitted_rows_in_place_and_puts_new_rows_near_their_neighbours(features):
    latent = features["latent"]
    flat_map = map_embedding(seed=1).fit(latent[:1500])
    assert flat_map.embedding_.shape == (1500, 2) and np.isfinite(flat_map.embedding_).all()
    again = map_embedding(seed=1).fit(latent[:1500])
    np.testing.assert_array_equal(again.embedding_, flat_map.embedding_)

    placed = flat_map.transform(latent[1500:2000])
    assert placed.shape == (500, 2)
    nearest = neighbor_index(latent[:1500], 1).kneighbors(latent[1500:2000])[1][:, 0]
    spread = np.linalg.norm(flat_map.embedding_.std(axis=0))
    assert np.median(np.linalg.norm(placed - flat_map.embedding_[nearest], axis=1)) < 0.25 * spread
    batches = np.concatenate([flat_map.transform(latent[start:min(start + 77, 2000)]) for start in range(1500, 2000, 77)])
    np.testing.assert_allclose(batches, placed, rtol=1e-5, atol=1e-5)


def test_a_cluster_count_above_the_images_is_refused(features):
    entry = CLUSTERERS["KMeans on latent"]
    with pytest.raises(UserInputError, match="cannot make 30 clusters from 20 images"):
        entry.make(n_clusters=30).fit(stack_inputs(entry, rows(features, np.arange(20))))


def test_a_clusterer_that_trains_a_network_gives_way_to_its_base_on_small_or_few_images():
    from core.data import load_image_set
    from core.run import METHODS, RunConfig, run_pipeline

    entry = CLUSTERERS[METHODS["default"].clusterer]
    assert entry.base is not None
    assert stand_in(entry, (28, 28, 1), 5_000) is entry
    assert stand_in(entry, (28, 28, 1), 999).name == stand_in(entry, (8, 8, 1), 5_000).name == entry.base
    assert stand_in(CLUSTERERS["KMeans on latent"], (8, 8, 1), 10).name == "KMeans on latent"

    # The built-in 8x8 digits: the run and its comparison say which clusters stand in, and they are the base's.
    digits = load_image_set("digits")
    result = run_pipeline(RunConfig(data="digits", epochs=1), digits, digits)
    assert result.metrics["model"]["clusterer"] == entry.base
    trainers = [name for name, method in CLUSTERERS.items() if method.base]
    assert result.metrics["model"]["stand_ins"] == {name: CLUSTERERS[name].base for name in trainers}
    for name in trainers:
        np.testing.assert_array_equal(result.comparison[CLUSTERERS[name].column],
                                      result.comparison[CLUSTERERS[CLUSTERERS[name].base].column])


LEARNING = [entry for entry in [*CLUSTERERS.values(), *SCORERS.values()]  # a reconstruction error is its own score
            if entry.inputs not in (("squared_error",), ("cross_entropy",))]


@pytest.mark.parametrize("entry", LEARNING, ids=lambda entry: entry.name)
def test_every_method_says_it_is_not_fitted_in_one_way(entry, features):
    """Like the autoencoder, every estimator that learns raises scikit-learn's NotFittedError before fit."""
    from sklearn.exceptions import NotFittedError

    estimator = entry.make(n_clusters=10, seed=0, image_shape=(28, 28, 1), representation_size=196)
    X = stack_inputs(entry, rows(features, np.arange(5)))
    with pytest.raises(NotFittedError, match="not fitted yet"):
        estimator.predict(X) if entry.kind == "cluster" else estimator.decision_function(X)


def test_a_setting_with_a_typo_is_refused_not_ignored():
    with pytest.raises(TypeError, match="contamnation"):
        SCORERS["kNN distance in latent"].make(contamnation=0.05)
