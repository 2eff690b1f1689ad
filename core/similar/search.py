"""Images like a given one: its near copies first, nearest first, then the nearest in a representation.

One search serves the up-close view ("images like this one"), an image a user uploads and
``python -m core similar``. The query is an image of the collection (its position) or any image
(its pixels, as the run holds images, and its pixel digest). Near copies are decided as the run
decides them (``core.similar.duplicates``): the ``CANDIDATES`` images nearest by appearance are read
and their near-copy distance measured; exact copies (same digest) come first at distance 0. The
rest are ranked by Euclidean distance in ``representation``, a parameter (N, d): the run's latent
vectors, or any other vectors with one row per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data.decode import decode_to_array, open_image
from core.data.limits import MIN_SIDE
from core.errors import UserInputError
from core.similar.alignment import near_copy_distances
from core.similar.digests import image_digest
from core.similar.duplicates import NEIGHBOURS, Duplicates, is_near_copy
from core.similar.thumbnails import SEARCH_SIDE, thumbnails

CANDIDATES = 50


FOUND_COLUMNS = ["rank", "index", "distance", "near_copy"]


@dataclass(frozen=True)
class Query:
    """What is searched for: ``image`` float32 (H, W, C) in [0, 1] in the collection's shape,
    ``digest`` (16 bytes of its pixels at its own resolution), ``vector`` (d,) in the representation
    (None: rank by near copies only), ``index`` its position when it is in the collection."""

    image: np.ndarray
    digest: bytes
    vector: np.ndarray | None = None
    index: int | None = None


def query_image(data: bytes, name: str, image_shape: tuple[int, int, int]) -> tuple[np.ndarray, bytes]:
    """(float32 (H, W, C) image in a collection's ``image_shape``, its pixel digest) of an image
    file's bytes, converted as the collection's own files are. UserInputError with one line for a
    file that is not a readable image or is too small or too large to take."""
    image = open_image(data, name, name)
    if min(image.size) < MIN_SIDE:
        raise UserInputError(f"'{name}' is {image.size[0]}x{image.size[1]} pixels, too small (at least {MIN_SIDE})")
    height, width, channels = image_shape
    try:
        digest = image_digest(image)
        return decode_to_array(image, "L" if channels == 1 else "RGB", (width, height)), digest
    except (OSError, ValueError, SyntaxError) as error:
        raise UserInputError(f"'{name}' could not be decoded as an image ({error})") from error


def images_like(query: Query, duplicates: Duplicates, read, representation: np.ndarray | None = None,
                top: int = 10, among: np.ndarray | None = None) -> pd.DataFrame:
    """The ``top`` images of the collection most like ``query``: ``FOUND_COLUMNS``, rank 1 nearest.

    duplicates: the run's (digests, appearance, spreads); read: sorted positions -> their float
    (k, H, W, C) images; representation: (N, d) rows the rest is ranked by (None: by appearance);
    among: bool (N,) images the rest may come from (near copies come from anywhere). ``distance``
    is the near-copy distance for near copies (0 for an exact copy), else the distance in the
    representation. The query itself (``query.index``) is never among them."""
    n_images = len(duplicates)
    thumb = thumbnails(query.image[None], SEARCH_SIDE)
    model = duplicates.appearance_model()
    look = duplicates.appearance[query.index] if query.index is not None else model.project(thumb)[0]
    by_look = np.linalg.norm(duplicates.appearance - look, axis=1)
    if query.index is not None:
        by_look[query.index] = np.inf
    ranked = np.argsort(by_look, kind="stable")[:min(CANDIDATES, n_images - (query.index is not None))]
    candidates = np.sort(ranked)
    images = np.concatenate([query.image[None], read(candidates)])
    pairs = np.stack([np.zeros(len(candidates), np.int64), np.arange(1, len(candidates) + 1)], axis=1)
    near_distance = near_copy_distances(images, pairs)
    if query.index is not None:
        spread = duplicates.spread[query.index]
    else:  # as a run measures it: to the farthest of its nearest by appearance
        whole = thumbnails(images, SEARCH_SIDE)
        nearest = np.searchsorted(candidates, ranked[:NEIGHBOURS]) + 1
        spread = float(np.linalg.norm(whole[nearest] - whole[0], axis=1).max(initial=0.0))
    exact = np.all(duplicates.digest[candidates] == np.frombuffer(query.digest, np.uint8), axis=1)
    near = exact | is_near_copy(near_distance, np.minimum(spread, duplicates.spread[candidates]))
    near_distance = np.where(exact, 0.0, near_distance)
    copies = candidates[near][np.argsort(near_distance[near], kind="stable")]
    if representation is None or query.vector is None:
        others = by_look
    else:
        others = np.linalg.norm(np.asarray(representation) - np.asarray(query.vector), axis=1)
    others = np.where(among if among is not None else True, others, np.inf)
    others[copies] = np.inf
    if query.index is not None:
        others[query.index] = np.inf
    wanted = max(0, min(top - len(copies), int(np.isfinite(others).sum())))
    rest = np.argpartition(others, wanted - 1)[:wanted] if wanted else np.zeros(0, np.int64)
    rest = rest[np.argsort(others[rest], kind="stable")]
    found = np.concatenate([copies, rest])[:top]
    distance = np.concatenate([np.sort(near_distance[near]), others[rest]])[:top]
    return pd.DataFrame({"rank": np.arange(1, len(found) + 1), "index": found.astype(np.int64),
                         "distance": distance.astype(np.float64), "near_copy": np.arange(len(found)) < len(copies)},
                        columns=FOUND_COLUMNS)
