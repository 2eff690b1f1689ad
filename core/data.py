"""Image sources -> one :class:`ImageSet`.

Every source ends as float32 images of shape (N, H, W, C) with values in [0, 1], C = 1 (grey) or
3 (colour), optional integer labels of shape (N,), and one stable string id per image (the file's
path inside the archive or folder, else the image's index). Conversion happens here, at the edge;
nothing after this module sees uint8, channels-first arrays or file names.

Sources, named by a *spec* string:

- ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, labels 0-9). Offline.
- ``mnist``, ``fashion-mnist``: through ``keras.datasets`` (downloaded on first use).
- a path to an ``.npz`` file, a ``.zip`` file, or a folder of images.

Rule for mixed images in a zip or folder: every image is converted to the majority colour mode
(grey if most images are grey, else RGB) and resized to the most common size; if that size is
larger than ``max_side`` pixels on its longer side, all images are scaled down to fit, keeping
the aspect ratio. When every image sits in a sub-folder (below any folder all images share),
the sub-folder names become the labels.

Files are untrusted: npz files load with ``allow_pickle=False``, zip members are read in memory
(never extracted) and checked for path traversal and decompressed size, and images are decoded
by Pillow under a pixel limit.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import importlib.util
import io
import math
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from core.errors import UserInputError

BUILTIN_SOURCES = ("digits", "mnist", "fashion-mnist")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

MIN_IMAGES = 10
MAX_IMAGES = 200_000
MAX_SIDE = 64
MIN_SIDE = 4
MAX_IMAGE_PIXELS = 40_000_000
MAX_DECOMPRESSED_BYTES = 1 << 30

_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}


@dataclass(frozen=True, eq=False)
class ImageSet:
    """A collection of images with optional labels.

    Attributes:
        images: float32 array (N, H, W, C) with values in [0, 1]; C is 1 or 3.
        labels: int64 array (N,) or None when the source has no labels.
        ids: array (N,) of str, stable identifiers (file path inside the source, or the index).
        name: a short human-readable description of the source.
        label_names: names of the label values, ``label_names[label]``, or None.
        anomaly_flags: bool array (N,) marking known anomalies (for evaluation only), or None.
        origin: the zip file or folder the images were read from (``ids`` are paths inside it),
            or None for arrays: where :func:`original_image` finds an image's own file.
    """

    images: np.ndarray
    labels: np.ndarray | None
    ids: np.ndarray
    name: str
    label_names: tuple[str, ...] | None = None
    anomaly_flags: np.ndarray | None = None
    origin: str | None = None

    def __post_init__(self):
        if self.images.ndim != 4 or self.images.dtype != np.float32:
            raise ValueError(f"images must be float32 (N, H, W, C), got {self.images.dtype} {self.images.shape}")
        if self.labels is not None and self.labels.shape != (len(self.images),):
            raise ValueError("labels must have shape (N,)")
        if self.ids.shape != (len(self.images),):
            raise ValueError("ids must have shape (N,)")
        if self.anomaly_flags is not None and self.anomaly_flags.shape != (len(self.images),):
            raise ValueError("anomaly_flags must have shape (N,)")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one image."""
        return tuple(self.images.shape[1:])

    def label_text(self) -> np.ndarray | None:
        """(N,) str: each image's label name (or number), or None without labels."""
        if self.labels is None:
            return None
        if self.label_names is None:
            return self.labels.astype(str)
        return np.asarray(self.label_names, dtype=str)[self.labels]

    def label_values(self) -> np.ndarray | None:
        """(N,) labels as the source gave them: names (folder names, strings in an npz) where it had
        names, else the integers; None without labels."""
        if self.labels is None:
            return None
        return self.labels if self.label_names is None else self.label_text()

    def read(self, positions) -> ImageSet:
        """The images at ``positions`` (sorted int array): what a pipeline chunk reads."""
        return self.subset(positions)

    def subset(self, index) -> ImageSet:
        """The images at ``index`` (an int array or a boolean mask), in that order."""
        return ImageSet(
            images=self.images[index],
            labels=None if self.labels is None else self.labels[index],
            ids=self.ids[index],
            name=self.name,
            label_names=self.label_names,
            anomaly_flags=None if self.anomaly_flags is None else self.anomaly_flags[index],
            origin=self.origin,
        )

    def fingerprint(self) -> str:
        """A sha256 hex digest of the pixels, shape and labels: equal data, equal fingerprint."""
        digest = hashlib.sha256()
        digest.update(repr(self.images.shape).encode())
        digest.update(np.ascontiguousarray(self.images).tobytes())
        if self.labels is not None:
            digest.update(self.labels.astype(np.int64).tobytes())
        return digest.hexdigest()


