"""Every exact and near copy in a collection, in groups, found without a pass over all pairs.

Each image is described once, where the run has it in hand (the apply stage's chunks, or the fit):
its pixel digest (``core.similar.digests``, taken when it was decoded), its appearance (16 principal
components of its 8-pixel thumbnail) and that thumbnail, in int8. That is 272 bytes per image, all
that is kept of a million images. Then:

1. **exact copies**: images with equal digests;
2. **candidates**: each image with its ``NEIGHBOURS`` nearest images by appearance (exact within
   k-means cells of about a thousand images: ``core.similar.neighbours``), kept when their whole
   8-pixel thumbnails lie within ``WHOLE_CUT``
   (a copy cropped by two pixels still does; most other pairs do not);
3. **near copies**: the candidates whose near-copy distance (``core.similar.alignment``), read from
   their images, is at most ``MAX_THUMB_DISTANCE`` (first at 8 pixels with every crop box, at most
   ``CROP_CUT``, then at 16 pixels with the best boxes), and that stand out from both images'
   ordinary neighbours: at most ``STAND_OUT`` times the distance to the farther of each image's
   ``NEIGHBOURS`` nearest (its ``spread``). On photos that rarely matters; on small grey images
   such as handwritten digits, where hundreds of different 1s lie within 0.35 of each other, it
   is what keeps them apart, while a copy still lies far nearer its source than anything else;
4. **groups**: the connected components of the exact and near pairs, numbered largest first.

Images under ``MIN_NEAR_SIDE`` pixels a side (scikit-learn's 8 x 8 digits) get exact copies only:
at that size a JPEG re-save or a crop of a pixel changes an image as much as the difference
between two people's handwriting does.

``MAX_THUMB_DISTANCE`` is the setting that decides what a near copy is: a distance between two
images, so it means the same whatever the collection's size. Its default, 0.35, was chosen on
bench/duplicates.py (docs/benchmarks.md): JPEG at quality 20, brightness and contrast changes of
15 %, crops of two pixels and all of them together stay under it; two photos of the same kind of
thing (two cats, two ships) lie far above it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.similar.alignment import best_crops, checked_distances
from core.similar.digests import digest_rows
from core.similar.neighbours import nearest_neighbours
from core.similar.thumbnails import SEARCH_SIDE, Appearance, QuantisedThumbnails, quantised, thumbnails

MAX_THUMB_DISTANCE = 0.35


NEIGHBOURS = 10


WHOLE_CUT = 0.60


CROP_CUT = 0.40


STAND_OUT = 0.45


MIN_NEAR_SIDE = 16  # smaller images get exact copies only


DESCRIBED = ("digest", "appearance", "thumbnail")  # the per-image columns :func:`describe` gives


EXACT, NEAR = "exact", "near"


CSV_COLUMNS = ["group", "index", "id", "kind", "keep"]


def describe(appearance: Appearance, images: np.ndarray, digests: np.ndarray | None = None) -> dict:
    """What grouping needs of (n, H, W, C) images: ``digest`` uint8 (n, 16) (``digests`` as taken
    when they were decoded; else of these pixels), ``appearance`` float32 (n, 16) and ``thumbnail``
    int8 (n, 192)."""
    thumbs = thumbnails(images, SEARCH_SIDE)
    return {"digest": digest_rows(images) if digests is None else np.asarray(digests, np.uint8),
            "appearance": appearance.project(thumbs), "thumbnail": quantised(thumbs)}


@dataclass
class Duplicates:
    """The copies in a collection of N images, and what a search for a new image needs.

    Attributes:
        group: int64 (N,): the image's group, 0 for the largest, -1 without a copy.
        exact: bool (N,): the image has an exact copy (same pixels) in its group.
        distance: float32 (N,): the smallest near-copy distance to another image of its group (0 for
            an exact copy; NaN without a copy).
        pairs: int64 (P, 2) and pair_distance: float32 (P,): the pairs that made the groups.
        spread: float32 (N,): the image's distance (whole 8-pixel thumbnails) to the farther of
            its ``NEIGHBOURS`` nearest by appearance; a near copy lies within ``STAND_OUT`` of it.
        digest: uint8 (N, 16); appearance: float32 (N, 16); appearance_mean: float32 (192,) and
            appearance_components: float32 (192, 16): the fitted :class:`Appearance`.
    """

    group: np.ndarray
    exact: np.ndarray
    distance: np.ndarray
    pairs: np.ndarray
    pair_distance: np.ndarray
    spread: np.ndarray
    digest: np.ndarray
    appearance: np.ndarray
    appearance_mean: np.ndarray
    appearance_components: np.ndarray

    def __len__(self) -> int:
        return len(self.group)

    def kinds(self) -> np.ndarray:
        """(N,) str: ``exact``, ``near``, or ``""`` for an image without a copy."""
        return np.where(self.group < 0, "", np.where(self.exact, EXACT, NEAR))

    def summary(self) -> dict:
        """metrics.json's ``duplicates``: ``groups``, ``images`` in them, ``exact_groups`` (groups
        whose images all have the same pixels)."""
        grouped = self.group >= 0
        n_groups = int(self.group.max()) + 1 if grouped.any() else 0
        mixed = np.zeros(n_groups, dtype=bool)
        if grouped.any():
            _, first = np.unique(self.group[grouped], return_index=True)
            reference = self.digest[grouped][first]  # each group's first image's digest
            differs = np.any(self.digest[grouped] != reference[self.group[grouped]], axis=1)
            np.logical_or.at(mixed, self.group[grouped], differs)
        return {"groups": n_groups, "images": int(grouped.sum()), "exact_groups": int(np.sum(~mixed))}

    def members(self) -> list[np.ndarray]:
        """Each group's image positions, in index order, largest group first."""
        grouped = np.flatnonzero(self.group >= 0)
        order = grouped[np.argsort(self.group[grouped], kind="stable")]
        cuts = np.flatnonzero(np.diff(self.group[order])) + 1
        return np.split(order, cuts) if len(order) else []

    def table(self, ids, keep: dict[int, int] | None = None) -> pd.DataFrame:
        """duplicates.csv: ``CSV_COLUMNS``, one row per image in a group, by group then index;
        ``keep`` True for the one image of each group to keep (``keep[group]``, else its first)."""
        groups = self.members()
        rows = np.concatenate(groups) if groups else np.zeros(0, np.int64)
        groups = self.group[rows]
        chosen = np.array([(keep or {}).get(int(g), -1) for g in range(int(self.group.max()) + 1)] or [-1])
        first = np.r_[True, groups[1:] != groups[:-1]] if len(rows) else np.zeros(0, bool)
        kept = np.where(chosen[groups] >= 0, rows == chosen[groups], first) if len(rows) else first
        return pd.DataFrame({"group": groups, "index": rows, "id": np.asarray(ids)[rows].astype(str),
                             "kind": self.kinds()[rows], "keep": kept}, columns=CSV_COLUMNS)

    def appearance_model(self) -> Appearance:
        """The fitted :class:`Appearance` the run described its images with."""
        model = Appearance(n_components=self.appearance.shape[1])
        model.mean_, model.components_ = self.appearance_mean, self.appearance_components
        return model

    def to_arrays(self) -> dict[str, np.ndarray]:
        return dataclasses.asdict(self)

    @classmethod
    def from_arrays(cls, arrays) -> Duplicates:
        return cls(**{field.name: np.asarray(arrays[field.name]) for field in dataclasses.fields(cls)})


