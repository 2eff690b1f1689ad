"""Collections too large for memory: folders of ``.npz`` shards or of image files, read in batches.

A source knows its images' count, shape, labels, anomaly flags and ids without reading their
pixels; :meth:`read` returns an :class:`~core.data.images.ImageSet` of the images at given positions.
The pipeline samples and chunks positions, so memory stays bounded by the fit sample and one chunk,
whatever the collection's size, and Dask workers read their own chunks from the same paths.

- :class:`ShardFolder`: every ``.npz`` file under a folder (recursively, in path order), each
  holding ``x`` (or ``images``) and optionally ``y`` (or ``labels``) and ``anomaly``, as a single
  npz does. An image's id is ``<shard path>:<row>``.
- :class:`ImageFolder`: every image file under a folder (recursively, in path order), sub-folder
  names as labels when every image has one, the mixed-image rule of ``core.data.decode`` decided on a
  seeded sample of 1,000 files' headers. An image's id is its path inside the folder.

Each shard is checked against the npz limits of ``core.data.npz`` before it is read.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from core.data.arrays import convert_images, labels_to_int, pixel_scale
from core.data.decode import IMAGE_SUFFIXES, decode_to_array, labels_from_folders, majority_mode_and_size, open_image
from core.data.images import ImageSet, label_text, label_values
from core.data.limits import MAX_SIDE, MIN_SIDE, check_image_count
from core.data.npz import check_npz_limits, npy_header
from core.errors import UserInputError
from core.similar.digests import DIGEST_BYTES, digest_rows, image_digest

HEADER_SAMPLE = 1000


class FolderSource:
    """What both folder sources share: positions to images, labels, ids; ``on_disk`` for engines.

    Attributes set by subclasses: ``name``, ``origin`` (the folder), ``n_images``,
    ``image_shape`` (H, W, C after conversion), ``labels`` (N,) int64 or None, ``label_names``,
    ``anomaly_flags`` (N,) bool or None.
    """

    on_disk = True
    label_names: tuple[str, ...] | None = None
    anomaly_flags: np.ndarray | None = None

    def __len__(self) -> int:
        return self.n_images

    def read(self, positions) -> ImageSet:
        """The images at ``positions`` (any order), with their labels, ids and flags."""
        positions = np.asarray(positions, dtype=np.int64)
        if len(positions) and (positions.min() < 0 or positions.max() >= self.n_images):
            raise IndexError(f"positions outside 0..{self.n_images - 1}")
        images, digests = self._read_images(positions)
        return ImageSet(images=images, labels=None if self.labels is None else self.labels[positions],
                        ids=self.ids_at(positions), name=self.name, label_names=self.label_names,
                        anomaly_flags=None if self.anomaly_flags is None else self.anomaly_flags[positions],
                        origin=self.origin, digests=digests)

    @property
    def ids(self) -> np.ndarray:
        """(N,) every image's id (built when asked: a million ids take some memory)."""
        return self.ids_at(np.arange(self.n_images))

    def label_text(self) -> np.ndarray | None:
        return label_text(self.labels, self.label_names)

    def label_values(self) -> np.ndarray | None:
        return label_values(self.labels, self.label_names)

    def __getstate__(self):  # what a Dask worker gets: no cached pixels
        return {**self.__dict__, "_cached": None}


