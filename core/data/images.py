"""The one shape every source ends in: :class:`ImageSet`, and the :class:`ImageSource` protocol.

Every source ends as float32 images of shape (N, H, W, C) with values in [0, 1], C = 1 (grey) or
3 (colour), optional integer labels of shape (N,), and one stable string id per image (the file's
path inside the archive or folder, else the image's index). Sources held in memory are an
:class:`ImageSet`; folders read in batches (``core.data.folders``) are other sources (:class:`ImageSource`),
whose :meth:`~ImageSource.read` returns an :class:`ImageSet` of the images at given positions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from core.errors import UserInputError


class ImageSource(Protocol):
    """What the pipeline needs of a collection of images, whether held in memory or read from disk.

    Attributes: ``name``, ``image_shape`` (H, W, C), ``labels`` (N,) int64 or None, ``label_names``,
    ``anomaly_flags`` (N,) bool or None, ``ids`` (N,) str, ``origin`` (the zip file or folder the
    ids are paths in, or None), ``on_disk`` (True when workers can read the images themselves).
    """

    name: str
    labels: np.ndarray | None
    label_names: tuple[str, ...] | None
    anomaly_flags: np.ndarray | None
    origin: str | None
    on_disk: bool

    def __len__(self) -> int: ...

    @property
    def image_shape(self) -> tuple[int, int, int]: ...

    @property
    def ids(self) -> np.ndarray: ...

    def read(self, positions) -> ImageSet: ...

    def label_text(self) -> np.ndarray | None: ...

    def label_values(self) -> np.ndarray | None: ...

    def fingerprint(self) -> str: ...


def label_text(labels: np.ndarray | None, label_names: tuple[str, ...] | None) -> np.ndarray | None:
    """(N,) str: each image's label name (or number), or None without labels."""
    if labels is None:
        return None
    if label_names is None:
        return labels.astype(str)
    return np.asarray(label_names, dtype=str)[labels]


def label_values(labels: np.ndarray | None, label_names: tuple[str, ...] | None) -> np.ndarray | None:
    """(N,) labels as the source gave them: names (folder names, strings in an npz) where it had
    names, else the integers; None without labels."""
    if labels is None:
        return None
    return labels if label_names is None else label_text(labels, label_names)


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
            or None for arrays: where ``core.data.originals.original_image`` finds an image's own file.
        digests: uint8 array (N, 16) or None: each image's pixel digest, taken where it was decoded,
            at its own resolution (``core.similar.digests``); equal digests are exact copies.
    """

    images: np.ndarray
    labels: np.ndarray | None
    ids: np.ndarray
    name: str
    label_names: tuple[str, ...] | None = None
    anomaly_flags: np.ndarray | None = None
    origin: str | None = None
    digests: np.ndarray | None = None
    on_disk: ClassVar[bool] = False  # held in memory: workers cannot read it themselves

    def __post_init__(self):
        if self.images.ndim != 4 or self.images.dtype != np.float32:
            raise ValueError(f"images must be float32 (N, H, W, C), got {self.images.dtype} {self.images.shape}")
        if self.labels is not None and self.labels.shape != (len(self.images),):
            raise ValueError("labels must have shape (N,)")
        if self.ids.shape != (len(self.images),):
            raise ValueError("ids must have shape (N,)")
        if self.anomaly_flags is not None and self.anomaly_flags.shape != (len(self.images),):
            raise ValueError("anomaly_flags must have shape (N,)")
        if self.digests is not None and self.digests.shape[0] != len(self.images):
            raise ValueError("digests must have one row per image")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one image."""
        return tuple(self.images.shape[1:])

    def label_text(self) -> np.ndarray | None:
        """(N,) str: each image's label name (or number), or None without labels."""
        return label_text(self.labels, self.label_names)

    def label_values(self) -> np.ndarray | None:
        """(N,) labels as the source gave them (names where it had names), or None."""
        return label_values(self.labels, self.label_names)

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
            digests=None if self.digests is None else self.digests[index],
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
    digests = None
    if first.digests is not None and second.digests is not None:
        digests = np.concatenate([first.digests, second.digests])
    return ImageSet(
        images=np.concatenate([first.images, second.images]),
        labels=labels,
        ids=np.concatenate([first.ids, second.ids]),
        name=name or f"{first.name} + {second.name}",
        anomaly_flags=flags,
        digests=digests,
    )


def _flags_or_false(image_set: ImageSet) -> np.ndarray:
    if image_set.anomaly_flags is None:
        return np.zeros(len(image_set), dtype=bool)
    return image_set.anomaly_flags



def index_ids(n_images: int) -> np.ndarray:
    return np.arange(n_images).astype(str)