def find_duplicates(described: dict, appearance: Appearance, read, image_shape: tuple[int, int, int],
                    seconds: dict | None = None) -> Duplicates:
    """The exact and near copies among N images of ``image_shape`` (H, W, C) described by
    :func:`describe` (``described``: its columns for all N, in input order), their images read by
    ``read(positions)`` (sorted positions -> float (k, H, W, C) images) for the candidates only.
    ``seconds``, when given, gets the seconds of each step."""
    import time

    seconds = {} if seconds is None else seconds
    digest, thumbnail = described["digest"], QuantisedThumbnails(described["thumbnail"])
    start = time.perf_counter()
    exact = exact_pairs(digest)
    candidates, spread = candidate_pairs(described["appearance"], thumbnail, digest)
    if min(image_shape[:2]) < MIN_NEAR_SIDE:
        candidates = candidates[:0]
    seconds["candidates"] = time.perf_counter() - start
    start = time.perf_counter()
    crop_distance, boxes = best_crops(read, candidates, thumbnail.__getitem__)
    near = crop_distance <= CROP_CUT
    candidates, boxes = candidates[near], boxes[near]
    seconds["check at 8 pixels"] = time.perf_counter() - start
    start = time.perf_counter()
    distance = checked_distances(read, candidates, boxes)
    near = is_near_copy(distance, np.minimum(spread[candidates[:, 0]], spread[candidates[:, 1]]))
    seconds["check at 16 pixels"] = time.perf_counter() - start
    pairs = np.concatenate([exact, candidates[near]])
    pair_distance = np.concatenate([np.zeros(len(exact), np.float32), distance[near]])
    n_images = len(digest)
    nearest = np.full(n_images, np.inf, np.float32)
    for side in (0, 1):
        np.minimum.at(nearest, pairs[:, side], pair_distance)
    return Duplicates(group=connected_groups(n_images, pairs), exact=_shared(digest),
                      distance=np.where(np.isfinite(nearest), nearest, np.nan).astype(np.float32),
                      pairs=pairs, pair_distance=pair_distance.astype(np.float32), spread=spread,
                      digest=np.asarray(digest, np.uint8),
                      appearance=np.asarray(described["appearance"], np.float32),
                      appearance_mean=appearance.mean_, appearance_components=appearance.components_)


