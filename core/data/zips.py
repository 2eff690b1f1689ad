"""A ``.zip`` of images -> one ImageSet, read in memory (never extracted), members checked for path
traversal and decompressed size."""

from __future__ import annotations

import dataclasses
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from core.data.decode import IMAGE_SUFFIXES, decode_to_array, labels_from_folders, majority_mode_and_size, open_image
from core.data.images import ImageSet
from core.data.limits import MAX_DECOMPRESSED_BYTES, MAX_SIDE, MIN_IMAGES, check_image_count
from core.errors import UserInputError
from core.similar.digests import as_rows, image_digest


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
            image_set = from_image_files(members, path.name, max_side=max_side)
            return dataclasses.replace(image_set, origin=str(path.resolve()))
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
            raise UserInputError(f"'{path.name}' is corrupt: a member could not be decompressed ({error})") from error


def _check_member_name(name: str, archive_name: str) -> None:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
        raise UserInputError(f"'{archive_name}' has a member '{name}' that points outside the archive; refused")


def from_image_files(members, name: str, *, max_side: int) -> ImageSet:
    """Decode (relative path, read-bytes function) pairs into one ImageSet by the mixed-image rule."""

    if not members:
        raise UserInputError(
            f"'{name}' contains no images (PNG, JPEG, BMP, GIF, TIFF or WebP); nested archives are not opened"
        )
    if len(members) >= MIN_IMAGES:
        check_image_count(len(members), f"'{name}'")
    opened = []
    for relative_path, read in members:  # a lone image over the pixel limit is refused for that, not its count
        opened.append((relative_path, open_image(read(), relative_path, name)))
    check_image_count(len(members), f"'{name}'")
    mode, (width, height) = majority_mode_and_size([image for _, image in opened], name, max_side)
    arrays, digests = [], []
    for relative_path, image in opened:
        try:
            digests.append(image_digest(image))  # the pixels as stored, before any conversion
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
        digests=as_rows(digests),
    )

