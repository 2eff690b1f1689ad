"""Analysis of a latent matrix: clusters, anomaly scores, a 2-D map, and evaluation metrics.

Inputs are float arrays of shape (N, d) (a latent matrix, or flattened pixels for the raw-pixel
baselines). Anomaly scores follow PyOD's convention everywhere: higher = more anomalous.

scikit-learn, SciPy and umap-learn are imported inside the functions that use them: the app's
sidebar imports this module for its limits before the first paint, which should not wait for them.
"""

from __future__ import annotations

import inspect
import sys
import threading

import numpy as np

from core.errors import UserInputError

_UMAP_IMPORT_LOCK = threading.Lock()

MAX_CLUSTERS = 100
MAP_EPOCHS = 200


def import_umap():
    """umap-learn, imported with numba's on-disk cache switched on for the functions it compiles.

    umap-learn compiles its layout code with numba on the first call in every process (about 11 s
    on 2 cores) and does not ask numba to keep the result. Importing it while ``numba.njit``
    defaults to ``cache=True`` stores the machine code next to umap's sources (or in numba's
    user cache folder when that is read-only), so later processes load it instead of compiling.
    The same default also sets ``nogil=True`` (the functions touch no Python objects): a seeded
    UMAP runs on one core, and without the GIL two of them (the map and the manifold) run side by
    side on two.
    """
    import numba

    with _UMAP_IMPORT_LOCK:  # every caller waits here until the first one's import has finished
        if "umap" not in sys.modules:
            plain_njit = numba.njit
            numba.njit = caching_njit(plain_njit)
            try:
                import umap  # noqa: F401
            finally:
                numba.njit = plain_njit
    import umap

    return umap


def caching_njit(plain_njit):
    """``numba.njit`` with ``cache=True`` and ``nogil=True`` as defaults. Where numba finds no
    folder it may write its cache to (read-only sources and home), the function compiles without
    the cache, as umap-learn itself would, instead of failing."""

    def njit(*args, **kwargs):
        kwargs = {"cache": True, "nogil": True, **kwargs}
        uncached = {**kwargs, "cache": False}
        if args and inspect.isfunction(args[0]):  # njit(function, ...)
            try:
                return plain_njit(*args, **kwargs)
            except RuntimeError:
                return plain_njit(*args, **uncached)

        def decorate(function):  # @njit(...) with options or a signature
            try:
                return plain_njit(*args, **kwargs)(function)
            except RuntimeError:
                return plain_njit(*args, **uncached)(function)

        return decorate

    return njit


def check_n_clusters(n_clusters, n_images: int) -> int:
    """Raise UserInputError unless 1 <= n_clusters <= min(n_images, MAX_CLUSTERS)."""
    if not float(n_clusters).is_integer() or not 1 <= n_clusters <= MAX_CLUSTERS:
        raise UserInputError(f"the number of clusters must be a whole number from 1 to {MAX_CLUSTERS}, got {n_clusters}")
    if n_clusters > n_images:
        raise UserInputError(f"cannot make {n_clusters} clusters from {n_images} images; choose k <= {n_images}")
    return int(n_clusters)


def fit_kmeans(features: np.ndarray, n_clusters: int, seed: int = 0):
    """KMeans on (N, d) features; the fitted estimator has ``labels_`` (N,) and ``cluster_centers_`` (k, d)."""
    from sklearn.cluster import KMeans

    n_clusters = check_n_clusters(n_clusters, len(features))
    return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit(features)


def isolation_forest_scores(features: np.ndarray, seed: int = 0, n_estimators: int = 200) -> np.ndarray:
    """IsolationForest anomaly scores (N,) on (N, d) features; higher = more anomalous.

    The score is the negated ``score_samples``: the mean path length to isolate a point, mapped to
    (0, 1] (about 0.5 for ordinary points, near 1 for points isolated at once).
    """
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(n_estimators=n_estimators, random_state=seed).fit(features)
    return -forest.score_samples(features)


def anomaly_threshold(scores: np.ndarray, contamination: float) -> float:
    """The score above which the top ``contamination`` share (0 < c < 0.5) of images lie."""
    if not 0 < contamination < 0.5:
        raise UserInputError(f"contamination must be between 0 and 0.5, got {contamination}")
    return float(np.quantile(scores, 1.0 - contamination))


def map_2d(features: np.ndarray, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1,
           knn=None) -> np.ndarray:
    """A 2-D UMAP embedding (N, 2), float32, of (N, d) features, reproducible for a given seed.

    ``knn`` is an optional (indices, distances) pair from :func:`nearest_neighbors` to reuse.
    ``MAP_EPOCHS`` (200) layout epochs: UMAP's own default for large N, where below 10,000 images
    it would run 500 (2.5x the time for a picture that no longer changes visibly)."""
    umap = import_umap()

    n_neighbors = max(2, min(n_neighbors, len(features) - 1))
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed,
                        n_epochs=MAP_EPOCHS, precomputed_knn=_precomputed_knn(knn, n_neighbors))
    return reducer.fit_transform(features).astype(np.float32)


