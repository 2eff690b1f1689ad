"""Runs on disk, found again by a hash of their config and data, and trained in a worker process.

Each run is a run folder (``core.pipeline.save_run``: results, metrics, model, embedding,
comparison, and ``run.json`` last with the sha256 of the others) under the runs folder, named by
:func:`run_key`. A folder without a valid ``run.json``, or whose files do not match their recorded
hashes, is treated as missing and trained again: it never crashes a reader, never serves wrong
results. Reading a run writes nothing but derived caches: ``clusters/`` keeps each other cluster
count's clustering once computed (atomically; an unreadable one is computed again).

The app trains in a worker process (:class:`RunQueue`), never in the server's own: the server stays
responsive, Keras' process-wide state is the worker's alone, and a run's progress reaches the
pages through ``progress.json`` in its folder. Runs take turns in that one worker (several at
once would share 2 cores and the memory), and two sessions asking for the same run share it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections import defaultdict
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import analysis, uploads
from core.comparison import compare_clusterers
from core.data import ImageSet, load_train_and_analysis_sets
from core.errors import UserInputError
from core.files import write_npz, write_text
from core.methods import CLUSTERERS, stack_inputs, without_training
from core.pipeline import FORMAT_VERSION, RunConfig, RunResult, evaluate, read_record, read_run, run_pipeline, save_run
from core.progress import Progress

KEY_FIELDS = ("preset", "epochs", "batch_size", "seed", "method", "fit_sample")
PROGRESS_FILE = "progress.json"
BASELINES = "baselines"


def run_key(config: RunConfig, train_fingerprint: str, analysis_fingerprint: str) -> str:
    """A 16-hex-digit id for the trained part of a run: its model settings and both data sets.

    The cluster count and contamination are not part of it: changing them never retrains."""
    fields = {name: getattr(config, name) for name in KEY_FIELDS}
    fields["method"] = config.resolved_method()
    text = json.dumps([FORMAT_VERSION, fields, train_fingerprint, analysis_fingerprint], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class RunStore:
    """Runs in a folder, each trained once even when asked for concurrently.

    Attributes:
        root: the runs folder.
        trainings: how many runs this store has trained (a counter for tests and the UI).
    """

    def __init__(self, root):
        self.root = Path(root)
        self.trainings = 0
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()
        self._jobs: dict[str, TrainingJob] = {}

    def folder(self, key: str) -> Path:
        return self.root / key

    def has(self, key: str) -> bool:
        """True when a complete, uncorrupted run is on disk."""
        return read_record(self.folder(key), key) is not None

    def record(self, key: str) -> dict:
        """The run.json content of a stored run (config, history, seconds, data)."""
        record = read_record(self.folder(key), key)
        if record is None:
            raise KeyError(key)
        return record

    # --- training ------------------------------------------------------------------------------

    def train(self, key: str, config: RunConfig, train_set: ImageSet, analysis_set: ImageSet,
              progress: Progress | None = None) -> bool:
        """Run the pipeline in this process and store the run, unless it is stored already.
        Returns True if it trained. Concurrent calls for one key wait for the first."""
        with self._locks_guard:
            lock = self._locks[key]
        with lock:
            if self.has(key):
                return False
            result = run_pipeline(config, train_set, analysis_set, progress=progress,
                                  baselines=self.root / BASELINES)
            progress = progress or Progress()
            with progress.run_stage("write"):
                save_run(result, self.folder(key), key)
            self.trainings += 1
            return True

    def start(self, key: str, config: RunConfig) -> TrainingJob:
        """The job training ``key`` in the worker process: the running one, or a new one. A failed
        or finished job whose run is not on disk intact is replaced: it trains again."""
        with self._locks_guard:
            job = self._jobs.get(key)
            if job is None or (not job.running and (job.failed or not self.has(key))):
                job = self._jobs[key] = TrainingJob(self, key, config)
            return job

    def job(self, key: str) -> TrainingJob | None:
        """The job started for ``key`` by this store, if any."""
        return self._jobs.get(key)

    def running_jobs(self) -> list[TrainingJob]:
        """The jobs queued or training now, oldest first."""
        return [job for job in list(self._jobs.values()) if job.running]

    # --- reading -----------------------------------------------------------------------------------

    def read(self, key: str) -> RunResult:
        """The stored run as it was written (its own cluster count), without the model."""
        return read_run(self.folder(key), self.record(key))

    def result(self, key: str, config: RunConfig, analysis_set: ImageSet, stored: RunResult | None = None
               ) -> RunResult:
        """The stored run at ``config``'s cluster count and contamination, ``model`` None.

        ``stored``: the run as read by :meth:`read`, when already in memory. Another cluster count
        than the run's is clustered by the run's clusterer, fitted on the fit sample's features and
        applied to every image, and kept in ``clusters/`` for later processes."""
        stored = stored or self.read(key)
        table, comparison = stored.table, stored.comparison
        metrics = {**stored.metrics, "config": {**stored.metrics["config"], "clusters": config.clusters,
                                                "contamination": config.contamination}}
        metrics["anomaly_threshold"] = analysis.anomaly_threshold(table["anomaly_score"].to_numpy(),
                                                                  config.contamination)
        if config.clusters != stored.config.clusters:  # the scores stay; the clusters and their metrics change
            clusters, compared = self._clustering(key, config, stored, analysis_set)
            table, comparison = table.assign(cluster=clusters), comparison.assign(**compared)
            for name in ("clustering", "anomaly", "comparison"):
                metrics.pop(name, None)
            metrics.update(evaluate(analysis_set, table, comparison))
            entry = CLUSTERERS[stored.metrics["model"]["clusterer"]]
            if entry.base:  # what _clustering used instead
                metrics["model"] = {**metrics["model"], "clusterer": entry.base,
                                    "note": f"at k = {config.clusters} the clusters come from {entry.base}; "
                                            f"{entry.name} trains its network with the run, at its own k"}
        return RunResult(config=config, model=None, table=table, latent=stored.latent, manifold=stored.manifold,
                         sample=stored.sample, comparison=comparison, pixel_manifold=stored.pixel_manifold,
                         metrics=metrics)

    def load_model(self, key: str):
        """The fitted autoencoder of a stored run, with its training history."""
        from core.model import Autoencoder

        record = self.record(key)
        model = Autoencoder.load(self.folder(key) / "model.keras")
        model.history_ = record["history"]
        return model

    def _clustering(self, key: str, config: RunConfig, stored: RunResult, analysis_set: ImageSet):
        """(clusters (N,), {comparison column: clusters of the compared images}) at ``config.clusters``."""
        path = self.folder(key) / "clusters" / f"k{int(config.clusters)}.npz"
        kept = _read_clustering(path, len(stored.table), len(stored.comparison), config.clusters)
        if kept is not None:
            return kept
        features = {"latent": stored.latent, "manifold": stored.manifold}
        entry = without_training(CLUSTERERS[stored.metrics["model"]["clusterer"]])  # none in the app's server
        sample = stored.sample
        clusterer = entry.make(n_clusters=config.clusters, seed=stored.config.seed)
        clusterer.fit(stack_inputs(entry, {name: values[sample] for name, values in features.items()}))
        clusters = np.empty(len(stored.table), dtype=np.int64)
        clusters[sample] = clusterer.labels_
        rest = np.setdiff1d(np.arange(len(clusters)), sample)
        for start in range(0, len(rest), 100_000):
            positions = rest[start:start + 100_000]
            clusters[positions] = clusterer.predict(stack_inputs(entry, {n: v[positions] for n, v in features.items()}))
        compared = compare_clusterers(stored, analysis_set, config.clusters)
        try:
            path.parent.mkdir(exist_ok=True)
            write_npz(path, {"clusters": clusters, "names": np.array(list(compared)),
                             "compared": np.stack(list(compared.values()), axis=1)})
        except OSError:  # a read-only runs folder: computed again next time
            logging.getLogger(__name__).warning("could not keep the clustering in %s", path)
        return clusters, compared

    # --- listing and deleting ----------------------------------------------------------------------

    def runs(self) -> list[dict]:
        """Every run folder with a run.json, newest first: its record plus ``key``, ``bytes`` on disk
        and ``created`` (seconds since the epoch). Read without checking the artifacts' hashes (that
        happens when a run is opened), so listing stays fast whatever the runs' sizes."""
        found = []
        for folder in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            try:
                record = json.loads((folder / "run.json").read_text())
                if record.get("format") != FORMAT_VERSION or record.get("key") != folder.name:
                    continue
                size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
                found.append({**record, "bytes": size, "created": (folder / "run.json").stat().st_mtime})
            except (OSError, ValueError, AttributeError):
                continue
        return sorted(found, key=lambda run: -run["created"])

    def adopt(self, folder: Path, key: str) -> None:
        """Copy a complete run folder made elsewhere (``python -m core run --out``) into the store as
        run ``key``; its artifacts are checked first. UserInputError when it is not a complete run."""
        folder = Path(folder).expanduser()
        record = read_record(folder)
        if record is None:
            raise UserInputError(f"'{folder}' holds no complete run: its run.json is missing or its files changed")
        if self.has(key):
            return
        target = self.folder(key)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder, target, ignore=shutil.ignore_patterns("run.json", "clusters", PROGRESS_FILE))
        write_text(target / "run.json", json.dumps({**record, "key": key}, indent=2))

    def delete(self, key: str) -> None:
        """Remove a stored run and its labels; refused while it trains."""
        job = self._jobs.get(key)
        if job is not None and job.running:
            raise UserInputError("this run is still training; wait for it to end before deleting it")
        if not (len(key) == 16 and all(c in "0123456789abcdef" for c in key)):
            raise UserInputError(f"'{key}' is not a run")
        shutil.rmtree(self.folder(key), ignore_errors=True)
        self._jobs.pop(key, None)

    def remove_unused_uploads(self, keep_days: float = uploads.KEEP_DAYS) -> list[str]:
        """Remove uploads older than ``keep_days`` that no run here was made from (see core.uploads)."""
        used = {uploads.key_of(Path(str(path))) for run in self.runs()
                for path in (run["config"].get("data"), run["config"].get("train_data")) if path}
        used |= {uploads.key_of(Path(str(job.config.data))) for job in self._jobs.values() if job.running}
        return uploads.remove_unused(self.root, used - {None}, keep_days)


