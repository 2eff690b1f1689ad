"""Clusterers, anomaly scorers and 2-D / manifold embeddings as small estimators, in one registry.

Every estimator has scikit-learn's shape: hyper-parameters in ``__init__``, learning in
``fit(X)``, learned state in attributes with a trailing underscore. Clusterers ``predict(X)``
cluster labels and keep ``labels_`` of the fitted rows. Scorers follow PyOD: ``decision_function(X)``
(higher = more anomalous), ``decision_scores_`` of the fitted rows (each row scored against the
others, never against itself) and ``threshold_`` from ``contamination``. Embeddings ``transform(X)``
new rows by their nearest fitted rows and keep ``embedding_`` of the fitted rows.

``fit`` sees a sample; ``predict`` / ``decision_function`` / ``transform`` then work row by row, so
the result for a row never depends on which other rows share its batch. That is what lets the
pipeline fit on a sample and apply to any number of images, in any batches, on any worker.

``X`` is the column stack of the features an entry names in ``inputs`` (see
:data:`CLUSTERERS` and :data:`SCORERS`): ``latent`` (N, d), ``manifold`` (N, m), ``pixels``
(N, H*W*C), ``pixel_manifold`` (N, m), ``cross_entropy`` (N,) and ``squared_error`` (N,).

scikit-learn and umap-learn are imported inside the methods that use them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core import analysis

# --- embeddings: UMAP fitted on a sample, new rows placed by their nearest fitted rows -----------


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
            sample of ``analysis.MAX_REFERENCE``; ``reference_embedding_`` (R, n_components) their places.
    """

    def __init__(self, n_components=2, n_neighbors=15, min_dist=0.1, n_epochs=analysis.MAP_EPOCHS, seed=0):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.n_epochs = n_epochs
        self.seed = seed

    def fit(self, X, knn=None):
        """Embed (M, d) rows. ``knn``: their (indices, distances) from ``analysis.nearest_neighbors``."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        self.embedding_ = analysis.umap_embedding(X, n_components=self.n_components, n_neighbors=self.n_neighbors,
                                                  min_dist=self.min_dist, n_epochs=self.n_epochs, seed=self.seed,
                                                  knn=knn)
        kept = analysis.reference_sample(len(X), self.seed, analysis.MAX_REFERENCE)
        self.reference_, self.reference_embedding_ = X[kept], self.embedding_[kept]
        return self

    def neighbours(self, X, n_neighbors: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(distances, indices), each (N, k), of the k nearest reference rows of (N, d) rows; k is
        ``n_neighbors`` or this embedding's own (at most the reference's size)."""
        k = max(1, min(n_neighbors or self.n_neighbors, len(self.reference_)))
        return analysis.neighbor_index(self.reference_, k).kneighbors(np.asarray(X, dtype=np.float32))

    def transform(self, X, neighbours: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """(N, n_components) float32 positions of (N, d) new rows; ``neighbours`` may hand in their
        :meth:`neighbours` (at least this embedding's count of them) found once for several embeddings
        with the same reference."""
        distances, indices = neighbours if neighbours is not None else self.neighbours(X)
        k = min(self.n_neighbors, distances.shape[1])
        weights = analysis.fuzzy_weights(distances[:, :k])
        return np.einsum("nk,nkc->nc", weights, self.reference_embedding_[indices[:, :k]]).astype(np.float32)


def map_embedding(seed: int = 0) -> NeighbourEmbedding:
    """The 2-D map of the latent space: UMAP, 15 neighbours, min_dist 0.1."""
    return NeighbourEmbedding(n_components=2, n_neighbors=15, min_dist=0.1, seed=seed)


def manifold_embedding(seed: int = 0, n_components: int = 10) -> NeighbourEmbedding:
    """The clustering manifold (the N2D recipe): UMAP to ``n_components`` dimensions, 20 neighbours,
    min_dist 0, so that clusters come out dense and apart."""
    return NeighbourEmbedding(n_components=n_components, n_neighbors=analysis.MANIFOLD_NEIGHBORS, min_dist=0.0,
                              seed=seed)


# --- clusterers ------------------------------------------------------------------------------------


class KMeansClusterer:
    """KMeans, the best of ``n_init`` seeded starts.

    Attributes after ``fit``: ``labels_`` (M,), ``cluster_centers_`` (k, d)."""

    def __init__(self, n_clusters=10, seed=0, n_init=10):
        self.n_clusters = n_clusters
        self.seed = seed
        self.n_init = n_init

    def fit(self, X):
        from sklearn.cluster import KMeans

        n_clusters = analysis.check_n_clusters(self.n_clusters, len(X))
        self.kmeans_ = KMeans(n_clusters=n_clusters, n_init=self.n_init, random_state=self.seed).fit(X)
        self.labels_ = self.kmeans_.labels_.astype(np.int64)
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        return self

    def predict(self, X) -> np.ndarray:
        return self.kmeans_.predict(np.asarray(X, dtype=self.kmeans_.cluster_centers_.dtype)).astype(np.int64)

    def selection_score(self, X) -> float:
        """Lower is better: KMeans' inertia (the elbow) on X."""
        return float(-self.kmeans_.score(X))


class MixtureClusterer:
    """A full-covariance Gaussian mixture, the best of ``n_init`` seeded starts by likelihood.

    Attributes after ``fit``: ``labels_`` (M,), ``cluster_centers_`` (k, d) (the component means)."""

    def __init__(self, n_clusters=10, seed=0, n_init=analysis.MIXTURE_INITS):
        self.n_clusters = n_clusters
        self.seed = seed
        self.n_init = n_init

    def fit(self, X):
        from sklearn.mixture import GaussianMixture

        n_clusters = analysis.check_n_clusters(self.n_clusters, len(X))
        self.mixture_ = GaussianMixture(n_components=n_clusters, covariance_type="full", n_init=self.n_init,
                                        reg_covar=1e-5, random_state=self.seed)
        self.labels_ = self.mixture_.fit_predict(X).astype(np.int64)
        self.cluster_centers_ = self.mixture_.means_
        return self

    def predict(self, X) -> np.ndarray:
        return self.mixture_.predict(X).astype(np.int64)

    def selection_score(self, X) -> float:
        """Lower is better: the Bayesian information criterion on X."""
        return float(self.mixture_.bic(X))


class SelfTrainedClusterer:
    """A clustering sharpened by self-training: a base clusterer groups the manifold rows, then a
    small CNN learns to tell those groups apart from the images themselves (under random shifts,
    small rotations for grey images and mirror images for photos; with label smoothing) and assigns
    every image. It fixes the base's uncertain borders; it cannot undo two groups merged into one.

    X is ``[manifold (m columns), pixels (H*W*C columns)]``; ``image_shape`` says how the pixels
    form images. Parameters: ``base`` (an unfitted clusterer with ``fit(manifold)`` and
    ``labels_``), ``min_steps`` (training steps at least, in epochs of at least ``epochs``),
    ``seed``, ``max_images`` (a seeded sample of at most this many images trains the CNN). Photos
    (three channels) get a wider CNN (32-64 filters against 16-32) and mirror images.

    Attributes after ``fit``: ``labels_`` (M,), ``base_labels_`` (M,), ``network_`` (the CNN).
    """

    def __init__(self, base, image_shape, n_clusters=10, seed=0, epochs=8, min_steps=800, max_images=60_000):
        self.base = base
        self.image_shape = tuple(image_shape)
        self.n_clusters = n_clusters
        self.seed = seed
        self.epochs = epochs
        self.min_steps = min_steps
        self.max_images = max_images

    def _split(self, X) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float32)
        pixels = int(np.prod(self.image_shape))
        return X[:, :-pixels], X[:, -pixels:].reshape(len(X), *self.image_shape)

    def fit(self, X):
        from core import import_keras

        keras = import_keras()
        manifold, images = self._split(X)
        self.base_labels_ = self.base.fit(manifold).labels_
        keras.utils.set_random_seed(int(self.seed))
        self.network_ = self._network(keras)
        trained = analysis.reference_sample(len(images), self.seed, self.max_images)
        targets = np.eye(self.n_clusters, dtype=np.float32)[self.base_labels_[trained]]
        epochs = max(self.epochs, -(-self.min_steps // -(-len(trained) // BATCH)))
        inputs = images if len(trained) == len(images) else images[trained]  # no copy of them all
        self.network_.fit(inputs, targets, epochs=epochs, batch_size=BATCH, shuffle=True, verbose=0)
        self.labels_ = self._assign(images)
        return self

    def predict(self, X) -> np.ndarray:
        return self._assign(self._split(X)[1])

    def _assign(self, images: np.ndarray) -> np.ndarray:
        from core.model import _predict

        return np.argmax(_predict(self.network_, images), axis=1).astype(np.int64)

    def _network(self, keras):
        from keras import layers

        photos = self.image_shape[-1] == 3
        shift = max(0.125 if photos else 0.1, 1.0 / min(self.image_shape[:2]))  # at least a pixel
        inputs = keras.Input(self.image_shape)
        x = layers.RandomFlip("horizontal")(inputs) if photos else layers.RandomRotation(0.05, fill_mode="constant")(
            inputs)
        x = layers.RandomTranslation(shift, shift, fill_mode="constant")(x)
        for width in (32, 64) if photos else (16, 32):
            x = layers.Conv2D(width, 3, activation="relu", padding="same")(x)
            x = layers.MaxPooling2D(2, padding="same")(x)
        x = layers.Dense(128, activation="relu")(layers.Flatten()(x))
        network = keras.Model(inputs, layers.Dense(self.n_clusters, activation="softmax")(x))
        network.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=8,
                        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.2))
        return network

    def selection_score(self, X) -> float:
        return self.base.selection_score(self._split(X)[0])


