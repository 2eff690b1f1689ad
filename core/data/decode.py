"""Image files -> pixels: opened by Pillow under a pixel limit, converted by the mixed-image rule.

Rule for mixed images in a zip or folder: every image is converted to the majority colour mode
(grey if most images are grey, else RGB) and resized to the most common size; if that size is
larger than ``max_side`` pixels on its longer side, all images are scaled down to fit, keeping
the aspect ratio. When every image sits in a sub-folder (below any folder all images share),
the sub-folder names become the labels.
"""

from __future__ import annotations

import collections
import io
import warnings
from pathlib import PurePosixPath

import numpy as np

from core.data.limits import MAX_IMAGE_PIXELS, MIN_SIDE
from core.errors import UserInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}



def majority_mode_and_size(images, name: str, max_side: int) -> tuple[str, tuple[int, int]]:
    """The mixed-image rule: the majority colour mode ("L" or "RGB") and the most common (width,
    height) of opened Pillow images, scaled down to ``max_side`` on the longer side."""
    grey_count = sum(image.mode in _GREY_MODES for image in images)
    mode = "L" if grey_count * 2 >= len(images) else "RGB"
    width, height = collections.Counter(image.size for image in images).most_common(1)[0][0]
    if max(width, height) > max_side:
        factor = max_side / max(width, height)
        width, height = max(MIN_SIDE, round(width * factor)), max(MIN_SIDE, round(height * factor))
    if min(width, height) < MIN_SIDE:
        raise UserInputError(f"'{name}': most images are {width}x{height} pixels, too small (min {MIN_SIDE})")
    return mode, (width, height)


def open_image(data: bytes, relative_path: str, name: str):
    """Open (but do not decode) an image, refusing empty files and decompression bombs."""
    from PIL import Image

    if not data:
        raise UserInputError(f"'{name}': image '{relative_path}' is an empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UserInputError(f"'{name}': image '{relative_path}' is too large to decode safely") from error
    except (OSError, ValueError, SyntaxError) as error:
        raise UserInputError(f"'{name}': '{relative_path}' is not a readable image ({error})") from error
    if image.size[0] * image.size[1] > MAX_IMAGE_PIXELS:
        raise UserInputError(
            f"'{name}': image '{relative_path}' has {image.size[0]}x{image.size[1]} pixels; the limit is {MAX_IMAGE_PIXELS:,}"
        )
    return image


def decode_to_array(image, mode: str, size: tuple[int, int]) -> np.ndarray:
    """Decode a Pillow image to float32 (H, W, C) in [0, 1], in ``mode`` ("L" or "RGB") at size (w, h)."""
    from PIL import Image

    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        if image.mode == "F" and values.max() <= 1.0:
            top = 1.0  # float pixels in 0-1
        image = Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8), mode="L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    converted = image.convert(mode)
    if converted.size != size:
        converted = converted.resize(size, Image.Resampling.BILINEAR)
    array = np.asarray(converted, dtype=np.float32) / np.float32(255.0)
    return array[..., np.newaxis] if array.ndim == 2 else array


def labels_from_folders(paths: list[str]) -> tuple[np.ndarray | None, tuple[str, ...] | None]:
    """Label = first sub-folder below the folders all paths share, if every path has one."""
    parts = [PurePosixPath(p).parts[:-1] for p in paths]
    shared = 0
    while all(len(p) > shared for p in parts) and len({p[shared] for p in parts}) == 1:
        shared += 1
    if not all(len(p) > shared for p in parts):
        return None, None
    folder_names = [p[shared] for p in parts]
    names = sorted(set(folder_names))
    if all(n.isdigit() for n in names):
        return np.array([int(n) for n in folder_names], dtype=np.int64), None
    code = {n: i for i, n in enumerate(names)}
    return np.array([code[n] for n in folder_names], dtype=np.int64), tuple(names)

