"""Exact copies: a 16-byte digest of an image's decoded pixels, at its own resolution.

Taken where images are decoded (``core.data``), before any conversion or resizing, so that two
files of the same pixels have the same digest whatever their names and formats: a JPEG and the PNG
saved from its pixels are exact copies; the same photo saved smaller is not (it is a near copy).
The pixels are put in one canonical form first: palette and bilevel images as their colours, a
single channel as a plain 2-D array, an alpha channel that is fully opaque dropped, RGB whose three
channels are equal as grey, and values in native byte order. Shape and type are part of the digest.
"""

from __future__ import annotations

import hashlib

import numpy as np

DIGEST_BYTES = 16


_KEPT_MODES = {"L", "LA", "RGB", "RGBA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}



def pixel_digest(pixels: np.ndarray) -> bytes:
    """BLAKE2b digest (``DIGEST_BYTES`` bytes) of an image's pixels: (H, W) or (H, W, C) numbers
    as decoded or as stored in an array, put in the canonical form of this module's docstring."""
    values = np.asarray(pixels)
    if values.dtype.byteorder not in ("=", "|"):
        values = values.astype(values.dtype.newbyteorder("="))
    if values.ndim == 3 and values.shape[2] in (2, 4) and _opaque(values[..., -1]):
        values = values[..., :-1]
    if values.ndim == 3 and values.shape[2] == 3 and np.array_equal(values[..., 0], values[..., 1]) \
            and np.array_equal(values[..., 0], values[..., 2]):
        values = values[..., :1]
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[..., 0]
    values = np.ascontiguousarray(values)
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
    digest.update(f"{values.dtype.str}{values.shape}".encode())
    digest.update(values.tobytes())
    return digest.digest()


def _opaque(alpha: np.ndarray) -> bool:
    top = True if alpha.dtype.kind == "b" else np.iinfo(alpha.dtype).max if alpha.dtype.kind in "iu" else 1.0
    return bool(np.all(alpha == top))


def image_digest(image) -> bytes:
    """The digest of an opened Pillow image's pixels (decodes it; Pillow keeps the decoded pixels)."""
    if image.mode not in _KEPT_MODES:  # palette, bilevel, CMYK, YCbCr, ...: their colours
        image = image.convert("RGBA" if image.mode in ("P", "PA", "RGBa", "La") else
                              "L" if image.mode == "1" else "RGB")
    return pixel_digest(np.asarray(image))


def digest_rows(images: np.ndarray) -> np.ndarray:
    """uint8 (n, ``DIGEST_BYTES``): the digest of each row of an (n, H, W[, C]) array of images."""
    rows = [np.frombuffer(pixel_digest(image), dtype=np.uint8) for image in images]
    return np.stack(rows) if rows else np.zeros((0, DIGEST_BYTES), np.uint8)


def as_rows(digests: list[bytes]) -> np.ndarray:
    """uint8 (n, ``DIGEST_BYTES``) from a list of digests."""
    if not digests:
        return np.zeros((0, DIGEST_BYTES), np.uint8)
    return np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), DIGEST_BYTES).copy()
