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
import warnings

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
            # umap-learn's optional ParametricUMAP imports TensorFlow (seconds) on `import umap`;
            # nothing here uses it, and umap-learn carries on without it
            sys.modules.setdefault("umap.parametric_umap", None)
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


def anomaly_threshold(scores: np.ndarray, contamination: float) -> float:
    """The score above which the top ``contamination`` share (0 < c < 0.5) of images lie."""
    check_contamination(contamination)
    return float(np.quantile(scores, 1.0 - contamination))


def check_contamination(contamination) -> float:
    """Raise UserInputError unless 0 < contamination < 0.5."""
    if not 0 < contamination < 0.5:
        raise UserInputError(f"contamination must be between 0 and 0.5, got {contamination}")
    return float(contamination)


# --- neighbours and UMAP ------------------------------------------------------------------------

MANIFOLD_NEIGHBORS = 20
MIXTURE_INITS = 5
MIN_IMAGES_FOR_UMAP = 50


def neighbor_index(reference: np.ndarray, n_neighbors: int):
    """An exact nearest-neighbour index over (M, d) reference rows (scikit-learn's, fitted).

    Brute force: on latent vectors (d of about 10 and more) it is about ten times faster than
    scikit-learn's trees on 2 cores. Its distances are computed in float64 for float32 rows."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(reference)


def nearest_neighbors(features: np.ndarray, n_neighbors: int = MANIFOLD_NEIGHBORS) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row of (N, d) features among the rows, self included
    (column 0). Returns (indices (N, k) int64, distances (N, k) float32), k = min(n_neighbors, N).

    Computed once and shared by the clustering manifold and the 2-D map (UMAP's precomputed_knn),
    which also spares UMAP's approximate search and its numba compilation.
    """
    n_neighbors = min(n_neighbors, len(features))
    distances, indices = neighbor_index(features, n_neighbors).kneighbors(features)
    return indices.astype(np.int64), distances.astype(np.float32)


def umap_embedding(features: np.ndarray, n_components: int, n_neighbors: int, min_dist: float,
                   n_epochs: int = 200, seed: int = 0, knn=None) -> np.ndarray:
    """A seeded UMAP embedding (N, n_components) float32 of (N, d) features.

    ``knn`` is an optional (indices, distances) pair from :func:`nearest_neighbors` to reuse.
    Below ``MIN_IMAGES_FOR_UMAP`` rows a neighbour graph says little: the rows' principal
    components are returned instead (zero-padded to ``n_components``).
    """
    features = np.asarray(features, dtype=np.float32)
    if len(features) < MIN_IMAGES_FOR_UMAP:
        centred = features - features.mean(axis=0)
        _, _, axes = np.linalg.svd(centred, full_matrices=False)
        projected = centred @ axes[:n_components].T
        padded = np.zeros((len(features), n_components), dtype=np.float32)
        padded[:, :projected.shape[1]] = projected
        return padded
    umap = import_umap()

    n_neighbors = max(2, min(n_neighbors, len(features) - 1))
    reducer = umap.UMAP(n_components=n_components, n_neighbors=n_neighbors, min_dist=min_dist, n_epochs=n_epochs,
                        random_state=seed, precomputed_knn=_precomputed_knn(knn, n_neighbors))
    with warnings.catch_warnings():  # "n_jobs overridden by random_state", "graph not fully connected": expected
        warnings.simplefilter("ignore", UserWarning)
        return reducer.fit_transform(features).astype(np.float32)


def _precomputed_knn(knn, n_neighbors: int):
    if knn is None:
        return (None, None, None)
    indices, distances = knn
    if indices.shape[1] < n_neighbors:
        return (None, None, None)
    return indices[:, :n_neighbors], distances[:, :n_neighbors], None


def fuzzy_weights(distances: np.ndarray) -> np.ndarray:
    """(N, k) weights summing to 1 per row from (N, k) ascending neighbour distances: UMAP's fuzzy
    membership exp(-(d - d_nearest) / sigma), with sigma chosen per row as UMAP chooses it."""
    umap = import_umap()

    distances = np.asarray(distances, dtype=np.float32)
    sigmas, rhos = umap.umap_.smooth_knn_dist(distances, float(distances.shape[1]), local_connectivity=1.0)
    weights = np.exp(-np.maximum(distances - rhos[:, None], 0.0) / np.maximum(sigmas[:, None], 1e-12))
    return weights / weights.sum(axis=1, keepdims=True)


# --- anomaly score parts --------------------------------------------------------------------------


