"""Arrays of numbers -> float32 (N, H, W, C) images in [0, 1]: checked, scaled, channels last."""

from __future__ import annotations

import numpy as np

from core.data.images import ImageSet, index_ids
from core.data.limits import MAX_IMAGE_PIXELS, MAX_SIDE, MIN_SIDE
from core.errors import UserInputError
from core.similar.digests import digest_rows


def from_arrays(images, labels, name: str, *, max_side: int = MAX_SIDE) -> ImageSet:
    """Validate raw arrays and convert them to an ImageSet (with each row's pixel digest)."""
    raw = as_image_array(np.asarray(images), name)
    digests = digest_rows(raw)
    images = scaled(raw, pixel_scale(raw, name))
    if max(images.shape[1:3]) > max_side:
        images = downscale(images, max_side)
    label_array, label_names = None, None
    if labels is not None:
        label_array, label_names = labels_to_int(np.asarray(labels), len(images), name)
    return ImageSet(images=images, labels=label_array, ids=index_ids(len(images)), name=name, label_names=label_names,
                    digests=digests)


def as_image_array(images: np.ndarray, name: str) -> np.ndarray:
    """Numbers of shape N x H x W, N x H x W x C or N x C x H x W -> N x H x W x C (C = 1 or 3, alpha
    dropped); UserInputError for anything else, or for sides outside the limits."""
    if images.dtype.kind not in "biuf":
        raise UserInputError(f"{name}: images must be numbers, got dtype {images.dtype}")
    if images.size == 0 or len(images) == 0:
        raise UserInputError(f"{name}: the image array is empty")
    if images.ndim == 3:
        images = images[..., np.newaxis]
    elif images.ndim == 4 and images.shape[-1] not in (1, 3, 4) and images.shape[1] in (1, 3, 4):
        images = np.moveaxis(images, 1, -1)
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise UserInputError(
            f"{name}: images must have shape N x H x W or N x H x W x C with C in 1, 3, 4; got {images.shape}"
        )
    if images.shape[-1] == 4:
        images = images[..., :3]  # drop the alpha channel
    if min(images.shape[1:3]) < MIN_SIDE:
        raise UserInputError(f"{name}: images of {images.shape[1]}x{images.shape[2]} pixels are too small (min {MIN_SIDE})")
    if images.shape[1] * images.shape[2] > MAX_IMAGE_PIXELS:
        raise UserInputError(f"{name}: images of {images.shape[1]}x{images.shape[2]} pixels are too large "
                             f"(limit {MAX_IMAGE_PIXELS:,} pixels per image)")
    return images


def pixel_scale(images: np.ndarray, name: str) -> float:
    """What the pixel values are divided by to lie in [0, 1]: 1 for booleans and floats up to 1,
    else 255. UserInputError for NaN or infinite values and values outside 0-255."""
    if images.dtype.kind == "b":
        return 1.0
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        raise UserInputError(f"{name}: images contain NaN or infinite values")
    low, high = float(images.min()), float(images.max())
    if low < 0 or high > 255:
        raise UserInputError(f"{name}: pixel values span {low:g} to {high:g}; expected 0-1 or 0-255")
    return 1.0 if images.dtype.kind == "f" and high <= 1.0 else 255.0


def scaled(images: np.ndarray, scale: float) -> np.ndarray:
    return (images.astype(np.float32) / np.float32(scale)).astype(np.float32)


def convert_images(raw: np.ndarray, name: str, scale: float, max_side: int = MAX_SIDE) -> np.ndarray:
    """Raw array images (a batch of a larger source whose ``scale`` is known) -> float32
    (n, H, W, C) in [0, 1], scaled down to ``max_side`` pixels on the longer side."""
    images = scaled(as_image_array(np.asarray(raw), name), scale)
    return downscale(images, max_side) if max(images.shape[1:3]) > max_side else images


def labels_to_int(labels: np.ndarray, n_images: int, name: str) -> tuple[np.ndarray, tuple[str, ...] | None]:
    if labels.ndim != 1 or len(labels) != n_images:
        raise UserInputError(f"{name}: {len(labels) if labels.ndim else 0} labels for {n_images} images; they must match")
    if labels.dtype.kind in "US":
        names, codes = np.unique(labels.astype(str), return_inverse=True)
        return codes.astype(np.int64), tuple(names)
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all() or not np.all(labels == np.round(labels)):
            raise UserInputError(f"{name}: labels must be whole numbers")
    elif labels.dtype.kind not in "biu":
        raise UserInputError(f"{name}: labels must be integers or strings, got dtype {labels.dtype}")
    return labels.astype(np.int64), None


def downscale(images: np.ndarray, max_side: int) -> np.ndarray:
    """Scale float32 (N, H, W, C) images down so the longer side is ``max_side``, keeping aspect."""
    height, width = images.shape[1:3]
    factor = max_side / max(height, width)
    size = (max(MIN_SIDE, round(width * factor)), max(MIN_SIDE, round(height * factor)))
    return np.stack([_resize_array(image, size) for image in images])


def _resize_array(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One float32 (H, W, C) image resized to size=(width, height) with Pillow's area filter."""
    from PIL import Image

    channels = [
        np.asarray(Image.fromarray(image[..., c], mode="F").resize(size, Image.Resampling.BOX))
        for c in range(image.shape[-1])
    ]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)

