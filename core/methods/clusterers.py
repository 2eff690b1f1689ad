"""Clusterers: hyper-parameters in ``__init__``, ``fit(X)`` keeps ``labels_`` of the fitted rows,
``predict(X)`` labels new rows one by one, and ``selection_score(X)`` (lower is better) chooses k.

scikit-learn and Keras are imported inside the methods that use them.
"""

from __future__ import annotations

import numpy as np

from core.methods.checks import check_fitted, check_n_clusters
from core.methods.neighbours import reference_sample

MIXTURE_INITS = 5


class KMeansClusterer:
    """KMeans, the best of ``n_init`` seeded starts.

    Attributes after ``fit``: ``labels_`` (M,), ``cluster_centers_`` (k, d)."""

    def __init__(self, n_clusters=10, seed=0, n_init=10):
        self.n_clusters = n_clusters
        self.seed = seed
        self.n_init = n_init

    def fit(self, X):
        from sklearn.cluster import KMeans

        n_clusters = check_n_clusters(self.n_clusters, len(X))
        self.kmeans_ = KMeans(n_clusters=n_clusters, n_init=self.n_init, random_state=self.seed).fit(X)
        self.labels_ = self.kmeans_.labels_.astype(np.int64)
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        return self

    def predict(self, X) -> np.ndarray:
        check_fitted(self, "kmeans_")
        return self.kmeans_.predict(np.asarray(X, dtype=self.kmeans_.cluster_centers_.dtype)).astype(np.int64)

    def selection_score(self, X) -> float:
        """Lower is better: KMeans' inertia (the elbow) on X."""
        return float(-self.kmeans_.score(X))


class MixtureClusterer:
    """A full-covariance Gaussian mixture, the best of ``n_init`` seeded starts by likelihood.

    Attributes after ``fit``: ``labels_`` (M,), ``cluster_centers_`` (k, d) (the component means)."""

    def __init__(self, n_clusters=10, seed=0, n_init=MIXTURE_INITS):
        self.n_clusters = n_clusters
        self.seed = seed
        self.n_init = n_init

    def fit(self, X):
        from sklearn.mixture import GaussianMixture

        n_clusters = check_n_clusters(self.n_clusters, len(X))
        self.mixture_ = GaussianMixture(n_components=n_clusters, covariance_type="full", n_init=self.n_init,
                                        reg_covar=1e-5, random_state=self.seed)
        self.labels_ = self.mixture_.fit_predict(X).astype(np.int64)
        self.cluster_centers_ = self.mixture_.means_
        return self

    def predict(self, X) -> np.ndarray:
        check_fitted(self, "mixture_")
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
        trained = reference_sample(len(images), self.seed, self.max_images)
        targets = np.eye(self.n_clusters, dtype=np.float32)[self.base_labels_[trained]]
        epochs = max(self.epochs, -(-self.min_steps // -(-len(trained) // BATCH)))
        inputs = images if len(trained) == len(images) else images[trained]  # no copy of them all
        self.network_.fit(inputs, targets, epochs=epochs, batch_size=BATCH, shuffle=True, verbose=0)
        self.labels_ = self._assign(images)
        return self

    def predict(self, X) -> np.ndarray:
        check_fitted(self, "network_")
        return self._assign(self._split(X)[1])

    def _assign(self, images: np.ndarray) -> np.ndarray:
        from core.model.batches import predict_in_batches

        return np.argmax(predict_in_batches(self.network_, images), axis=1).astype(np.int64)

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