# --- the default method: clusters in a UMAP manifold, a kNN + reconstruction anomaly score ------

MANIFOLD_NEIGHBORS = 20
MIXTURE_INITS = 5
MIN_IMAGES_FOR_MANIFOLD = 50


def nearest_neighbors(features: np.ndarray, n_neighbors: int = MANIFOLD_NEIGHBORS) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row of (N, d) features among the rows, self included
    (column 0). Returns (indices (N, k) int64, distances (N, k) float32), k = min(n_neighbors, N).

    Computed once and shared by the clustering manifold and the 2-D map (UMAP's precomputed_knn),
    which also spares UMAP's approximate search and its numba compilation.
    """
    n_neighbors = min(n_neighbors, len(features))
    distances, indices = _neighbor_search(features, n_neighbors).kneighbors(features)
    return indices.astype(np.int64), distances.astype(np.float32)


def _neighbor_search(reference: np.ndarray, n_neighbors: int):
    """An exact nearest-neighbour index over (M, d) reference rows. Brute force: on latent vectors
    (d of about 10 and more) it is about ten times faster than scikit-learn's trees on 2 cores."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(reference)


def _precomputed_knn(knn, n_neighbors: int):
    if knn is None:
        return (None, None, None)
    indices, distances = knn
    if indices.shape[1] < n_neighbors:
        return (None, None, None)
    return indices[:, :n_neighbors], distances[:, :n_neighbors], None


def cluster_manifold(features: np.ndarray, seed: int = 0, n_components: int = 10,
                     n_neighbors: int = MANIFOLD_NEIGHBORS, knn=None) -> np.ndarray:
    """The N2D manifold (N, m) float32 of (N, d) features to cluster in: UMAP with ``n_components``
    (about the number of clusters), ``n_neighbors`` 20 and ``min_dist`` 0, 200 epochs, seeded.

    ``knn`` is an optional (indices, distances) pair from :func:`nearest_neighbors`. Below
    ``MIN_IMAGES_FOR_MANIFOLD`` images it returns an (N, 0) array: cluster the features instead.
    """
    umap = import_umap()

    if len(features) < MIN_IMAGES_FOR_MANIFOLD:
        return np.zeros((len(features), 0), dtype=np.float32)
    n_neighbors = max(2, min(n_neighbors, len(features) - 1))
    n_components = int(min(n_components, len(features) - 2))
    reducer = umap.UMAP(n_components=n_components, n_neighbors=n_neighbors, min_dist=0.0, n_epochs=200,
                        random_state=seed, precomputed_knn=_precomputed_knn(knn, n_neighbors))
    return reducer.fit_transform(features).astype(np.float32)


def mixture_clusters(manifold: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """Clusters (N,) int from a full-covariance Gaussian mixture of ``n_clusters`` components fitted
    to an (N, m) manifold (the last step of N2D), the best of ``MIXTURE_INITS`` seeded starts.

    One start often settles with two digits in one component and another digit split in two; the
    best of five by likelihood lifted MNIST accuracy from 0.79-0.81 to 0.92-0.93 (two models,
    seeds 0 and 1) for about 2 s more on 10,000 images."""
    from sklearn.mixture import GaussianMixture

    n_clusters = check_n_clusters(n_clusters, len(manifold))
    mixture = GaussianMixture(n_components=n_clusters, covariance_type="full", n_init=MIXTURE_INITS,
                              random_state=seed)
    return mixture.fit_predict(manifold).astype(int)


def cluster_means(features: np.ndarray, clusters: np.ndarray, n_clusters: int) -> np.ndarray:
    """Mean feature vector (k, d) of each cluster 0..k-1 (zeros for a cluster with no members)."""
    centers = np.zeros((n_clusters, features.shape[1]), dtype=np.float32)
    for cluster in range(n_clusters):
        members = clusters == cluster
        if members.any():
            centers[cluster] = features[members].mean(axis=0)
    return centers


def knn_distance_scores(features: np.ndarray, reference: np.ndarray | None = None, n_neighbors: int = 10,
                        same_set: bool = False) -> np.ndarray:
    """Mean distance (N,) from each row of features to its ``n_neighbors`` nearest reference rows;
    higher = more anomalous. ``same_set``: features are the reference, so each row's own match
    is skipped. ``reference`` None means the features themselves."""
    if reference is None:
        reference, same_set = features, True
    n_neighbors = max(1, min(n_neighbors, len(reference) - int(same_set)))
    distances, _ = _neighbor_search(reference, n_neighbors + int(same_set)).kneighbors(features)
    return distances[:, int(same_set):].mean(axis=1)


def robust_standardize(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(scores - median(reference)) / IQR(reference): scores in units of the reference's spread."""
    low, median, high = np.quantile(reference, [0.25, 0.5, 0.75])
    return (scores - median) / max(high - low, 1e-12)


def squared_error(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean squared pixel error per image (N,) of reconstructions against images, both (N, ...)
    in [0, 1]: the results table's ``reconstruction_error``."""
    return np.mean((images - reconstructions).reshape(len(images), -1) ** 2, axis=1)


def cross_entropy_error(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean binary cross-entropy per image (N,) in nats per pixel, of reconstructions against
    images (both (N, ...) in [0, 1]): the autoencoder's own training loss, image by image."""
    images = images.reshape(len(images), -1)
    reconstructions = np.clip(reconstructions.reshape(len(images), -1), 1e-7, 1 - 1e-7)
    return -np.mean(images * np.log(reconstructions) + (1 - images) * np.log1p(-reconstructions), axis=1)


def _unit_rows(features: np.ndarray) -> np.ndarray:
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def reference_sample(n_train: int, seed: int = 0, n_reference: int = 2000) -> np.ndarray:
    """Indices of a seeded sample of at most ``n_reference`` of ``n_train`` training images: the
    images whose spread the default anomaly score is standardized by."""
    return np.random.default_rng(seed).permutation(n_train)[:n_reference]


def combined_anomaly_scores(latent: np.ndarray, cross_entropy: np.ndarray, train_latent: np.ndarray,
                            reference_cross_entropy: np.ndarray, same_set: bool, n_neighbors: int = 50,
                            seed: int = 0, squared_error: np.ndarray | None = None,
                            reference_squared_error: np.ndarray | None = None) -> np.ndarray:
    """The default anomaly score (N,), higher = more anomalous: the sum of two robust z-scores,
    (1) the mean cosine distance in the latent space (Euclidean between unit-length latent vectors)
    to the ``n_neighbors`` nearest training images and (2) the reconstruction cross-entropy
    (:func:`cross_entropy_error`), each standardized by its spread over the training images
    ``reference_sample(len(train_latent), seed)``; ``reference_cross_entropy`` holds those
    images' cross-entropy, in that order. Scoring against the training images makes it work both
    when the model trained on the analysed images (``same_set``) and when it trained on a clean set.

    When the model trained on a separate set (novelty detection) and the mean squared pixel errors
    (``squared_error`` (N,), ``reference_squared_error`` for the same reference images) are
    given, term (2) is the larger of the cross-entropy and squared-error z-scores. Measured: on
    one-class MNIST this lifted digits 2 and 8 from 0.926 / 0.869 to 0.956 / 0.922 AUROC. When the
    model trained on the analysed images themselves it would hurt (inject AP 0.79 -> 0.73): it
    has learned to draw the faint anomalies too, so their squared error is small.
    """
    latent, train_latent = _unit_rows(latent), _unit_rows(train_latent)
    knn_distance = knn_distance_scores(latent, train_latent, n_neighbors, same_set=same_set)
    sample = reference_sample(len(train_latent), seed)
    if same_set:
        reference_distance = knn_distance[sample]
    else:
        reference_distance = knn_distance_scores(train_latent[sample], train_latent, n_neighbors, same_set=True)
    reconstruction = robust_standardize(cross_entropy, reference_cross_entropy)
    if not same_set and squared_error is not None:
        reconstruction = np.maximum(reconstruction, robust_standardize(squared_error, reference_squared_error))
    return robust_standardize(knn_distance, reference_distance) + reconstruction


# --- evaluation (labels are used only here, never to train) -----------------------------------


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


def k_selection_scores(features: np.ndarray, cluster_counts, seed: int = 0, sample_size: int = 2000) -> list[dict]:
    """KMeans inertia (elbow) and silhouette for each k in ``cluster_counts``, on (N, d) features.

    Returns one {"k", "inertia", "silhouette"} dict per k. The silhouette is computed on a seeded
    sample of at most ``sample_size`` images (its cost grows with N squared); inertia on all.
    """
    from sklearn import metrics
    from sklearn.cluster import KMeans

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


def warm_up_numba(seed: int = 0) -> None:
    """Run the UMAP and nearest-neighbour code once on 300 random points.

    Their first call in a process compiles numba code (tens of seconds on 2 cores); calling this
    in the background while a user picks a dataset or trains moves that cost off their first map.
    """
    points = np.random.default_rng(seed).normal(size=(300, 10)).astype(np.float32)
    knn = nearest_neighbors(points)
    map_2d(points, seed=seed, knn=knn)
    cluster_manifold(points, seed=seed, knn=knn)
