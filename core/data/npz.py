"""``.npz`` and ``.npy`` files -> images, never unpickling anything, sizes checked before reading."""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from core.data.arrays import from_arrays
from core.data.images import ImageSet
from core.data.limits import MAX_DECOMPRESSED_BYTES, MAX_SIDE
from core.errors import UserInputError

_NPZ_IMAGE_KEYS = ("x", "images", "x_train", "x_test")


_NPZ_LABEL_KEYS = {"x": ("y", "labels"), "images": ("labels", "y"), "x_train": ("y_train",), "x_test": ("y_test",)}



def load_npz(path: Path, *, max_side: int = MAX_SIDE) -> dict[str, ImageSet]:
    """Images from an .npz (or .npy) file, never unpickling anything.

    Images are taken from ``x``, ``images``, or ``x_train`` / ``x_test`` (both: a split source);
    labels, if present, from ``y`` / ``labels`` or ``y_train`` / ``y_test``; known anomaly flags
    (for evaluation) from ``anomaly`` or ``is_anomaly`` beside ``x`` / ``images``. Values may be uint8
    0-255 or float 0-1 (floats up to 255 are read as 0-255); shape N x H x W or N x H x W x C.
    """
    arrays = _read_npz_arrays(path)
    image_keys = [key for key in _NPZ_IMAGE_KEYS if key in arrays]
    if not image_keys:
        raise UserInputError(
            f"'{path.name}' holds arrays {sorted(arrays)} but no images: name the image array "
            "'x', 'images', 'x_train' or 'x_test'"
        )
    if "x_train" in arrays and "x_test" in arrays:
        chosen = {"train": "x_train", "test": "x_test"}
    else:
        chosen = {"all": image_keys[0]}
    splits = {}
    for split, key in chosen.items():
        label_key = next((k for k in _NPZ_LABEL_KEYS[key] if k in arrays), None)
        labels = arrays[label_key] if label_key else None
        name = path.name if split == "all" else f"{path.name} {split}"
        image_set = from_arrays(arrays[key], labels, name, max_side=max_side)
        flag_key = next((k for k in ("anomaly", "is_anomaly") if k in arrays), None)
        if split == "all" and flag_key:
            flags = np.asarray(arrays[flag_key])
            if flags.shape != (len(image_set),) or flags.dtype.kind not in "biu":
                raise UserInputError(f"{name}: '{flag_key}' must hold one 0/1 flag per image")
            image_set = ImageSet(image_set.images, image_set.labels, image_set.ids, name,
                                 image_set.label_names, flags.astype(bool), digests=image_set.digests)
        splits[split] = image_set
    return splits


def _read_npz_arrays(path: Path, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> dict[str, np.ndarray]:
    check_npz_limits(path, max_bytes)
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):  # a plain .npy file
            return {"x": loaded}
        with loaded:
            return {key: loaded[key] for key in loaded.files}
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise UserInputError(
                f"'{path.name}' holds a pickled object array, refused for safety; save plain numeric arrays"
            ) from error
        raise UserInputError(f"'{path.name}' is not a readable .npz file ({error})") from error
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, zlib.error) as error:
        raise UserInputError(f"'{path.name}' is not a readable .npz file: it is corrupt or truncated") from error


def check_npz_limits(path: Path, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> None:
    """Refuse an .npz (or .npy) file that is not one, holds object arrays, or whose arrays would take
    more than ``max_bytes``, all before reading its arrays."""
    with path.open("rb") as file:
        magic = file.read(6)
    if not magic.startswith((b"PK", b"\x93NUMPY")):  # np.load would try to unpickle anything else
        raise UserInputError(f"'{path.name}' is not a readable .npz file: it is corrupt or in another format")
    _check_npz_contents(path, max_bytes, is_zip=magic.startswith(b"PK"))


def _check_npz_contents(path: Path, max_bytes: int, is_zip: bool) -> None:
    """Before ``np.load`` reads anything: refuse object (pickled) arrays, and files whose arrays
    would take more than ``max_bytes`` in memory (by their headers' shapes and the members' sizes),
    so that neither a forged header nor a compressed bomb can allocate more than the limit."""
    corrupt = f"'{path.name}' is not a readable .npz file: it is corrupt or truncated"
    total = 0
    try:
        if is_zip:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    declared = 0
                    if info.filename.endswith(".npy"):
                        with archive.open(info) as member:
                            declared = _npy_declared_bytes(member, path.name, info.filename)
                    total += max(info.file_size, declared)
        else:
            with path.open("rb") as file:
                total = _npy_declared_bytes(file, path.name, path.name)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise UserInputError(corrupt) from error
    if total > max_bytes:
        raise UserInputError(
            f"'{path.name}' holds {total / 2**20:,.0f} MiB of arrays; the limit is {max_bytes / 2**20:,.0f} MiB: "
            "use a subset or smaller images"
        )


def _npy_declared_bytes(file, name: str, member: str) -> int:
    """The bytes an .npy array declares in its header; refuses object arrays without unpickling."""
    shape, dtype = npy_header(file, name, member)
    return math.prod(shape) * dtype.itemsize


def npy_header(file, name: str, member: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the header of the .npy array ``file`` is positioned at, read without
    the data; refuses object (pickled) arrays and corrupt headers with one line."""
    from numpy.lib import format as npy_format

    try:
        version = npy_format.read_magic(file)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(file)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(file)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except ValueError as error:
        raise UserInputError(f"'{name}' is not a readable .npz file: array '{member}' is corrupt ({error})") from error
    if dtype.hasobject:
        raise UserInputError(
            f"'{name}' holds a pickled object array ('{member}'), refused for safety; save plain numeric arrays"
        )
    return tuple(shape), dtype

