"""Small colour thumbnails of images and of their slightly cropped copies: what near copies are told by.

A thumbnail is an image area-averaged down to ``side`` x ``side`` pixels in colour (a grey image
is repeated in three channels), minus the mean of its values, over its length: a float32 vector of
``3 * side * side`` numbers of unit length (a flat image gives zeros). Re-saving as JPEG barely
moves it, and brightness and contrast changes (a scale and a shift of the pixels) leave it almost as
it is; the Euclidean distance between two thumbnails lies in [0, 2].

A crop of a pixel or two and a resize back moves every pixel a little, so a copy made that way is
found by comparing one image's thumbnail with the thumbnails of slightly cropped versions of the
other (``crop_variants``): each of the four sides cut by 0, 1/32 or 2/32 of the image's side
(``CROPS``, 81 crop boxes), then averaged down like the whole image. Every thumbnail here is a
pair of matrix products with area-averaging matrices (``window_matrix``), in float32.

:class:`Appearance` gives every image of a run a short vector in the apply stage: the first
principal components of its 8-pixel thumbnail, where near copies lie close together and a
k-nearest-neighbour search finds them.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

CROPS = (0.0, 1 / 32, 2 / 32)


SEARCH_SIDE = 8  # thumbnails for finding candidates (192 numbers)


CHECK_SIDE = 16  # thumbnails for the final check (768 numbers)


@lru_cache(maxsize=512)
def window_matrix(source: int, side: int, cut_start: float = 0.0, cut_end: float = 0.0) -> np.ndarray:
    """(side, source) float32 matrix that area-averages ``source`` samples into ``side`` bins over
    the window left after cutting the fractions ``cut_start`` and ``cut_end`` of the samples off
    either end (a bin that covers part of a sample weighs it by the part; enlarging repeats)."""
    low, high = cut_start * source, source - cut_end * source
    edges = low + (high - low) * np.arange(side + 1) / side
    starts, ends = edges[:-1, None], edges[1:, None]
    samples = np.arange(source)[None, :]
    overlap = np.clip(np.minimum(ends, samples + 1) - np.maximum(starts, samples), 0.0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def in_colour(images: np.ndarray) -> np.ndarray:
    """float (n, H, W, C) images in [0, 1], C = 1 or 3 -> float32 (n, H, W, 3)."""
    images = np.asarray(images, dtype=np.float32)
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images[..., :3]


def normalised(values: np.ndarray) -> np.ndarray:
    """Rows (..., D) minus their mean, over their length (zero rows stay zero), float32."""
    values = np.asarray(values, dtype=np.float32)
    centred = values - values.mean(axis=-1, keepdims=True)
    centred *= np.minimum(inverse_lengths(values), 1e6)[..., None]
    return centred


def crop_variants(images: np.ndarray, side: int, crops=CROPS, normalise: bool = True) -> np.ndarray:
    """Thumbnails of every crop box of each image: float32 (n, len(crops)**4, 3 * side * side).

    The boxes cut each side by each fraction in ``crops``; box 0 cuts nothing (the thumbnail of the
    whole image), and box ``b`` cuts top, bottom, left, right by ``crops[i]`` for the digits
    ``i`` of ``b`` in base ``len(crops)`` (top first). Values are ordered (row, channel, column).
    With ``normalise`` False they are the averaged pixels, before the mean is taken off and the
    length divided out (:func:`inverse_lengths` gives the lengths). Two matrix products per image:
    about ``len(crops)**2 * side * 3 * H * W * (1 + len(crops)**2 * side / H)`` multiply-adds."""
    x = in_colour(images)
    n, height, width, _ = x.shape
    pairs = [(a, b) for a in crops for b in crops]
    rows = np.concatenate([window_matrix(height, side, a, b) for a, b in pairs])  # (R*side, H)
    cols = np.concatenate([window_matrix(width, side, a, b) for a, b in pairs])  # (R*side, W)
    across = np.matmul(np.ascontiguousarray(x.transpose(0, 1, 3, 2)), cols.T)  # (n, H, 3, R*side): columns averaged
    down = np.matmul(rows, across.reshape(n, height, -1))  # (n, R*side, 3*R*side): rows averaged
    r = len(pairs)
    down = down.reshape(n, r, side, 3, r, side).transpose(0, 1, 4, 2, 3, 5).reshape(n, r * r, 3 * side * side)
    return normalised(down) if normalise else down


def inverse_lengths(values: np.ndarray) -> np.ndarray:
    """float32 (...,): one over the length of each row (..., D) once its mean is taken off: what
    turns dot products with a unit thumbnail (whose mean is 0) into cosines."""
    squares = np.einsum("...d,...d->...", values, values)
    mean = values.mean(axis=-1)
    return (1.0 / np.sqrt(np.maximum(squares - values.shape[-1] * mean * mean, 1e-12))).astype(np.float32)


def thumbnails(images: np.ndarray, side: int, batch: int = 4096) -> np.ndarray:
    """The thumbnail of each whole image: float32 (n, 3 * side * side), ordered like ``crop_variants``."""
    parts = [crop_variants(images[start:start + batch], side, (0.0,))[:, 0] for start in range(0, len(images), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, 3 * side * side), np.float32)


def boxed_thumbnails(images: np.ndarray, side: int, boxes: np.ndarray, crops=CROPS) -> np.ndarray:
    """The thumbnail of one crop box per image (``boxes`` (n,) numbered as in ``crop_variants``):
    float32 (n, 3 * side * side). Costs about ``side * H * 3W`` multiply-adds per image."""
    x = in_colour(images)
    n, height, width, _ = x.shape
    digits = len(crops)
    cuts = np.asarray(crops)[np.stack([np.asarray(boxes) // digits ** p % digits for p in (3, 2, 1, 0)], axis=1)]
    rows = np.stack([window_matrix(height, side, top, bottom) for top, bottom in cuts[:, :2]])  # (n, side, H)
    cols = np.stack([window_matrix(width, side, left, right) for left, right in cuts[:, 2:]])  # (n, side, W)
    down = np.einsum("nih,nhwc,njw->nicj", rows, x, cols, optimize=True)
    return normalised(down.reshape(n, -1))


def quantised(thumbs: np.ndarray) -> np.ndarray:
    """(n, D) unit thumbnails as int8 (n, D), each row scaled so its largest value is 127: a quarter
    of the memory, within about 0.01 in distance (:class:`QuantisedThumbnails` reads them)."""
    top = np.maximum(np.abs(thumbs).max(axis=1, keepdims=True), 1e-6)
    return np.round(thumbs / top * 127).astype(np.int8)


class QuantisedThumbnails:
    """int8 thumbnails (N, D) from :func:`quantised`, read back as unit thumbnails (``[positions]``)
    or compared pair by pair (:meth:`distances`) without converting them first."""

    def __init__(self, rows: np.ndarray, block: int = 100_000):
        self.rows = rows
        sums = np.concatenate([rows[s:s + block].sum(axis=1, dtype=np.int64) for s in range(0, len(rows), block)] or
                              [np.zeros(0, np.int64)])
        squares = np.concatenate([np.einsum("nd,nd->n", rows[s:s + block].astype(np.int32), rows[s:s + block])
                                  for s in range(0, len(rows), block)] or [np.zeros(0, np.int64)])
        width = rows.shape[1]
        self.mean_ = (sums / width).astype(np.float32)
        self.scale_ = (1.0 / np.maximum(np.sqrt(np.maximum(squares - width * self.mean_**2, 0.0)), 1e-6)
                       ).astype(np.float32)

    def __getitem__(self, positions) -> np.ndarray:
        return normalised(self.rows[positions].astype(np.float32))

    def distances(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """float32 (P,) distances between the unit thumbnails of rows ``first`` and ``second`` (P,)."""
        dots = np.einsum("nd,nd->n", self.rows[first].astype(np.int16), self.rows[second].astype(np.int16),
                         dtype=np.int32)
        width = self.rows.shape[1]
        cosine = (dots - width * self.mean_[first] * self.mean_[second]) * self.scale_[first] * self.scale_[second]
        return np.sqrt(np.maximum(2.0 - 2.0 * cosine, 0.0)).astype(np.float32)


class Appearance:
    """The first principal components of images' 8-pixel thumbnails (scikit-learn's shape): where a
    k-nearest-neighbour search finds each image's likely near copies among a million.

    Parameters: ``n_components`` (16), ``max_images`` the most images ``fit`` uses (a seeded sample
    of them), ``seed``.

    Attributes after ``fit``: ``mean_`` (D,) and ``components_`` (D, n_components) float32, D = 192
    (fewer images than components: the last components are of no variance).
    ``transform(images)`` gives float32 (n, n_components); the distance between two images' rows
    is at most the distance between their thumbnails.
    """

    def __init__(self, n_components: int = 16, max_images: int = 20_000, seed: int = 0):
        self.n_components = n_components
        self.max_images = max_images
        self.seed = seed

    def fit(self, images: np.ndarray) -> Appearance:
        """Fit on (n, H, W, C) images (at most ``max_images`` of them, seeded)."""
        chosen = np.arange(len(images))
        if len(images) > self.max_images:
            chosen = np.sort(np.random.default_rng(self.seed).choice(len(images), self.max_images, replace=False))
        values = thumbnails(images[chosen], SEARCH_SIDE).astype(np.float64)
        mean = values.mean(axis=0)
        _, directions = np.linalg.eigh(np.cov(values - mean, rowvar=False, bias=True))  # ascending
        self.mean_ = mean.astype(np.float32)
        self.components_ = directions[:, ::-1][:, : self.n_components].astype(np.float32)
        return self

    def transform(self, images: np.ndarray) -> np.ndarray:
        """float32 (n, n_components) of (n, H, W, C) images."""
        return self.project(thumbnails(images, SEARCH_SIDE))

    def project(self, thumbs: np.ndarray) -> np.ndarray:
        """(n, D) 8-pixel thumbnails -> float32 (n, n_components)."""
        return ((thumbs - self.mean_) @ self.components_).astype(np.float32)