def is_near_copy(distance: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """bool: pairs at near-copy ``distance`` whose images' smaller ``spread`` they stand out from."""
    return (distance <= MAX_THUMB_DISTANCE) & (distance <= STAND_OUT * spread)


def _digest_keys(digest: np.ndarray) -> np.ndarray:
    """(N, 2) uint64 view of (N, 16) uint8 digests, for sorting."""
    return np.ascontiguousarray(digest, dtype=np.uint8).view(np.uint64).reshape(-1, 2)


def _shared(digest: np.ndarray) -> np.ndarray:
    """bool (N,): the image's digest is shared by another image."""
    keys = _digest_keys(digest)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return counts[inverse.ravel()] >= 2


def exact_pairs(digest: np.ndarray) -> np.ndarray:
    """int64 (P, 2): each image with an exact copy paired with the first image of its digest."""
    keys = _digest_keys(digest)
    order = np.lexsort((keys[:, 1], keys[:, 0]))
    same = np.all(keys[order][1:] == keys[order][:-1], axis=1)
    first_of_run = order[np.r_[0, np.flatnonzero(~same) + 1]]
    run = np.cumsum(np.r_[True, ~same]) - 1
    follower = np.r_[False, same]
    return np.stack([first_of_run[run[follower]], order[follower]], axis=1).astype(np.int64)


def candidate_pairs(appearance: np.ndarray, thumbnail: QuantisedThumbnails, digest: np.ndarray, k: int = NEIGHBOURS,
                    cut: float = WHOLE_CUT, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(pairs int64 (P, 2), i < j, unique; spread float32 (N,)): each image with its ``k`` nearest by
    ``appearance`` (N, d) (``core.similar.neighbours``: within k-means cells, no pass over all
    pairs), kept when their (int8) whole thumbnails lie within ``cut`` and their ``digest`` differ
    (exact copies are paired already); and each image's thumbnail distance to the farthest of the
    ``k`` nearest in its own cell."""
    n_images = len(appearance)
    spread = np.zeros(n_images, np.float32)
    keys = _digest_keys(digest)
    found = [np.zeros(0, np.int64)]
    for rows, neighbours, primary in nearest_neighbours(appearance, k, seed):
        first, second = np.repeat(rows, neighbours.shape[1]), neighbours.ravel()
        distance = thumbnail.distances(first, second)
        own = np.repeat(primary, neighbours.shape[1])
        np.maximum.at(spread, first[own], distance[own])
        close = (distance <= cut) & np.any(keys[first] != keys[second], axis=1)
        low, high = np.minimum(first[close], second[close]), np.maximum(first[close], second[close])
        found.append(np.unique(low * n_images + high))
    codes = np.unique(np.concatenate(found))
    return np.stack([codes // n_images, codes % n_images], axis=1).astype(np.int64), spread


def connected_groups(n_images: int, pairs: np.ndarray) -> np.ndarray:
    """int64 (N,): the connected components of ``pairs`` (P, 2) with two images or more, numbered by
    size, largest first (ties: by first image), -1 for an image in no pair."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n_images, n_images))
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    first = np.full(len(sizes), n_images)
    np.minimum.at(first, component, np.arange(n_images))
    ranked = np.lexsort((first, -sizes))  # components by size, largest first
    number = np.empty(len(sizes), np.int64)
    number[ranked] = np.arange(len(sizes))
    return np.where(sizes[component] >= 2, number[component], -1).astype(np.int64)
