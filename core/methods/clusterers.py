"""Clusterers: hyper-parameters in ``__init__``, ``fit(X)`` keeps ``labels_`` of the fitted rows,
``predict(X)`` labels new rows one by one, and ``selection_score(X)`` (lower is better) chooses k.

scikit-learn and Keras are imported inside the methods that use them.
"""

from __future__ import annotations

import numpy as np

from core.methods.checks import check_fitted, check_n_clusters
from core.methods.neighbours import MANIFOLD_DIMENSIONS, nearest_neighbors, reference_sample

MIXTURE_INITS = 5


class KMeansClusterer:
    """KMeans, the best of ``n_init`` seeded starts.

    Attributes after ``fit``: ``labels_`` (M,), ``cluster_centers_`` (k, d)."""

    criterion = "inertia"  # what selection_score measures

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

    criterion = "BIC"

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

    X is ``[the base's X, pixels (H*W*C columns)]``; ``image_shape`` says how the pixels form
    images. Parameters: ``base`` (an unfitted clusterer with ``fit(X)`` and ``labels_``),
    ``min_steps`` (training steps at least, in epochs of at least ``epochs``), ``seed``,
    ``max_images`` (a seeded sample of at most this many images trains the CNN), and
    ``min_agreement``: when set, the base's X starts with the latent vectors
    (``[latent, manifold]``, as the consensus clusterer's) and the CNN learns only from the images
    whose base cluster at least this share of their 10 nearest latent neighbours share (the
    confident ones: a border image's doubtful label is not taught, the CNN decides it). Photos
    (three channels) get a wider CNN (32-64 filters against 16-32) and mirror images.

    Attributes after ``fit``: ``labels_`` (M,), ``base_labels_`` (M,), ``network_`` (the CNN).
    """

    def __init__(self, base, image_shape, n_clusters=10, seed=0, epochs=8, min_steps=800, max_images=60_000,
                 min_agreement=None):
        self.base = base
        self.image_shape = tuple(image_shape)
        self.n_clusters = n_clusters
        self.seed = seed
        self.epochs = epochs
        self.min_steps = min_steps
        self.max_images = max_images
        self.min_agreement = min_agreement

    def _split(self, X) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float32)
        pixels = int(np.prod(self.image_shape))
        return X[:, :-pixels], X[:, -pixels:].reshape(len(X), *self.image_shape)

    def fit(self, X):
        from core import import_keras

        keras = import_keras()
        rest, images = self._split(X)
        self.base_labels_ = self.base.fit(rest).labels_
        keras.utils.set_random_seed(int(self.seed))
        self.network_ = self._network(keras)
        trained = reference_sample(len(images), self.seed, self.max_images)
        if self.min_agreement is not None:
            agreeing = neighbour_agreement(self.base_labels_, rest[:, :-MANIFOLD_DIMENSIONS]) >= self.min_agreement
            trained = np.sort(trained[agreeing[trained]])
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
        return image_classifier(keras, self.image_shape, self.n_clusters)

    @property
    def criterion(self) -> str:
        return self.base.criterion

    def selection_score(self, X) -> float:
        return self.base.selection_score(self._split(X)[0])


class SelfLabelledClusterer:
    """A clustering sharpened by a linear classifier on a representation: a base clusterer groups
    the rows, a logistic regression learns those groups from the images' representation (photos'
    content features, a user's vectors), taught only by each group's more typical half (the rows
    nearest its centre in the base's space), and assigns every image. The cheap counterpart, for
    representations, of :class:`SelfTrainedClusterer`'s CNN on pixels.

    X is ``[the base's X, representation (n_features columns)]``. Parameters: ``base``,
    ``n_features``, ``n_clusters``, ``seed``, ``typical`` (the share of each group that teaches),
    ``regularization`` (logistic regression's C).

    Attributes after ``fit``: ``labels_`` (M,), ``base_labels_`` (M,), ``classifier_``, ``mean_``
    and ``scale_`` (the representation's standardisation).
    """

    def __init__(self, base, n_features: int, n_clusters=10, seed=0, typical=0.5, regularization=0.1):
        self.base = base
        self.n_features = n_features
        self.n_clusters = n_clusters
        self.seed = seed
        self.typical = typical
        self.regularization = regularization

    def _split(self, X) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float32)
        return X[:, :-self.n_features], X[:, -self.n_features:]

    def fit(self, X):
        from sklearn.linear_model import LogisticRegression

        rest, features = self._split(X)
        self.base_labels_ = self.base.fit(rest).labels_
        space = rest[:, -MANIFOLD_DIMENSIONS:]  # the manifold: where the base's groups are compact
        teaching = np.zeros(len(X), dtype=bool)
        for group in np.unique(self.base_labels_):
            members = np.flatnonzero(self.base_labels_ == group)
            distance = np.linalg.norm(space[members] - space[members].mean(axis=0), axis=1)
            teaching[members[distance <= np.quantile(distance, self.typical)]] = True
        self.mean_, self.scale_ = features.mean(axis=0), features.std(axis=0) + np.float32(1e-6)
        self.classifier_ = LogisticRegression(C=self.regularization, max_iter=500, random_state=self.seed)
        self.classifier_.fit((features[teaching] - self.mean_) / self.scale_, self.base_labels_[teaching])
        self.labels_ = self.predict(X)
        return self

    def predict(self, X) -> np.ndarray:
        check_fitted(self, "classifier_")
        features = self._split(X)[1]
        return self.classifier_.predict((features - self.mean_) / self.scale_).astype(np.int64)

    @property
    def criterion(self) -> str:
        return self.base.criterion

    def selection_score(self, X) -> float:
        return self.base.selection_score(self._split(X)[0])


BATCH = 128


def image_classifier(keras, image_shape, n_classes: int):
    """The self-trained clusterer's small CNN, compiled: (H, W, C) images -> ``n_classes``
    probabilities, under random shifts, small rotations for grey images and mirror images for photos
    (three channels, which get 32-64 filters against 16-32), trained with label smoothing 0.2. The
    self-trained labeller (``core.methods.labellers``) trains the same network on a person's labels."""
    from keras import layers

    photos = image_shape[-1] == 3
    shift = max(0.125 if photos else 0.1, 1.0 / min(image_shape[:2]))  # at least a pixel
    inputs = keras.Input(image_shape)
    x = layers.RandomFlip("horizontal")(inputs) if photos else layers.RandomRotation(0.05, fill_mode="constant")(
        inputs)
    x = layers.RandomTranslation(shift, shift, fill_mode="constant")(x)
    for width in (32, 64) if photos else (16, 32):
        x = layers.Conv2D(width, 3, activation="relu", padding="same")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Dense(128, activation="relu")(layers.Flatten()(x))
    network = keras.Model(inputs, layers.Dense(n_classes, activation="softmax")(x))
    network.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=8,
                    loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.2))
    return network


def neighbour_agreement(labels: np.ndarray, latent: np.ndarray, n_neighbors: int = 10) -> np.ndarray:
    """(N,) share of each row's ``n_neighbors`` nearest rows in the (N, d) latent (itself left out)
    whose label in (N,) ``labels`` is its own: 1 deep inside a cluster, low on a border."""
    indices, _ = nearest_neighbors(np.ascontiguousarray(latent, dtype=np.float32), n_neighbors + 1)
    return (labels[indices[:, 1:]] == labels[:, None]).mean(axis=1)

