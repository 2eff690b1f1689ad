"""Engines run the pipeline's apply stage: chunks of images through a fitted pipeline.

An engine's ``apply(fitted, source, chunks, progress)`` yields ``(positions, results, seconds)``
for every chunk of positions: ``results`` as :meth:`~core.run.stages.FittedPipeline.apply` returns
them, ``seconds`` the time each step took. The results of a row depend on that row alone, so any
engine gives the same results (to float rounding: thread counts change summation order).

- no engine (:class:`LocalEngine`): chunks one after another in this process; Dask is not imported.
- :class:`DaskEngine`: chunks as tasks on a Dask cluster, a local one of N single-threaded
  worker processes (``--workers N``) or an existing one (``--scheduler ADDRESS``). Each worker
  loads the saved model once and reads its chunks' images itself when the source is on disk.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import numpy as np

from core.errors import UserInputError

# Worker processes of a local cluster: one thread each, and the numeric libraries told so, so that
# N workers use N cores instead of each spreading over all of them.
SINGLE_THREADED = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                          "NUMBA_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}


def engine_for(workers: int | None = None, scheduler: str | None = None):
    """The engine for the command line's flags: None (this process) without either."""
    if workers is not None and scheduler is not None:
        raise UserInputError("use --workers (a local cluster) or --scheduler (an existing one), not both")
    if workers is None and scheduler is None:
        return None
    if workers is not None and not 1 <= workers <= 256:
        raise UserInputError(f"--workers must be from 1 to 256, got {workers}")
    return DaskEngine(workers=workers, scheduler=scheduler)


def peak_rss_mb() -> float | None:
    """This process's peak resident memory so far, in MiB (None where the OS does not say).

    On Linux it is ``VmHWM`` of /proc/self/status: the peak of this program alone.
    ``getrusage``'s ``ru_maxrss`` is kept across ``fork`` and ``exec``, so a Dask worker spawned
    by a driver at 3 GB would report 3 GB whatever it used itself; it is the fallback elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class LocalEngine:
    """Chunks one after another in this process, with the model already in memory."""

    def worker_peak_rss_mb(self) -> list[float]:
        return []

    def apply(self, fitted, source, chunks: list[np.ndarray], progress) -> Iterator[tuple]:
        for done, positions in enumerate(chunks, 1):
            results, seconds = apply_chunk(fitted, source, positions)
            progress.chunk_done(done, len(chunks))
            yield positions, results, seconds

    def close(self) -> None:
        pass


def apply_chunk(fitted, source, positions: np.ndarray) -> tuple[dict, dict]:
    """(results, seconds per step) of the images of ``source`` at ``positions``: a task."""
    start = time.perf_counter()
    chunk = source.read(positions)
    seconds = {"read": time.perf_counter() - start}
    return fitted.apply(chunk.images, seconds, digests=chunk.digests), seconds


def _apply_on_worker(fitted, source, positions: np.ndarray) -> tuple[dict, dict]:
    """A Dask task: TensorFlow limited to the worker's threads before its first use, then the chunk."""
    _limit_tensorflow_threads()
    return apply_chunk(fitted, source, positions)


def _limit_tensorflow_threads() -> None:
    from distributed import get_worker

    from core import import_keras

    threads = max(1, int(get_worker().state.nthreads))
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    import sys

    if "tensorflow" not in sys.modules:
        import_keras()
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # the runtime started already: it keeps its threads
            pass


class DaskEngine:
    """Chunks as tasks on a Dask cluster: a local one of ``workers`` processes with one thread
    each, or the existing one at ``scheduler``."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None):
        for name in ("distributed", "distributed.worker", "distributed.nanny", "distributed.scheduler"):
            logging.getLogger(name).setLevel(logging.ERROR)
        self.workers, self.cluster, self.client = workers, None, None
        if scheduler is not None:  # said at once when it cannot be reached, before any training
            from distributed import Client

            try:
                self.client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as error:
                raise UserInputError(f"could not reach the Dask scheduler at {scheduler} ({type(error).__name__}); "
                                     "is it running?") from error

    def _connected(self):
        """The client, starting the local cluster on first use: after the fit, which keeps this
        process's own threads (starting a cluster sets OMP_NUM_THREADS and the like to 1 in the
        process that starts it, so they are put back)."""
        if self.client is None:
            from distributed import Client, LocalCluster

            saved = dict(os.environ)
            try:
                self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                            host="127.0.0.1", dashboard_address=None, env=SINGLE_THREADED,
                                            silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
            finally:
                os.environ.clear()
                os.environ.update(saved)
        return self.client

    def apply(self, fitted, source, chunks: list[np.ndarray], progress) -> Iterator[tuple]:
        from distributed import as_completed

        if not getattr(source, "on_disk", False):
            raise UserInputError("--workers and --scheduler need data the workers can read themselves: a folder "
                                 "of .npz shards or of images (see the README)")
        client = self._connected()
        fitted_on_workers = client.scatter(fitted, broadcast=True, hash=False)
        source_on_workers = client.scatter(source, broadcast=True, hash=False)
        futures = {client.submit(_apply_on_worker, fitted_on_workers, source_on_workers, positions,
                                      pure=False, priority=-index): index
                   for index, positions in enumerate(chunks)}
        for done, future in enumerate(as_completed(futures), 1):
            results, seconds = future.result()
            positions = chunks[futures[future]]
            future.release()
            progress.chunk_done(done, len(chunks))
            yield positions, results, seconds

    def worker_peak_rss_mb(self) -> list[float]:
        """Each worker process's peak resident memory so far, in MiB."""
        if self.client is None:
            return []
        return sorted(value for value in self.client.run(peak_rss_mb).values() if value is not None)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
