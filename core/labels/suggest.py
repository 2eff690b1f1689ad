"""Which images a person should label next, most useful first, never one already taught.

- **Before any prediction** (fewer than two labels taught): one typical image per cluster (the one
  nearest its cluster's mean in the latent space), largest cluster first, then images spread over the
  clustering manifold (each the untaught image farthest from every image taught or suggested so far).
- **After a round**: the images whose predicted label is least certain (the smallest margin between
  their two most probable labels), spread: the ``CANDIDATES`` times ``n`` least certain images are
  grouped into ``n`` regions of the manifold (KMeans) and each region gives its most typical
  uncertain image (the one nearest the region's centre), least certain region first, so that
  one crowded border cannot take every slot.
"""

from __future__ import annotations

import numpy as np

from core.evaluation import distance_to_cluster_mean

CANDIDATES = 5  # the least certain n * CANDIDATES images are spread over n regions


def first_suggestions(latent: np.ndarray, manifold: np.ndarray, clusters: np.ndarray, taught: np.ndarray,
                      n: int) -> np.ndarray:
    """(at most n,) image positions to label first: a typical image of each cluster that has no taught
    image yet (largest first), then images spread over the (N, m) manifold. ``latent`` (N, d),
    ``clusters`` (N,) int, ``taught`` (N,) bool."""
    clusters = np.asarray(clusters)
    distance = distance_to_cluster_mean(latent, clusters)
    chosen: list[int] = []
    sizes = np.bincount(clusters)
    for cluster in np.argsort(-sizes, kind="stable"):
        members = np.flatnonzero((clusters == cluster) & ~taught)
        if len(chosen) < n and len(members) and not taught[clusters == cluster].any():
            chosen.append(int(members[np.argmin(distance[members])]))
    return np.asarray(chosen + list(farthest_points(manifold, taught, chosen, n - len(chosen))), dtype=np.int64)


def farthest_points(features: np.ndarray, taught: np.ndarray, chosen, n: int) -> np.ndarray:
    """(at most n,) untaught rows of (N, m) ``features``, each the one farthest from every row taught,
    chosen before or picked already (greedy farthest-point sampling; the first from the features'
    mean when there is none yet)."""
    features = np.asarray(features, dtype=np.float32)
    taken = np.asarray(taught, dtype=bool).copy()
    taken[np.asarray(chosen, dtype=np.int64)] = True
    picked = []
    if not taken.any() and n > 0:  # nothing to be far from yet: the most central row first
        picked.append(int(np.argmin(_squared_distances(features, features.mean(axis=0, keepdims=True))[:, 0])))
        taken[picked[0]] = True
    seeds = np.flatnonzero(taken)
    nearest = np.full(len(features), np.inf)
    for start in range(0, len(seeds), 1024):
        nearest = np.minimum(nearest, _squared_distances(features, features[seeds[start:start + 1024]]).min(axis=1))
    for _ in range(min(n - len(picked), int((~taken).sum()))):
        nearest[taken] = -np.inf
        best = int(np.argmax(nearest))
        picked.append(best)
        taken[best] = True
        nearest = np.minimum(nearest, _squared_distances(features, features[best:best + 1])[:, 0])
    return np.asarray(picked, dtype=np.int64)


def _squared_distances(features: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(N, M) squared Euclidean distances between the rows of (N, m) features and (M, m) others."""
    squared = (features ** 2).sum(axis=1)[:, None] - 2 * features @ others.T + (others ** 2).sum(axis=1)[None]
    return np.maximum(squared, 0)


def uncertain_suggestions(probabilities: np.ndarray, manifold: np.ndarray, taught: np.ndarray, n: int,
                          seed: int = 0) -> np.ndarray:
    """(at most n,) untaught image positions whose (N, classes) predicted ``probabilities`` are least
    certain, spread over the (N, m) ``manifold`` (see the module docstring)."""
    from sklearn.cluster import KMeans

    top_two = np.sort(probabilities, axis=1)[:, -2:]
    margin = top_two[:, 1] - top_two[:, 0]
    untaught = np.flatnonzero(~np.asarray(taught, dtype=bool))
    n = min(n, len(untaught))
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    candidates = untaught[np.argsort(margin[untaught], kind="stable")[:n * CANDIDATES]]
    if len(candidates) <= n:
        return candidates
    space = np.asarray(manifold, dtype=np.float32)[candidates]
    regions = KMeans(n_clusters=n, n_init=1, random_state=seed).fit(space)
    picked, certainty = [], []
    for region in range(n):
        members = np.flatnonzero(regions.labels_ == region)
        if len(members):
            closest = members[np.argmin(((space[members] - regions.cluster_centers_[region]) ** 2).sum(axis=1))]
            picked.append(candidates[closest])
            certainty.append(margin[candidates[members]].mean())
    return np.asarray(picked, dtype=np.int64)[np.argsort(certainty, kind="stable")]
