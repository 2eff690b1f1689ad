"""Files written so that a reader never sees half of one: write to a temporary file, then rename."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def write_atomically(target: Path, write: Callable[[str], object], suffix: str = ".tmp") -> None:
    """Write with ``write(temporary_path)`` in the target's folder, then rename over the target."""
    target = Path(target)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=suffix)
    os.close(handle)
    try:
        write(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text(target: Path, text: str) -> None:
    """``text`` into ``target``, atomically."""
    write_atomically(target, lambda path: Path(path).write_text(text))


def write_npz(target: Path, arrays: dict[str, np.ndarray]) -> None:
    """Numeric arrays into an uncompressed ``.npz``, atomically (read back with ``allow_pickle=False``)."""

    def write(path):
        with open(path, "wb") as file:
            np.savez(file, **arrays)

    write_atomically(target, write, suffix=".npz")


def sha256(path: Path) -> str:
    """The file's sha256 hex digest, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