def knn_distance_scores(features: np.ndarray, reference: np.ndarray, n_neighbors: int = 10,
                        same_set: bool = False, own_rows: np.ndarray | None = None) -> np.ndarray:
    """Mean distance (N,) from each row of features to its ``n_neighbors`` nearest reference rows;
    higher = more anomalous. A row's own match is left out: every row's when ``same_set`` (features
    are the reference rows themselves), or the rows flagged in the (N,) bool ``own_rows`` (rows that
    are among the reference rows, each its own nearest)."""
    if same_set:
        own_rows = np.ones(len(features), dtype=bool)
    skip = own_rows is not None and bool(np.any(own_rows))
    n_neighbors = max(1, min(n_neighbors, len(reference) - int(skip)))
    distances, _ = neighbor_index(reference, n_neighbors + int(skip)).kneighbors(features)
    if not skip:
        return distances.mean(axis=1)
    return np.where(own_rows, distances[:, 1:].mean(axis=1), distances[:, :n_neighbors].mean(axis=1))


def robust_standardize(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(scores - median(reference)) / IQR(reference): scores in units of the reference's spread."""
    low, median, high = np.quantile(reference, [0.25, 0.5, 0.75])
    return (scores - median) / max(high - low, 1e-12)


def squared_error(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean squared pixel error per image (N,) of reconstructions against images, both (N, ...)
    in [0, 1]: the results table's ``reconstruction_error``."""
    return _per_image(lambda x, y: np.mean((x - y) ** 2, axis=1), images, reconstructions)


def cross_entropy_error(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean binary cross-entropy per image (N,) in nats per pixel, of reconstructions against
    images (both (N, ...) in [0, 1]): the autoencoder's own training loss, image by image."""
    def error(x, y):
        y = np.clip(y, 1e-7, 1 - 1e-7)
        return -np.mean(x * np.log(y) + (1 - x) * np.log1p(-y), axis=1)

    return _per_image(error, images, reconstructions)


ERROR_CHUNK = 4096  # images per step of the error functions: their temporaries stay a few MB


def _per_image(error, images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """``error(x, y)`` of (n, pixels) rows, ``ERROR_CHUNK`` images at a time: (N,). Each image's
    value depends on its own row alone, so the chunks change nothing but the peak memory."""
    images, reconstructions = images.reshape(len(images), -1), reconstructions.reshape(len(images), -1)
    values = [error(images[start:start + ERROR_CHUNK], reconstructions[start:start + ERROR_CHUNK])
              for start in range(0, len(images), ERROR_CHUNK)]
    return np.concatenate(values) if values else np.zeros(0, dtype=np.float32)


def unit_rows(features: np.ndarray) -> np.ndarray:
    """(N, d) rows scaled to unit length (Euclidean distances between them are cosine distances)."""
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def reference_sample(n_train: int, seed: int = 0, n_reference: int = 2000) -> np.ndarray:
    """Indices of a seeded sample of at most ``n_reference`` of ``n_train`` fitted images (all of them,
    in order, when there are no more): e.g. the images whose spread the default anomaly score is
    standardized by, or the neighbours new images are measured against (``MAX_REFERENCE``)."""
    if n_train <= n_reference:
        return np.arange(n_train)
    return np.random.default_rng(seed).permutation(n_train)[:n_reference]


# Neighbour searches of new images run against at most this many fitted images: their cost grows with
# it (a million new images against 60,000 would take several times longer than against 20,000).
MAX_REFERENCE = 20_000


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


def k_selection_scores(features: np.ndarray, make_clusterer, cluster_counts, seed: int = 0,
                       sample_size: int = 2000) -> list[dict]:
    """For each k in ``cluster_counts``: the clusterer's own selection criterion and the silhouette.

    ``make_clusterer(k)`` returns an unfitted clusterer with ``selection_score(X)`` (lower is better:
    KMeans' inertia, a mixture's BIC). Returns one {"k", "criterion", "silhouette"} dict per k.
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


def warm_up_numba(seed: int = 0) -> None:
    """Run the UMAP and nearest-neighbour code once on 300 random points.

    Their first call in a process compiles numba code (tens of seconds on 2 cores); calling this
    in the background while a user picks a dataset or trains moves that cost off their first map.
    """
    points = np.random.default_rng(seed).normal(size=(300, 10)).astype(np.float32)
    knn = nearest_neighbors(points)
    umap_embedding(points, 2, 15, 0.1, seed=seed, knn=knn)
    umap_embedding(points, 10, MANIFOLD_NEIGHBORS, 0.0, seed=seed, knn=knn)
    fuzzy_weights(knn[1])