def concatenate(first: ImageSet, second: ImageSet, name: str | None = None) -> ImageSet:
    """Stack two image sets of the same image shape; labels are kept only if both have them.

    Anomaly flags are kept if either has them (a set without flags counts as all normal).
    """
    if first.image_shape != second.image_shape:
        raise UserInputError(f"cannot combine images of shape {first.image_shape} and {second.image_shape}")
    labels = None
    if first.labels is not None and second.labels is not None:
        labels = np.concatenate([first.labels, second.labels])
    flags = None
    if first.anomaly_flags is not None or second.anomaly_flags is not None:
        flags = np.concatenate([_flags_or_false(first), _flags_or_false(second)])
    return ImageSet(
        images=np.concatenate([first.images, second.images]),
        labels=labels,
        ids=np.concatenate([first.ids, second.ids]),
        name=name or f"{first.name} + {second.name}",
        anomaly_flags=flags,
    )


def _flags_or_false(image_set: ImageSet) -> np.ndarray:
    if image_set.anomaly_flags is None:
        return np.zeros(len(image_set), dtype=bool)
    return image_set.anomaly_flags


def load_splits(spec: str | Path, *, max_side: int = MAX_SIDE) -> dict[str, ImageSet]:
    """Load a source as named splits.

    Returns ``{"train": ..., "test": ...}`` for sources that come split (``mnist``,
    ``fashion-mnist``, an npz with both ``x_train`` and ``x_test``), else ``{"all": ...}``.
    Raises :class:`UserInputError` for anything a user can fix.
    """
    text = str(spec).strip()
    if text == "digits":
        return {"all": load_digits()}
    if text in ("mnist", "fashion-mnist"):
        return load_keras_dataset(text)
    path = Path(text).expanduser()
    if not path.exists():
        raise UserInputError(
            f"no such dataset or file: '{text}'; use one of {', '.join(BUILTIN_SOURCES)} "
            "or a path to an .npz file, a .zip file or a folder of images"
        )
    if path.is_dir():
        from core.sources import open_folder

        return {"all": open_folder(path, max_side=max_side)}
    suffix = path.suffix.lower()
    if suffix in (".npz", ".npy"):
        return load_npz(path, max_side=max_side)
    if suffix == ".zip":
        return {"all": load_zip(path, max_side=max_side)}
    raise UserInputError(f"'{path.name}' is not an .npz, .npy or .zip file or a folder of images")


def load_image_set(spec: str | Path, *, split: str = "test", max_side: int = MAX_SIDE) -> ImageSet:
    """Load one ImageSet; for split sources take ``split`` ("train" or "test")."""
    splits = load_splits(spec, max_side=max_side)
    return splits.get(split, next(iter(splits.values())))


def load_train_and_analysis_sets(
    data_spec: str | Path, train_spec: str | Path | None = None, *, max_side: int = MAX_SIDE
) -> tuple[ImageSet, ImageSet]:
    """The (training set, analysis set) for a run.

    Without ``train_spec`` the autoencoder trains on the images it analyses, except for split
    sources (``mnist``, ``fashion-mnist``, an npz with ``x_train`` and ``x_test``): those train on
    their train split and analyse their test split. With ``train_spec`` it trains on that source
    (its train split if it has one) and analyses ``data_spec`` (its test split if it has one).
    """
    data_splits = load_splits(data_spec, max_side=max_side)
    analysis_set = data_splits.get("test", data_splits.get("all"))
    if train_spec is None:
        train_set = data_splits.get("train", analysis_set)
    else:
        train_set = load_image_set(train_spec, split="train", max_side=max_side)
        if train_set.image_shape != analysis_set.image_shape:
            raise UserInputError(
                f"training images are {_shape_text(train_set.image_shape)} but analysed images are "
                f"{_shape_text(analysis_set.image_shape)}; use sources with the same image size and colour mode"
            )
    for image_set in (train_set, analysis_set):
        check_source_size(image_set)
    return train_set, analysis_set


