"""The near-copy distance between two images: thumbnails compared after the crop that fits them best.

For a pair (a, b) it is the smallest Euclidean distance between the thumbnail of one image and the
thumbnails of the other's crop boxes (``core.similar.thumbnails.crop_variants``), both ways round,
so that a copy cut by a pixel or two on any side and resized back lies as close to its source as a
re-saved or brightened copy does. In [0, 2]; near copies lie under about 0.35 at 16 pixels, two
different photos well above.

It is found in two steps, each cheap where it can be: at 8 pixels every crop box is tried (81
thumbnails of the cropped image against one of the other), which also says which box fits; at 16
pixels, where the final distance is measured, only the whole images and the box that fitted best
at 8 pixels each way round are compared (three thumbnails per pair instead of 162).
"""

from __future__ import annotations

import numpy as np

from core.similar.thumbnails import (
    CHECK_SIDE,
    CROPS,
    SEARCH_SIDE,
    boxed_thumbnails,
    crop_variants,
    inverse_lengths,
    thumbnails,
)


def distances(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Row-wise Euclidean distances (n,) between (n, D) unit thumbnails, float32."""
    return np.sqrt(np.maximum(2.0 - 2.0 * np.einsum("nd,nd->n", first, second), 0.0)).astype(np.float32)


READ_BYTES = 32 * 2**20  # images read at a time (float32 pixels)


def best_crops(read, pairs: np.ndarray, plain, side: int = SEARCH_SIDE, crops=CROPS,
               chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """For each pair (a, b) and each way round: the crop box of the first image whose thumbnail lies
    nearest the second's whole thumbnail.

    read: positions (sorted int array) -> their float (k, H, W, C) images (read ``READ_BYTES`` at a
    time); pairs: int (P, 2) positions; plain: positions -> their (k, D) whole thumbnails at
    ``side``. Returns (distances (P,) float32: the smaller of the two ways' best distances,
    boxes (P, 2) int: the best box of a against b, and of b against a)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    directed = np.concatenate([pairs, pairs[:, ::-1]])  # (cropped image, whole image)
    order = np.argsort(directed[:, 0], kind="stable")
    best = np.full(len(directed), np.inf, dtype=np.float32)
    boxes = np.zeros(len(directed), dtype=np.int64)
    cropped, starts, counts = np.unique(directed[order, 0], return_index=True, return_counts=True)
    for read_from, images in _read_in_parts(read, cropped):
        for first in range(read_from, read_from + len(images), chunk):
            last = min(first + chunk, read_from + len(images))
            here = order[starts[first]:starts[last - 1] + counts[last - 1]]
            local = np.repeat(np.arange(last - first), counts[first:last])
            slot = np.arange(len(here)) - np.repeat(starts[first:last] - starts[first], counts[first:last])
            partners = np.zeros((last - first, counts[first:last].max(), _dimension(side)), np.float32)
            partners[local, slot] = plain(directed[here, 1])
            variants = crop_variants(images[first - read_from:last - read_from], side, crops, normalise=False)
            similarity = np.matmul(variants, partners.transpose(0, 2, 1))  # (c, V, slots); partners' mean is 0
            similarity *= inverse_lengths(variants)[:, :, None]
            boxes[here] = similarity.argmax(axis=1)[local, slot]
            best[here] = np.sqrt(np.maximum(2.0 - 2.0 * similarity.max(axis=1)[local, slot], 0.0))
    half = len(pairs)
    return np.minimum(best[:half], best[half:]), np.stack([boxes[:half], boxes[half:]], axis=1)


def checked_distances(read, pairs: np.ndarray, boxes: np.ndarray, side: int = CHECK_SIDE,
                      crops=CROPS) -> np.ndarray:
    """The near-copy distance (P,) at ``side`` of each pair (a, b) of positions: the least of a against
    b whole, a cropped by ``boxes[:, 0]`` against b, and b cropped by ``boxes[:, 1]`` against a
    (``boxes`` from :func:`best_crops`). ``read`` as there; pairs are taken a block at a time."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    found = np.zeros(len(pairs), np.float32)
    if len(pairs) == 0:
        return found
    block = max(1, _images_per_read(read, pairs[:1, 0]) // 2)
    for start in range(0, len(pairs), block):
        chosen = slice(start, start + block)
        positions, rows = np.unique(pairs[chosen], return_inverse=True)
        images = read(positions)
        rows = rows.reshape(-1, 2)
        whole = thumbnails(images, side)
        a, b = rows[:, 0], rows[:, 1]
        distance = distances(whole[a], whole[b])
        for cropped, other, box in ((a, b, boxes[chosen, 0]), (b, a, boxes[chosen, 1])):
            moved = box != 0
            if moved.any():
                distance[moved] = np.minimum(distance[moved], distances(
                    boxed_thumbnails(images[cropped[moved]], side, box[moved], crops), whole[other[moved]]))
        found[chosen] = distance
    return found


def near_copy_distances(images: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The near-copy distance (P,) of each pair of rows of (m, H, W, C) ``images`` held in memory:
    both steps of the module docstring on every pair (e.g. one image against its candidates)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        return np.zeros(0, np.float32)
    plain = thumbnails(images, SEARCH_SIDE)
    _, boxes = best_crops(images.__getitem__, pairs, plain.__getitem__)
    return checked_distances(images.__getitem__, pairs, boxes)


def _dimension(side: int) -> int:
    return 3 * side * side


def _images_per_read(read, probe: np.ndarray) -> int:
    """How many images ``READ_BYTES`` holds, from the size of one."""
    return max(1, READ_BYTES // max(1, read(probe).nbytes))


def _read_in_parts(read, positions: np.ndarray):
    """(offset, images) for consecutive parts of sorted ``positions``, ``READ_BYTES`` at a time."""
    if len(positions) == 0:
        return
    step = _images_per_read(read, positions[:1])
    for start in range(0, len(positions), step):
        yield start, read(positions[start:start + step])