BATCH = 128


# --- anomaly scorers -------------------------------------------------------------------------------


class Scorer:
    """What every scorer shares: ``threshold_`` from ``contamination`` after ``fit``."""

    contamination: float

    def _set_threshold(self, scores: np.ndarray):
        self.decision_scores_ = np.asarray(scores, dtype=np.float64)
        self.threshold_ = analysis.anomaly_threshold(self.decision_scores_, self.contamination)
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
        return -self.forest_.score_samples(X)


class KnnDistanceScorer(Scorer):
    """Mean Euclidean distance to the ``n_neighbors`` nearest reference rows: the fitted rows, or a
    seeded sample of ``analysis.MAX_REFERENCE`` of them (a fitted row's own match left out of its
    ``decision_scores_``)."""

    def __init__(self, contamination=0.01, n_neighbors=10, seed=0):
        self.contamination = contamination
        self.n_neighbors = n_neighbors
        self.seed = seed

    def fit(self, X):
        X = np.asarray(X, dtype=np.float32)
        self.reference_, own = _reference_rows(X, self.seed)
        return self._set_threshold(analysis.knn_distance_scores(X, self.reference_, self.n_neighbors, own_rows=own))

    def decision_function(self, X) -> np.ndarray:
        return analysis.knn_distance_scores(np.asarray(X, dtype=np.float32), self.reference_, self.n_neighbors)


