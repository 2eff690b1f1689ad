"""Settings read from the environment: the one module that reads ``LATENT_EXPLORER_*`` variables.

| variable | what | default |
| --- | --- | --- |
| ``LATENT_EXPLORER_RUNS`` | the app's runs folder | ``runs/`` beside app.py |
| ``LATENT_EXPLORER_PUBLIC`` | public mode (no local paths) when ``1``, ``true`` or ``yes`` | off |
| ``LATENT_EXPLORER_UPLOAD_DAYS`` | days an upload no stored run uses is kept | 7 |
| ``XDG_CACHE_HOME`` | where per-machine measurements are kept (``latent-explorer/``) | ``~/.cache`` |
"""

from __future__ import annotations

import os
from pathlib import Path

RUNS_DIR = "LATENT_EXPLORER_RUNS"
PUBLIC_MODE = "LATENT_EXPLORER_PUBLIC"
UPLOAD_DAYS = "LATENT_EXPLORER_UPLOAD_DAYS"
UPLOAD_KEEP_DAYS = 7.0


def runs_dir() -> Path:
    """The app's runs folder: $LATENT_EXPLORER_RUNS, else ``runs/`` beside app.py."""
    return Path(os.environ.get(RUNS_DIR) or Path(__file__).resolve().parents[1] / "runs")


def public_mode_from_environment() -> bool:
    """True when $LATENT_EXPLORER_PUBLIC says so (the app also reads Streamlit's secrets)."""
    return os.environ.get(PUBLIC_MODE, "").lower() in ("1", "true", "yes")


def upload_keep_days() -> float:
    """Days an upload no stored run uses is kept: $LATENT_EXPLORER_UPLOAD_DAYS, else 7."""
    try:
        return max(0.0, float(os.environ.get(UPLOAD_DAYS, UPLOAD_KEEP_DAYS)))
    except ValueError:
        return UPLOAD_KEEP_DAYS


def cache_dir() -> Path:
    """Where per-machine measurements are kept: $XDG_CACHE_HOME/latent-explorer, else ~/.cache/..."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "latent-explorer"
