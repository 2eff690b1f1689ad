"""Engines run the pipeline's apply stage: chunks of images through a fitted pipeline.

An engine's ``apply(fitted, source, chunks, progress)`` yields ``(positions, results, seconds)``
for every chunk of positions: ``results`` as :meth:`~core.run.stages.FittedPipeline.apply` returns
them, ``seconds`` the time each step took. The results of a row depend on that row alone, so any
engine gives the same results (to float rounding: thread counts change summation order).

- no engine (:class:`LocalEngine`): chunks one after another in this process; Dask is not imported.
- :class:`DaskEngine`: chunks as tasks on a Dask cluster, a local one of N single-threaded
  worker processes (``--workers N``) or an existing one (``--scheduler ADDRESS``). Each worker
  loads the saved model once and reads its chunks' images itself when the source is on disk.
  An existing cluster gets this project's code from the run itself (``core/`` as a zip, through
  Dask's ``Client.upload_file``: workers need only the requirements), and is checked before any
  fitting: workers that lack a package of ``requirements.txt``, or have another version of one,
  are named in one line (exit status 2 on the command line).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.errors import UserInputError

PROJECT = Path(__file__).resolve().parents[2]
REQUIREMENTS = PROJECT / "requirements.txt"
APP_ONLY = {"streamlit", "plotly"}  # the dashboard's packages: workers never import them
# What a worker needs when requirements.txt is not beside the code (an installed copy).
NEEDED = ("tensorflow", "keras", "scikit-learn", "umap-learn", "numba", "pynndescent", "pandas", "pillow", "numpy",
          "scipy", "dask", "distributed")

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


def pinned_packages(requirements: Path = REQUIREMENTS) -> list[str]:
    """The distribution names the run's workers need: those pinned in ``requirements`` (extras
    dropped, the dashboard's own left out), or ``NEEDED`` without the file."""
    try:
        lines = requirements.read_text().splitlines()
    except OSError:
        return list(NEEDED)
    names = [re.split(r"[\[=<>~! ;]", line.strip(), maxsplit=1)[0] for line in lines]
    names = [name.lower() for name in names if name and not name.startswith("#") and name.lower() not in APP_ONLY]
    return names + (["distributed"] if "dask" in names and "distributed" not in names else [])


def installed_versions(names: list[str]) -> dict[str, str | None]:
    """{distribution: its installed version, or None when it is not installed} (runs on workers too)."""
    from importlib import metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def version_problems(expected: dict[str, str | None], workers: dict[str, dict[str, str | None]]) -> list[str]:
    """What keeps ``workers`` ({address: installed_versions}) from running what this machine runs
    with ``expected`` versions: one phrase per worker, e.g. "tcp://h:1 lacks umap-learn and has
    numpy 1.26.4 (here 2.4.6)"."""
    problems = []
    for address, versions in sorted(workers.items()):
        missing = [name for name in expected if versions.get(name) is None]
        other = [f"{name} {versions[name]} (here {version})" for name, version in expected.items()
                 if version is not None and versions.get(name) not in (None, version)]
        said = ([f"lacks {', '.join(missing)}"] if missing else []) + ([f"has {', '.join(other)}"] if other else [])
        if said:
            problems.append(f"{address} " + " and ".join(said))
    return problems


def ship_code(client) -> None:
    """Send this project's ``core`` package to every worker of ``client``'s cluster (and to workers
    that join later), as a zip on their Python path: workers need only the requirements."""
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "latent_explorer_core.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as packed:
            for path in sorted((PROJECT / "core").rglob("*.py")):
                packed.write(path, path.relative_to(PROJECT).as_posix())
        client.upload_file(str(archive), load=True)


def check_workers(client, address: str, timeout: float = 60) -> None:
    """UserInputError, in one line, unless the cluster at ``address`` has a worker and every worker
    can import this project's code with the versions of the pinned packages this machine has."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as error:
        raise UserInputError(f"the Dask scheduler at {address} has no workers (none joined in {timeout:.0f} s); "
                             "start some with `dask worker " + address + "`") from error
    names = pinned_packages()
    try:
        ship_code(client)
        found = client.run(installed_versions, names)
    except Exception as error:  # a worker that cannot even import the code it was sent
        raise UserInputError(f"the Dask workers at {address} cannot import this project's code "
                             f"({type(error).__name__}: {error}); install requirements.txt there") from error
    problems = version_problems(installed_versions(names), found)
    if problems:
        raise UserInputError(f"the Dask workers at {address} cannot run this: " + "; ".join(problems)
                             + "; install requirements.txt there (the versions this machine has)")


class DaskEngine:
    """Chunks as tasks on a Dask cluster: a local one of ``workers`` processes with one thread
    each, or the existing one at ``scheduler`` (sent this project's code and checked at once,
    before any training: :func:`check_workers`)."""

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
            try:
                check_workers(self.client, scheduler)
            except UserInputError:
                self.client.close()
                raise

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