def _read_clustering(path: Path, n_images: int, n_compared: int, n_clusters: int):
    try:
        with np.load(path, allow_pickle=False) as arrays:
            clusters, names, compared = arrays["clusters"], arrays["names"], arrays["compared"]
        fits = (clusters.shape == (n_images,) and compared.shape == (n_compared, len(names))
                and clusters.min() >= 0 and clusters.max() < n_clusters)
        return (clusters, {str(name): compared[:, i] for i, name in enumerate(names)}) if fits else None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None


# --- training in a worker process ------------------------------------------------------------------


@dataclass
class TrainingJob:
    """One run trained by the worker process; its progress is read from the run folder."""

    store: RunStore
    key: str
    config: RunConfig

    def __post_init__(self):
        self.folder = self.store.folder(self.key)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / PROGRESS_FILE).unlink(missing_ok=True)
        self.future: Future = QUEUE.submit(str(self.store.root), self.key, self.config)
        self.future.add_done_callback(self._count)
        self._cached: tuple[float, Progress] | None = None

    def _count(self, future: Future) -> None:
        if not future.cancelled() and future.exception() is None and future.result():
            self.store.trainings += 1

    @property
    def running(self) -> bool:
        return not self.future.done()

    @property
    def failed(self) -> bool:
        return self.future.done() and self.error is not None

    @property
    def error(self) -> str | None:
        """One line when the run failed: the user's mistake as said, anything else with its type."""
        if not self.future.done():
            return None
        error = self.future.exception()
        if error is None:
            return None
        if isinstance(error, UserInputError):
            return str(error)
        if isinstance(error, WorkerStopped):
            return f"the training process stopped unexpectedly ({error}; out of memory?); press Run to try again"
        return str(error)

    @property
    def progress(self) -> Progress:
        """The run's progress as its worker last wrote it ("queued" before it starts)."""
        path = self.folder / PROGRESS_FILE
        try:
            changed = path.stat().st_mtime
            if self._cached is None or self._cached[0] != changed:
                self._cached = (changed, Progress.from_dict(json.loads(path.read_text())))
            progress = self._cached[1]
        except (OSError, ValueError, TypeError):
            progress = Progress()
        if self.future.done():
            progress.finish(self.error)
        return progress

    def wait(self, timeout: float | None = None) -> Progress:
        with contextlib.suppress(TimeoutError):
            self.future.exception(timeout=timeout)
        return self.progress