def _reference_rows(X: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(reference rows, (M,) bool: which fitted rows are among them): all fitted rows, or a seeded
    sample of ``analysis.MAX_REFERENCE``."""
    kept = analysis.reference_sample(len(X), seed, analysis.MAX_REFERENCE)
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


class LatentAndReconstructionScorer(Scorer):
    """The default anomaly score, from two robust z-scores (each in units of its spread over a seeded
    sample of at most 2,000 fitted images, ``analysis.reference_sample``): the mean cosine distance to
    the ``n_neighbors`` nearest fitted images in the latent space (all of them, or a seeded sample of
    ``analysis.MAX_REFERENCE``), and the reconstruction error.

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
    def neighbours(self) -> int:
        return self.n_neighbors or (50 if self.novelty else 100)

    def fit(self, X):
        X = np.asarray(X, dtype=np.float32)
        latent, cross_entropy, squared_error = analysis.unit_rows(X[:, :-2]), X[:, -2], X[:, -1]
        self.reference_, own = _reference_rows(latent, self.seed)
        self.sample_ = analysis.reference_sample(len(X), seed=self.seed)
        distance = analysis.knn_distance_scores(latent, self.reference_, self.neighbours, own_rows=own)
        self.spread_ = {"distance": distance[self.sample_], "cross_entropy": cross_entropy[self.sample_],
                        "squared_error": squared_error[self.sample_]}
        return self._set_threshold(self._combine(distance, cross_entropy, squared_error))

    def decision_function(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        distance = analysis.knn_distance_scores(analysis.unit_rows(X[:, :-2]), self.reference_, self.neighbours)
        return self._combine(distance, X[:, -2], X[:, -1])

    def _combine(self, distance, cross_entropy, squared_error) -> np.ndarray:
        spread = self.spread_
        distance = analysis.robust_standardize(distance, spread["distance"])
        reconstruction = analysis.robust_standardize(cross_entropy, spread["cross_entropy"])
        if not self.novelty:
            return np.maximum(distance, reconstruction)
        return distance + np.maximum(reconstruction, analysis.robust_standardize(squared_error,
                                                                                 spread["squared_error"]))


# --- the registry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One method in the registry.

    ``make(n_clusters=..., contamination=..., seed=..., novelty=...)`` returns an unfitted estimator
    (each factory takes the keywords it needs); ``short`` is a name for crowded chart axes;
    ``inputs`` names the features stacked into its X; ``base`` names the entry that stands in for
    it where training a network is out of place (re-clustering at another k in the app's server);
    ``uses_autoencoder`` is False for the raw-pixel baselines.
    """

    name: str
    short: str
    inputs: tuple[str, ...]
    make: Callable
    description: str
    uses_autoencoder: bool = True
    base: str | None = None


def _clusterer(kind, quick_starts: int):
    """A factory of ``kind``; ``quick=True`` (scanning many k) makes it with ``quick_starts`` starts."""
    def make(n_clusters=10, seed=0, quick=False, **_):
        return kind(n_clusters=n_clusters, seed=seed, **({"n_init": quick_starts} if quick else {}))

    return make


def _self_trained(n_clusters=10, seed=0, image_shape=None, quick=False, **_):
    base = KMeansClusterer(n_clusters=n_clusters, seed=seed, **({"n_init": 2} if quick else {}))
    if image_shape is None:
        raise ValueError("self-training needs the images' shape")
    return SelfTrainedClusterer(base, image_shape, n_clusters=n_clusters, seed=seed,
                                epochs=10 if image_shape[-1] == 3 else 8)


SELF_TRAINED = "KMeans in manifold, self-trained"

CLUSTERERS = {entry.name: entry for entry in [
    Entry(SELF_TRAINED, "KMeans + CNN", ("manifold", "pixels"), _self_trained,
          "KMeans in the 10-D UMAP manifold of the latent vectors, then a small CNN trained on the images with "
          "those clusters as targets assigns every image", base="KMeans in manifold"),
    Entry("Gaussian mixture in manifold", "mixture, manifold", ("manifold",), _clusterer(MixtureClusterer, 1),
          "a Gaussian mixture (best of 5 starts) in a 10-D UMAP manifold of the latent vectors"),
    Entry("KMeans in manifold", "KMeans, manifold", ("manifold",), _clusterer(KMeansClusterer, 2),
          "KMeans in the same 10-D UMAP manifold of the latent vectors"),
    Entry("KMeans on latent", "KMeans, latent", ("latent",), _clusterer(KMeansClusterer, 2),
          "KMeans on the latent vectors themselves (the 2018 tutorial's way)"),
    Entry("raw-pixel KMeans", "KMeans, pixels", ("pixels",), _clusterer(KMeansClusterer, 2),
          "KMeans on the pixels, no autoencoder: the baseline to beat", uses_autoencoder=False),
    Entry("raw-pixel UMAP + mixture", "mixture, pixel UMAP", ("pixel_manifold",), _clusterer(MixtureClusterer, 1),
          "the same UMAP manifold and mixture, on the pixels instead of the latent", uses_autoencoder=False),
]}

DEFAULT_SCORE = "default score"

SCORERS = {entry.name: entry for entry in [
    Entry(DEFAULT_SCORE, "default", ("latent", "cross_entropy", "squared_error"),
          lambda contamination=0.01, seed=0, novelty=False, **_: LatentAndReconstructionScorer(
              contamination=contamination, seed=seed, novelty=novelty),
          "the distance to the nearest images in the latent space and the reconstruction error, each in units "
          "of its spread over the training images: the larger of the two (or, against separate clean training "
          "images, their sum)"),
    Entry("IsolationForest on latent", "IForest, latent", ("latent",),
          lambda contamination=0.01, seed=0, **_: IsolationForestScorer(contamination=contamination, seed=seed),
          "IsolationForest on the latent vectors (the project's starting question)"),
    Entry("IsolationForest on raw pixels", "IForest, pixels", ("pixels",),
          lambda contamination=0.01, seed=0, **_: IsolationForestScorer(contamination=contamination, seed=seed),
          "IsolationForest on the pixels, no autoencoder", uses_autoencoder=False),
    Entry("reconstruction error (squared)", "squared error", ("squared_error",),
          lambda contamination=0.01, **_: ColumnScorer(contamination=contamination),
          "mean squared pixel error of the autoencoder's reconstruction"),
    Entry("reconstruction error (cross-entropy)", "cross-entropy", ("cross_entropy",),
          lambda contamination=0.01, **_: ColumnScorer(contamination=contamination),
          "mean binary cross-entropy of the reconstruction, the autoencoder's own loss"),
    Entry("kNN distance in latent", "kNN, latent", ("latent",),
          lambda contamination=0.01, seed=0, **_: KnnDistanceScorer(contamination=contamination, seed=seed),
          "mean distance to the 10 nearest images in the latent space"),
]}


SMALL_IMAGE_SIDE = 16
SELF_TRAINING_MIN_IMAGES = 1_000


STAND_IN_REASON = "images too small or too few to train its network on"


def stand_in(entry: Entry, image_shape, n_images: int) -> Entry:
    """The entry that runs for ``entry`` on ``n_images`` (H, W, C) images: its ``base`` when the
    images are under ``SMALL_IMAGE_SIDE`` pixels a side or fewer than ``SELF_TRAINING_MIN_IMAGES``
    (too small, or too few, for a CNN to learn more than the base's clusters already say: the
    built-in 8x8 digits in docs/benchmarks.md; on a hundred photos it only memorises them, for
    minutes), otherwise ``entry`` itself."""
    if min(image_shape[:2]) < SMALL_IMAGE_SIDE or n_images < SELF_TRAINING_MIN_IMAGES:
        return without_training(entry)
    return entry


def without_training(entry: Entry) -> Entry:
    """``entry``'s ``base`` when it trains a network, else ``entry``: what runs where no network is
    trained (the app's server, clustering a stored run at another k)."""
    return CLUSTERERS[entry.base] if entry.base else entry


def stand_ins(image_shape, n_images: int) -> dict[str, str]:
    """{clusterer name: the name of the one that runs for it} on ``n_images`` (H, W, C) images, for
    the clusterers that give way (see :func:`stand_in`); metrics.json's ``model.stand_ins``."""
    return {entry.name: stand_in(entry, image_shape, n_images).name for entry in CLUSTERERS.values()
            if stand_in(entry, image_shape, n_images) is not entry}


def stack_inputs(entry: Entry, features: dict[str, np.ndarray]) -> np.ndarray:
    """The (N, columns) X of ``entry``: its ``inputs`` from ``features``, side by side."""
    columns = [np.asarray(features[name]).reshape(len(features[name]), -1) for name in entry.inputs]
    return columns[0] if len(columns) == 1 else np.hstack(columns)
