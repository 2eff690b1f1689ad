"""Imports a run needs, done before the user presses Run.

A run in a fresh process would otherwise wait for TensorFlow, scikit-learn and umap-learn with its
compiled numba code (seconds each, tens of seconds for numba without its cache; docs/benchmarks.md)
before its first training step. Runs of the app happen in a worker process
(``core.run.jobs.RunQueue``): :func:`start` starts that process once the first page is drawn, and the
process runs :func:`import_everything` before its first run.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_started = False


def started() -> bool:
    """True once :func:`start` has been called in this process."""
    return _started


def start():
    """Start the app's worker process (and its imports) unless started before in this process;
    returns a future that is done when its imports are (None when started before)."""
    global _started
    with _lock:
        if _started:
            return None
        from core.run.jobs import QUEUE

        _started = True
        return QUEUE.warm_up()


def import_everything() -> None:
    """Import in the order a run needs them: the model (TensorFlow, Keras), then the analysis
    (scikit-learn), then UMAP's layout code, compiled or loaded from cache on 300 random points."""
    from core import import_keras
    from core.methods.layout import warm_up_numba

    import_keras()
    import sklearn.cluster  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.mixture  # noqa: F401
    import sklearn.neighbors  # noqa: F401

    import core.model.autoencoder  # noqa: F401

    warm_up_numba()