def train_in_worker(root: str, key: str, config: RunConfig) -> bool:
    """In the worker process: load the config's data, run and store it, writing progress.json as it
    goes. Returns True if it trained (False: it was stored already)."""
    store = RunStore(root)
    if store.has(key):
        return False
    folder = store.folder(key)
    folder.mkdir(parents=True, exist_ok=True)
    progress = Progress()
    progress.listen(ProgressFile(folder / PROGRESS_FILE))
    try:
        train_set, analysis_set = load_train_and_analysis_sets(config.data, config.train_data)
        return store.train(key, config, train_set, analysis_set, progress=progress)
    except Exception as error:
        progress.finish(str(error) if isinstance(error, UserInputError) else f"{type(error).__name__}: {error}")
        raise


class ProgressFile:
    """A progress listener that keeps ``path`` up to date (atomically; at most every 0.3 s, except
    at stage changes and the end)."""

    def __init__(self, path: Path, interval: float = 0.3):
        self.path, self.interval, self.written = Path(path), interval, 0.0

    def __call__(self, progress: Progress, event: str) -> None:
        now = time.monotonic()
        if event in ("stage", "end", "plan", "epoch") or now - self.written >= self.interval:
            write_text(self.path, progress.to_json())
            self.written = now


class WorkerStopped(RuntimeError):
    """The worker process ended during a run (killed, or out of memory)."""


