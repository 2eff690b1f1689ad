"""Files users upload to the app, kept in the runs folder so that their runs survive a restart.

Each upload is kept as ``uploads/<key>/<its own file name>``: ``key`` is the first 20 hex digits of
its sha256 (what a link names), and the file keeps the name the user gave it, so pages, errors and
the runs list speak of "holiday photos.zip", never of a hash. Uploads that no stored run uses are
removed after ``keep_days`` (:func:`remove_unused`).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from pathlib import Path

from core.files import write_atomically
from core.settings import UPLOAD_KEEP_DAYS

FOLDER = "uploads"
KEY = re.compile(r"^[0-9a-f]{20}$")
KEEP_DAYS = UPLOAD_KEEP_DAYS


def save(runs_root: Path, name: str, data: bytes) -> Path:
    """Keep ``data`` under its content hash with the user's file ``name``; returns its path."""
    key = hashlib.sha256(data).hexdigest()[:20]
    folder = Path(runs_root) / FOLDER / key
    path = folder / safe_name(name)
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda temporary: Path(temporary).write_bytes(data), suffix=path.suffix)
    return path


def safe_name(name: str) -> str:
    """The upload's own file name, without folders or characters a file system refuses."""
    base = re.sub(r"[\x00-\x1f/\\:*?\"<>|]", "_", str(name).replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return base[:120] or "upload"


def find(runs_root: Path, key: str) -> Path | None:
    """The upload kept under ``key`` (a link's ``upload:<key>``), or None."""
    if not KEY.match(key):
        return None
    folder = Path(runs_root) / FOLDER / key
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    return next((path for path in files if path.is_file() and not path.name.startswith(".")), None)


def key_of(path: Path) -> str | None:
    """The key of an upload path kept by :func:`save`, or None for other paths."""
    folder = Path(path).parent
    return folder.name if KEY.match(folder.name) and folder.parent.name == FOLDER else None


def remove_unused(runs_root: Path, used: set[str], keep_days: float = KEEP_DAYS) -> list[str]:
    """Remove uploads older than ``keep_days`` whose key is not in ``used`` (the uploads stored runs
    were made from); returns the removed keys."""
    root = Path(runs_root) / FOLDER
    cutoff, removed = time.time() - keep_days * 86400, []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.is_dir() and KEY.match(folder.name) and folder.name not in used and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed
