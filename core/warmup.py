"""Background imports: what the first Run needs, loaded while a user looks at the first page.

A Run on a fresh process would otherwise wait for TensorFlow (about 6 s on 2 cores), scikit-learn
(about 2 s) and umap-learn with its compiled numba code (2-3 s from numba's cache, tens of seconds
without it) before its first training step. :func:`start` loads them once per process in a daemon
thread; the app calls it after a script run has drawn its page, and only when the selected settings
have no stored run yet (a stored run is shown without any of them, see core/runs.py).
"""

from __future__ import annotations

import threading

THREAD_NAME = "warm-up"

_lock = threading.Lock()
_thread: threading.Thread | None = None


def started() -> bool:
    """True once :func:`start` has been called in this process."""
    return _thread is not None


def start() -> threading.Thread:
    """Start the warm-up thread unless it was started before in this process; returns it."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_warm_up, name=THREAD_NAME, daemon=True)
            _thread.start()
        return _thread


def _warm_up() -> None:
    """Import in the order a run needs them: the model (TensorFlow, Keras), then the analysis
    (scikit-learn), then UMAP's layout code, compiled or loaded from cache on 300 random points."""
    import keras  # noqa: F401
    import sklearn.mixture  # noqa: F401
    import sklearn.neighbors  # noqa: F401

    import core.model  # noqa: F401
    from core import analysis

    analysis.warm_up_numba()
