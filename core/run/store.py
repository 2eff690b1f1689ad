"""Runs on disk, found again by a hash of their config and data, each trained once.

Each run is a run folder (``core.run.folder``) under the runs folder, named by :func:`run_key`. A
folder without a valid ``run.json``, or whose files do not match their recorded hashes, is treated
as missing and trained again: it never crashes a reader, never serves wrong results. Reading a run
writes nothing but derived caches: ``clusters/`` keeps each other cluster count's clustering once
computed (atomically; an unreadable one is computed again). The app's runs train in the worker
process (``core.run.jobs``); :meth:`RunStore.start` hands them to it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import threading
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from core.data.images import ImageSet
from core.errors import UserInputError
from core.files import write_npz, write_text
from core.methods.checks import anomaly_threshold
from core.methods.registry import CLUSTERERS, stack_inputs, without_training
from core.run import uploads
from core.run.comparison import compare_clusterers
from core.run.config import RunConfig
from core.run.folder import FORMAT_VERSION, read_record, read_run, save_run
from core.run.jobs import PROGRESS_FILE, TrainingJob
from core.run.progress import Progress
from core.run.results import ModelSummary, RunResult, evaluate
from core.run.stages import run_pipeline

KEY_FIELDS = ("preset", "epochs", "batch_size", "seed", "method", "fit_sample")


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
        metrics["anomaly_threshold"] = anomaly_threshold(table["anomaly_score"].to_numpy(),
                                                                  config.contamination)
        if config.clusters != stored.config.clusters:  # the scores stay; the clusters and their metrics change
            clusters, compared = self._clustering(key, config, stored, analysis_set)
            table, comparison = table.assign(cluster=clusters), comparison.assign(**compared)
            for name in ("clustering", "anomaly", "comparison"):
                metrics.pop(name, None)
            metrics.update(evaluate(analysis_set, table, comparison))
            summary = ModelSummary.from_metrics(stored.metrics)
            entry = CLUSTERERS[summary.clusterer]
            if entry.base:  # what _clustering used instead
                metrics["model"] = dataclasses.replace(
                    summary, clusterer=entry.base, note=f"at k = {config.clusters} the clusters come from "
                                                        f"{entry.base}; {entry.name} trains its network with the "
                                                        "run, at its own k").to_dict()
        return RunResult(config=config, model=None, table=table, latent=stored.latent, manifold=stored.manifold,
                         sample=stored.sample, comparison=comparison, pixel_manifold=stored.pixel_manifold,
                         representation=stored.representation, metrics=metrics, duplicates=stored.duplicates)

    def load_model(self, key: str):
        """The fitted autoencoder of a stored run, with its training history."""
        from core.model.autoencoder import Autoencoder

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
        entry = without_training(CLUSTERERS[ModelSummary.from_metrics(stored.metrics).clusterer])  # no network here
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

