"""An image's own file, at its own resolution, from the zip or folder it was read from."""

from __future__ import annotations

import zipfile
from pathlib import Path


def original_image(image_set, index: int, max_bytes: int = 50 * 2**20) -> bytes | None:
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