class RunQueue:
    """The app's worker process (``python -m core.worker``), fed one run at a time.

    Runs wait their turn in a queue; a thread hands each to the worker over its stdin and reads
    the answer from its stdout. The process starts on first use (or :meth:`warm_up`) and again
    after it died. A plain subprocess rather than multiprocessing, so nothing depends on how the
    app's own main module can be imported again.
    """

    def __init__(self):
        self._requests: queue.Queue = queue.Queue()
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, root: str, key: str, config: RunConfig) -> Future:
        """Queue the run ``key`` of ``config`` into runs folder ``root``; the future's result is True
        when it trained (False: it was stored already)."""
        future: Future = Future()
        self._requests.put((future, {"root": root, "key": key, "config": config.to_dict()}))
        self._serve_in_background()
        return future

    def warm_up(self) -> Future:
        """Start the worker process now, so that its imports are done before the first Run; the
        future is done once they are."""
        future: Future = Future()
        self._requests.put((future, {"ping": True}))
        self._serve_in_background()
        return future

    def _serve_in_background(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="run-queue", daemon=True)
                self._thread.start()

    def _started_process(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen([sys.executable, "-m", "core.worker"], cwd=Path(__file__).parents[1],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        return self._process

    def _serve(self) -> None:
        while True:
            future, request = self._requests.get()
            if not future.set_running_or_notify_cancel():
                continue
            with self._lock:
                process = self._started_process()
            try:
                process.stdin.write(json.dumps(request) + "\n")
                process.stdin.flush()
                answer = process.stdout.readline()
            except OSError:
                answer = ""
            if not answer:
                process.wait()
                future.set_exception(WorkerStopped(f"exit status {process.returncode}"))
                continue
            answer = json.loads(answer)
            if "error" not in answer:
                future.set_result(answer["trained"])
            elif answer.get("user_error"):
                future.set_exception(UserInputError(answer["error"]))
            else:
                future.set_exception(RuntimeError(answer["error"]))


QUEUE = RunQueue()