def check_source_size(source) -> None:
    """Raise UserInputError for too few images, or too many for a source held in memory."""
    check_image_count(len(source), source.name, limit=None if getattr(source, "on_disk", False) else MAX_IMAGES)


def check_image_count(n_images: int, name: str, limit: int | None = MAX_IMAGES) -> None:
    """Raise UserInputError when a source has too few images to analyse, or more than ``limit``
    (the cap of sources held in memory; folders, read in batches, have none)."""
    if n_images < MIN_IMAGES:
        raise UserInputError(f"{name} has {n_images} image(s); at least {MIN_IMAGES} are needed")
    if limit is not None and n_images > limit:
        raise UserInputError(f"{name} has {n_images:,} images; the limit for a single file is {limit:,}: use a "
                             "folder of .npz shards or of images, which is read in batches")


# --- built-in sources -------------------------------------------------------------------------


def load_digits() -> ImageSet:
    """scikit-learn's 1,797 8x8 grey digit images (values 0-16 scaled to [0, 1]) with labels 0-9.

    Read straight from the file scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``: one
    row of 64 pixels and the label per image) when it is there, without importing scikit-learn:
    that import takes about 2 s, and the app's first page shows these images.
    """
    sklearn = importlib.util.find_spec("sklearn")
    path = Path(sklearn.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if path.is_file():
        table = np.loadtxt(path, delimiter=",")
        pixels, target = table[:, :-1].reshape(-1, 8, 8), table[:, -1]
    else:
        from sklearn.datasets import load_digits as sklearn_digits

        bunch = sklearn_digits()
        pixels, target = bunch.images, bunch.target
    images = (pixels / 16.0).astype(np.float32)[..., np.newaxis]
    return ImageSet(
        images=images,
        labels=target.astype(np.int64),
        ids=_index_ids(len(images)),
        name="digits",
    )


def load_keras_dataset(name: str) -> dict[str, ImageSet]:
    """MNIST or Fashion-MNIST through ``keras.datasets``: {"train": 60,000, "test": 10,000}."""
    try:
        from keras import datasets

        module = datasets.mnist if name == "mnist" else datasets.fashion_mnist
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as error:  # Keras raises bare Exception subclasses for failed downloads
        raise UserInputError(
            f"could not download {name} through Keras ({type(error).__name__}); without internet use "
            "'digits', or a local .npz, .zip or folder of images"
        ) from error
    return {
        "train": _from_arrays(x_train, y_train, f"{name} train"),
        "test": _from_arrays(x_test, y_test, f"{name} test"),
    }


# --- npz --------------------------------------------------------------------------------------

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
        image_set = _from_arrays(arrays[key], labels, name, max_side=max_side)
        flag_key = next((k for k in ("anomaly", "is_anomaly") if k in arrays), None)
        if split == "all" and flag_key:
            flags = np.asarray(arrays[flag_key])
            if flags.shape != (len(image_set),) or flags.dtype.kind not in "biu":
                raise UserInputError(f"{name}: '{flag_key}' must hold one 0/1 flag per image")
            image_set = ImageSet(image_set.images, image_set.labels, image_set.ids, name,
                                 image_set.label_names, flags.astype(bool))
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


def _from_arrays(images, labels, name: str, *, max_side: int = MAX_SIDE) -> ImageSet:
    """Validate raw arrays and convert them to an ImageSet."""
    images = _images_to_float(np.asarray(images), name)
    if max(images.shape[1:3]) > max_side:
        images = _downscale(images, max_side)
    label_array, label_names = None, None
    if labels is not None:
        label_array, label_names = labels_to_int(np.asarray(labels), len(images), name)
    return ImageSet(images=images, labels=label_array, ids=_index_ids(len(images)), name=name, label_names=label_names)


def _images_to_float(images: np.ndarray, name: str) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) or (N, C, H, W) numbers -> float32 (N, H, W, C) in [0, 1]."""
    images = _as_image_array(images, name)
    return _scaled(images, pixel_scale(images, name))


def _as_image_array(images: np.ndarray, name: str) -> np.ndarray:
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


def _scaled(images: np.ndarray, scale: float) -> np.ndarray:
    return (images.astype(np.float32) / np.float32(scale)).astype(np.float32)


def convert_images(raw: np.ndarray, name: str, scale: float, max_side: int = MAX_SIDE) -> np.ndarray:
    """Raw array images (a batch of a larger source whose ``scale`` is known) -> float32
    (n, H, W, C) in [0, 1], scaled down to ``max_side`` pixels on the longer side."""
    images = _scaled(_as_image_array(np.asarray(raw), name), scale)
    return _downscale(images, max_side) if max(images.shape[1:3]) > max_side else images


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


def _downscale(images: np.ndarray, max_side: int) -> np.ndarray:
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


# --- zip files and folders --------------------------------------------------------------------


def load_zip(path: Path, *, max_side: int = MAX_SIDE, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> ImageSet:
    """Images from a zip archive, read in memory. Refuses unsafe member paths and archives whose
    image members decompress to more than ``max_bytes``."""
    try:
        archive = zipfile.ZipFile(path)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise UserInputError(f"'{path.name}' is not a readable zip file: it is corrupt or truncated") from error
    with archive:
        for info in infos:
            _check_member_name(info.filename, path.name)
        images = [
            info for info in infos
            if not info.is_dir() and PurePosixPath(info.filename).suffix.lower() in IMAGE_SUFFIXES
            and not any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(info.filename).parts)
        ]
        total = sum(info.file_size for info in images)
        if total > max_bytes:
            raise UserInputError(
                f"'{path.name}' decompresses to {total / 2**20:.0f} MiB of images; the limit is {max_bytes / 2**20:.0f} MiB"
            )
        budget = [max_bytes]

        def reader(info):
            def read() -> bytes:
                with archive.open(info) as member:
                    data = member.read(budget[0] + 1)
                budget[0] -= len(data)
                if budget[0] < 0:
                    raise UserInputError(f"'{path.name}' decompresses to more than {max_bytes / 2**20:.0f} MiB; refused")
                return data
            return read

        members = [(info.filename, reader(info)) for info in sorted(images, key=lambda i: i.filename)]
        try:
            image_set = _from_image_files(members, path.name, max_side=max_side)
            return dataclasses.replace(image_set, origin=str(path.resolve()))
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
            raise UserInputError(f"'{path.name}' is corrupt: a member could not be decompressed ({error})") from error


def original_image(image_set: ImageSet, index: int, max_bytes: int = 50 * 2**20) -> bytes | None:
    """The bytes of image ``index``'s own file (at its own resolution) when the set was read from a
    zip or folder that is still there; None for arrays, or when the file is gone or too large."""
    if image_set.origin is None:
        return None
    origin, member = Path(image_set.origin), str(image_set.ids[index])
    try:
        if origin.is_dir():
            path = (origin / member).resolve()
            if origin.resolve() not in path.parents or path.stat().st_size > max_bytes:
                return None
            return path.read_bytes()
        with zipfile.ZipFile(origin) as archive:
            info = archive.getinfo(member)
            if info.file_size > max_bytes:
                return None
            return archive.read(info)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError):
        return None


def _check_member_name(name: str, archive_name: str) -> None:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
        raise UserInputError(f"'{archive_name}' has a member '{name}' that points outside the archive; refused")


def _from_image_files(members, name: str, *, max_side: int) -> ImageSet:
    """Decode (relative path, read-bytes function) pairs into one ImageSet by the mixed-image rule."""

    if not members:
        raise UserInputError(
            f"'{name}' contains no images (PNG, JPEG, BMP, GIF, TIFF or WebP); nested archives are not opened"
        )
    check_image_count(len(members), f"'{name}'")
    opened = []
    for relative_path, read in members:
        opened.append((relative_path, open_image(read(), relative_path, name)))
    mode, (width, height) = majority_mode_and_size([image for _, image in opened], name, max_side)
    arrays = []
    for relative_path, image in opened:
        try:
            arrays.append(decode_to_array(image, mode, (width, height)))
        except (OSError, ValueError, SyntaxError) as error:
            raise UserInputError(f"'{name}': image '{relative_path}' could not be decoded ({error})") from error
    paths = [relative_path for relative_path, _ in opened]
    labels, label_names = labels_from_folders(paths)
    return ImageSet(
        images=np.stack(arrays),
        labels=labels,
        ids=np.array(paths, dtype=str),
        name=name,
        label_names=label_names,
    )


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


def _index_ids(n_images: int) -> np.ndarray:
    return np.arange(n_images).astype(str)


def _shape_text(shape) -> str:
    height, width, channels = shape
    return f"{height}x{width} {'grey' if channels == 1 else 'colour'}"
