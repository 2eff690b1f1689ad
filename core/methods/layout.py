"""UMAP layouts: umap-learn imported with numba's cache on, seeded embeddings, fuzzy neighbour weights.

scikit-learn and umap-learn are imported inside the functions that use them: the app's sidebar
must not wait for them before its first paint.
"""

from __future__ import annotations

import inspect
import sys
import threading
import warnings

import numpy as np

from core.methods.neighbours import MANIFOLD_NEIGHBORS, nearest_neighbors

_UMAP_IMPORT_LOCK = threading.Lock()


MAP_EPOCHS = 200

MIN_IMAGES_FOR_UMAP = 50



def import_umap():
    """umap-learn, imported with numba's on-disk cache switched on for the functions it compiles.

    umap-learn compiles its layout code with numba on the first call in every process (seconds
    to tens of seconds) and does not ask numba to keep the result. Importing it while ``numba.njit``
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


def warm_up_numba(seed: int = 0) -> None:
    """Run the UMAP and nearest-neighbour code once on 300 random points.

    Their first call in a process compiles numba code (tens of seconds without numba's cache); calling this
    in the background while a user picks a dataset or trains moves that cost off their first map.
    """
    points = np.random.default_rng(seed).normal(size=(300, 10)).astype(np.float32)
    knn = nearest_neighbors(points)
    umap_embedding(points, 2, 15, 0.1, seed=seed, knn=knn)
    umap_embedding(points, 10, MANIFOLD_NEIGHBORS, 0.0, seed=seed, knn=knn)
    fuzzy_weights(knn[1])