class ShardFolder(FolderSource):
    """The ``.npz`` shards under ``folder``, read one shard at a time."""

    def __init__(self, folder: Path, max_side: int = MAX_SIDE):
        folder = Path(folder)
        self.origin, self.name, self.max_side = str(folder.resolve()), folder.name, max_side
        self.shards = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*.npz")
                             if not any(part.startswith(".") for part in path.relative_to(folder).parts))
        if not self.shards:
            raise UserInputError(f"'{folder.name}' holds no .npz files")
        counts, labels, flags, shape = [], [], [], None
        for shard in self.shards:
            key, shard_shape, shard_labels, shard_flags = self._describe(folder / shard)
            if shape is not None and shard_shape[1:] != shape:
                raise UserInputError(f"'{shard}' holds images of shape {shard_shape[1:]}, the shards before it "
                                     f"{shape}: every shard needs the same image size")
            shape = shard_shape[1:]
            counts.append(shard_shape[0])
            labels.append(shard_labels)
            flags.append(shard_flags if shard_flags is not None else np.zeros(shard_shape[0], dtype=bool))
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.n_images = int(self.offsets[-1])
        check_image_count(self.n_images, f"'{folder.name}'", limit=None)
        self.image_shape = _converted_shape(shape, max_side)
        self.labels, self.label_names = None, None
        if all(values is not None for values in labels):
            self.labels, self.label_names = labels_to_int(np.concatenate(labels), self.n_images, self.name)
        has_flags = any(np.any(values) for values in flags)
        self.anomaly_flags = np.concatenate(flags) if has_flags else None
        self._cached = None

    def _describe(self, path: Path):
        """(image key, image array shape, labels or None, flags or None) of one shard, reading its
        labels and flags but not its images."""
        check_npz_limits(path)
        try:
            with zipfile.ZipFile(path) as archive:
                names = {name.removesuffix(".npy") for name in archive.namelist()}
                key = next((name for name in ("x", "images") if name in names), None)
                if key is None:
                    raise UserInputError(f"'{path.name}' holds arrays {sorted(names)} but no images: name the image "
                                         "array 'x' or 'images'")
                with archive.open(f"{key}.npy") as member:
                    shape, dtype = npy_header(member, path.name, key)
            if len(shape) not in (3, 4) or dtype.kind not in "biuf":
                raise UserInputError(f"'{path.name}': images must be numbers of shape N x H x W (x C), got {shape}")
            with np.load(path, allow_pickle=False) as arrays:
                label_key = next((name for name in ("y", "labels") if name in arrays.files), None)
                labels = np.asarray(arrays[label_key]) if label_key else None
                flags = np.asarray(arrays["anomaly"]).astype(bool) if "anomaly" in arrays.files else None
        except (OSError, zipfile.BadZipFile, KeyError, ValueError, EOFError) as error:
            raise UserInputError(f"'{path.name}' is not a readable .npz file: it is corrupt or truncated") from error
        for name, values in (("labels", labels), ("anomaly flags", flags)):
            if values is not None and values.shape != (shape[0],):
                raise UserInputError(f"'{path.name}': {len(values)} {name} for {shape[0]} images; they must match")
        return key, shape, labels, flags

    def _read_images(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(images (n, H, W, C), their pixel digests (n, 16)) at ``positions``."""
        shard_of = np.searchsorted(self.offsets, positions, side="right") - 1
        images = np.empty((len(positions), *self.image_shape), dtype=np.float32)
        digests = np.empty((len(positions), DIGEST_BYTES), dtype=np.uint8)
        for shard in np.unique(shard_of):
            here = np.flatnonzero(shard_of == shard)
            raw, scale = self._shard(int(shard))
            rows = raw[positions[here] - self.offsets[shard]]
            digests[here] = digest_rows(rows)
            images[here] = convert_images(rows, self.shards[shard], scale, self.max_side)
        return images, digests

    def _shard(self, shard: int) -> tuple[np.ndarray, float]:
        """(raw image array, its pixel scale) of one shard; the last one read is kept."""
        if self._cached is None or self._cached[0] != shard:
            path = Path(self.origin) / self.shards[shard]
            with np.load(path, allow_pickle=False) as arrays:
                raw = np.asarray(arrays["x"] if "x" in arrays.files else arrays["images"])
            self._cached = (shard, raw, pixel_scale(raw, self.shards[shard]))
        return self._cached[1], self._cached[2]

    def ids_at(self, positions: np.ndarray) -> np.ndarray:
        shard_of = np.searchsorted(self.offsets, positions, side="right") - 1
        return np.array([f"{self.shards[s]}:{p - self.offsets[s]}" for s, p in zip(shard_of, positions)], dtype=str)

    def fingerprint(self) -> str:
        """A digest of the shards' paths, sizes and modification times, and the image count."""
        return _folder_fingerprint(Path(self.origin), self.shards, self.n_images)


class ImageFolder(FolderSource):
    """The image files under ``folder``, decoded when read."""

    def __init__(self, folder: Path, max_side: int = MAX_SIDE, seed: int = 0):
        folder = Path(folder)
        self.origin, self.name = str(folder.resolve()), folder.name
        self.files = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*")
                            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
                            and not any(part.startswith(".") for part in path.relative_to(folder).parts))
        if not self.files:
            raise UserInputError(f"'{folder.name}' contains no images (PNG, JPEG, BMP, GIF, TIFF or WebP) and no "
                                 ".npz files")
        self.n_images = len(self.files)
        check_image_count(self.n_images, f"'{folder.name}'", limit=None)
        self.mode, self.size = self._majority(folder, seed, max_side)
        self.image_shape = (self.size[1], self.size[0], 1 if self.mode == "L" else 3)
        self.labels, self.label_names = labels_from_folders(self.files)

    def _majority(self, folder: Path, seed: int, max_side: int) -> tuple[str, tuple[int, int]]:
        """The colour mode and (width, height) of most of a seeded sample of the files' headers."""
        sample = np.sort(np.random.default_rng(seed).permutation(self.n_images)[:HEADER_SAMPLE])
        opened = [open_image((folder / self.files[i]).read_bytes(), self.files[i], self.name) for i in sample]
        return majority_mode_and_size(opened, self.name, max_side)

    def _read_images(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(images (n, H, W, C), their pixel digests (n, 16)) at ``positions``."""
        images = np.empty((len(positions), *self.image_shape), dtype=np.float32)
        digests = np.empty((len(positions), DIGEST_BYTES), dtype=np.uint8)
        for row, position in enumerate(positions):
            relative = self.files[position]
            image = open_image((Path(self.origin) / relative).read_bytes(), relative, self.name)
            try:
                digests[row] = np.frombuffer(image_digest(image), dtype=np.uint8)  # as stored, before conversion
                images[row] = decode_to_array(image, self.mode, self.size)
            except (OSError, ValueError, SyntaxError) as error:
                raise UserInputError(f"'{self.name}': image '{relative}' could not be decoded ({error})") from error
        return images, digests

    def ids_at(self, positions: np.ndarray) -> np.ndarray:
        return np.array([self.files[p] for p in positions], dtype=str)

    def fingerprint(self) -> str:
        return _folder_fingerprint(Path(self.origin), self.files, self.n_images)


def open_folder(folder: Path, max_side: int = MAX_SIDE) -> FolderSource:
    """The source for a folder: its .npz shards, or else its image files."""
    folder = Path(folder)
    if any(True for path in folder.rglob("*.npz") if not any(p.startswith(".") for p in path.relative_to(folder).parts)):
        return ShardFolder(folder, max_side)
    return ImageFolder(folder, max_side)


def _converted_shape(shape: tuple, max_side: int) -> tuple[int, int, int]:
    """(H, W, C) an (H, W[, C]) array image becomes: one channel or three, scaled to ``max_side``."""
    height, width = shape[:2]
    channels = 1 if len(shape) == 2 or shape[2] == 1 else 3
    if max(height, width) > max_side:
        factor = max_side / max(height, width)
        height, width = max(MIN_SIDE, round(height * factor)), max(MIN_SIDE, round(width * factor))
    return int(height), int(width), channels


def _folder_fingerprint(folder: Path, files: list[str], n_images: int) -> str:
    digest = hashlib.sha256(f"{n_images}".encode())
    for relative in files:
        stat = (folder / relative).stat()
        digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()

