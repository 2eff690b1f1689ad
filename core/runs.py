"""Runs on disk: one folder per trained model, found again by a hash of its config and data.

A run folder holds ``model.keras``, ``embedding.npz`` (latent matrix, reconstruction error,
anomaly score and 2-D map of the analysed images) and ``run.json`` (config, history, timings and
the sha256 of the two other files). ``clusters/`` keeps each cluster count's labels, centres and
scores once computed, so a restarted app shows a stored run without clustering it again (and
without importing scikit-learn). Every file is written atomically and ``run.json`` last, so a
folder without a valid ``run.json``, or whose files do not match their recorded hashes, is treated
as missing and trained again: it never crashes a reader and never serves wrong results.

The cluster count and contamination are not part of the key: changing them never retrains.
A clustering file that cannot be read, or does not fit its run, is computed and written again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
import zipfile
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.data import ImageSet
from core.errors import UserInputError
from core.pipeline import (
    Embedding,
    RunConfig,
    RunResult,
    assemble,
    assign_clusters,
    embed,
    train_model,
    write_atomically,
)

if TYPE_CHECKING:  # imported where used: scikit-learn, which it needs, is slow to import
    from core.model import ConvAutoencoder

KEY_FIELDS = ("data", "train_data", "preset", "epochs", "batch_size", "seed", "method")
FORMAT_VERSION = 1
ARTIFACTS = ("model.keras", "embedding.npz")  # the files run.json records the sha256 of


def run_key(config: RunConfig, train_fingerprint: str, analysis_fingerprint: str) -> str:
    """A 16-hex-digit id for the trained part of a run: its model settings and both data sets."""
    fields = {name: getattr(config, name) for name in KEY_FIELDS}
    fields.pop("data"), fields.pop("train_data")  # the fingerprints identify the data, not its name
    text = json.dumps([FORMAT_VERSION, fields, train_fingerprint, analysis_fingerprint], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class RunStore:
    """Trained runs in a folder, each trained once per process even when asked for concurrently.

    Attributes:
        root: the runs folder.
        trainings: how many models this store has trained (a counter for tests and the UI).
    """

    def __init__(self, root):
        self.root = Path(root)
        self.trainings = 0
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()
        self._jobs: dict[str, TrainingJob] = {}

    def start(self, key: str, config: RunConfig, train_set: ImageSet, analysis_set: ImageSet) -> TrainingJob:
        """The background job training ``key``: the running or finished one, or a new one.

        A failed job is replaced by a new one, and so is a finished one whose run is no longer
        on disk intact (deleted or corrupted since): it trains again. Asking twice for one key
        trains it once.
        """
        with self._locks_guard:
            job = self._jobs.get(key)
            if job is None or job.progress.stage == "failed" or (not job.running and not self.has(key)):
                job = self._jobs[key] = TrainingJob(self, key, config, train_set, analysis_set)
            return job

    def job(self, key: str) -> TrainingJob | None:
        """The job started for ``key`` in this process, if any."""
        return self._jobs.get(key)

    def folder(self, key: str) -> Path:
        return self.root / key

    def has(self, key: str) -> bool:
        """True when a complete, uncorrupted run is on disk."""
        return self._read_record(key) is not None

    def record(self, key: str) -> dict:
        """The run.json content of a stored run (config, history, seconds, data names)."""
        record = self._read_record(key)
        if record is None:
            raise KeyError(key)
        return record

    def train(self, key: str, config: RunConfig, train_set: ImageSet, analysis_set: ImageSet,
              callbacks=None, on_stage=None) -> bool:
        """Train, embed and store the run unless it is stored already. Returns True if it trained.

        Concurrent calls for one key wait for the first; calls for different keys run in parallel.
        """
        with self._locks_guard:
            lock = self._locks[key]
        with lock:
            if self.has(key):
                return False
            start = time.perf_counter()
            model = train_model(config, train_set, callbacks=callbacks)
            train_seconds = round(time.perf_counter() - start, 3)
            embedding = embed(model, analysis_set, config, on_stage=on_stage, train_set=train_set)
            embedding.seconds = {"train": train_seconds, **embedding.seconds}
            self._save(key, config, model, embedding, train_set, analysis_set)
            self.trainings += 1
        if on_stage is not None:
            on_stage("cluster")
        # clusters at the run's k, kept on disk for the pages (and for later processes)
        self.result(key, config, analysis_set, train_set, stored=(embedding, {"history": model.history_}))
        return True

    def result(self, key: str, config: RunConfig, analysis_set: ImageSet, train_set: ImageSet,
               stored: tuple[Embedding, dict] | None = None) -> RunResult:
        """The stored run at the config's cluster count and contamination, with ``model`` None.

        ``stored``: its (embedding, record) when already in memory; None reads them. The clustering
        at that count (and seed) is read from the run folder, or computed and written there.
        Raises KeyError when the run is missing or corrupt.
        """
        embedding, record = self.load_embedding(key) if stored is None else stored
        kept = self._read_clustering(key, config.clusters, config.seed, len(embedding.latent))
        if kept is not None:
            clusters, centers, scores = kept
            return assemble(config, None, embedding, clusters, centers, analysis_set, train_set, embedding.seconds,
                            history=record["history"], scores=scores)
        clusters, centers = assign_clusters(embedding, config.clusters, config.seed)
        result = assemble(config, None, embedding, clusters, centers, analysis_set, train_set, embedding.seconds,
                          history=record["history"])
        scores = {name: result.metrics[name] for name in ("clustering", "anomaly") if name in result.metrics}
        self._write_clustering(key, config.clusters, config.seed, clusters, centers, scores)
        return result

    def load(self, key: str) -> tuple[ConvAutoencoder, Embedding, dict]:
        """(model, embedding, record) of a stored run. Raises KeyError when it is missing or corrupt."""
        embedding, record = self.load_embedding(key)
        return self.load_model(key), embedding, record

    def load_embedding(self, key: str) -> tuple[Embedding, dict]:
        """(embedding, record) of a stored run, without the model (so without importing TensorFlow).
        Raises KeyError when the run is missing or corrupt."""
        record = self.record(key)
        with self._reading(key), np.load(self.folder(key) / "embedding.npz", allow_pickle=False) as arrays:
            embedding = Embedding(**{name: arrays[name] for name in arrays.files}, seconds=record["seconds"])
        return embedding, record

    def load_model(self, key: str) -> ConvAutoencoder:
        """The fitted autoencoder of a stored run, with its training history."""
        record = self.record(key)
        with self._reading(key):
            from core.model import ConvAutoencoder

            model = ConvAutoencoder.load(self.folder(key) / "model.keras")
        model.history_ = record["history"]
        return model

    def _clustering_path(self, key: str, n_clusters: int, seed: int) -> Path:
        return self.folder(key) / "clusters" / f"k{int(n_clusters)}-seed{int(seed)}.npz"

    def _read_clustering(self, key: str, n_clusters: int, seed: int, n_images: int):
        """(clusters (N,), centres (k, d), scores) stored for this count and seed; None when absent,
        unreadable or not of this run's shape."""
        try:
            with np.load(self._clustering_path(key, n_clusters, seed), allow_pickle=False) as arrays:
                clusters, centers = arrays["clusters"].astype(int), arrays["centers"]
                scores = json.loads(str(arrays["scores"]))
            fits = (clusters.shape == (n_images,) and centers.shape[0] == n_clusters and
                    clusters.min() >= 0 and clusters.max() < n_clusters and isinstance(scores, dict))
            return (clusters, centers, scores) if fits else None
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
            return None

    def _write_clustering(self, key, n_clusters, seed, clusters, centers, scores) -> None:
        path = self._clustering_path(key, n_clusters, seed)
        try:
            path.parent.mkdir(exist_ok=True)
            arrays = {"clusters": np.asarray(clusters, dtype=np.int32), "centers": np.asarray(centers),
                      "scores": np.array(json.dumps(scores))}
            write_atomically(path, lambda temporary: _save_npz(temporary, arrays), suffix=".npz")
        except OSError:  # a read-only runs folder: the clustering is computed again next time
            logging.getLogger(__name__).warning("could not keep the clustering in %s", path)

    @contextmanager
    def _reading(self, key: str):
        try:
            yield
        except Exception as error:  # the files changed on disk after their hashes were checked
            raise UserInputError(f"the stored run {key} could not be read ({type(error).__name__}); "
                                 "press Run to compute it again") from error

    def _save(self, key, config, model, embedding, train_set, analysis_set) -> None:
        folder = self.folder(key)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / "model.keras", model.save, suffix=".keras")
        arrays = {f.name: getattr(embedding, f.name) for f in dataclasses.fields(embedding) if f.name != "seconds"}
        write_atomically(folder / "embedding.npz", lambda path: _save_npz(path, arrays), suffix=".npz")
        record = {
            "format": FORMAT_VERSION,
            "key": key,
            "config": config.to_dict(),
            "data": {"analysed": analysis_set.name, "trained_on": train_set.name,
                     "n_images": len(analysis_set), "n_train_images": len(train_set)},
            "history": model.history_,
            "seconds": embedding.seconds,
            "sha256": {name: _sha256(folder / name) for name in ARTIFACTS},
        }
        write_atomically(folder / "run.json", lambda path: Path(path).write_text(json.dumps(record, indent=2)))

    def _read_record(self, key: str) -> dict | None:
        folder = self.folder(key)
        try:
            record = json.loads((folder / "run.json").read_text())
            if record.get("format") != FORMAT_VERSION or record.get("key") != key:
                return None
            if set(record["sha256"]) != set(ARTIFACTS) or not {"config", "history", "seconds", "data"} <= set(record):
                return None
            for name, digest in record["sha256"].items():
                if _sha256(folder / name) != digest:
                    return None
            return record
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


def _save_npz(path, arrays: dict) -> None:
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Progress:
    """What a training job has done so far; written by its thread, read by pages.

    ``stage`` is "queued", "train", "encode", "anomaly", "map", "cluster", "done" or "failed". ``step`` counts
    gradient steps within the current epoch, of ``steps`` per epoch. ``history`` holds the finished
    epochs' mean loss and val_loss.
    """

    epochs: int
    stage: str = "queued"
    epoch: int = 0
    step: int = 0
    steps: int = 0
    history: dict = field(default_factory=lambda: {"loss": [], "val_loss": []})
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    error: str | None = None

    @property
    def fraction(self) -> float:
        """Share of training done, 0 to 1 (by epochs and steps)."""
        if self.stage in ("encode", "anomaly", "map", "cluster", "done"):
            return 1.0
        within = self.step / self.steps if self.steps else 0.0
        return min(1.0, (self.epoch + within) / max(self.epochs, 1))

    def seconds_left(self) -> float | None:
        """Estimated seconds of training left, from the pace so far; None before the first step."""
        elapsed = time.monotonic() - self.started
        if self.fraction <= 0 or self.stage != "train":
            return None
        return elapsed * (1 - self.fraction) / self.fraction


class TrainingJob:
    """One run trained in a background thread, so pages stay responsive while it trains."""

    def __init__(self, store: RunStore, key: str, config: RunConfig, train_set: ImageSet, analysis_set: ImageSet):
        self.key = key
        from core.model import ConvAutoencoder

        model = ConvAutoencoder(preset=config.preset, epochs=config.epochs, batch_size=config.batch_size)
        self.progress = Progress(epochs=model.resolved_epochs(len(train_set)))
        self._thread = threading.Thread(target=self._work, args=(store, config, train_set, analysis_set),
                                        name=f"train-{key}", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> Progress:
        self._thread.join(timeout)
        return self.progress

    def _work(self, store, config, train_set, analysis_set):
        progress = self.progress
        try:  # "queued" until the fit begins: fits take turns (see core.model)
            store.train(self.key, config, train_set, analysis_set, callbacks=[_progress_callback(progress)],
                        on_stage=lambda name: setattr(progress, "stage", name))
            progress.stage = "done"
        except Exception as error:  # reported on the page as one line; the store keeps earlier runs
            if not isinstance(error, UserInputError):
                logging.getLogger(__name__).exception("training run %s failed", self.key)
            progress.error = str(error) if isinstance(error, UserInputError) else f"{type(error).__name__}: {error}"
            progress.stage = "failed"
        finally:
            progress.finished = time.monotonic()


def _progress_callback(progress: Progress):
    """A Keras callback that records steps and per-epoch losses into ``progress``."""
    import keras

    class RecordProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            progress.stage, progress.started = "train", time.monotonic()
            progress.steps = int(self.params.get("steps") or 0)

        def on_epoch_begin(self, epoch, logs=None):
            progress.epoch, progress.step = epoch, 0

        def on_train_batch_end(self, batch, logs=None):
            progress.step = batch + 1

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            for name in ("loss", "val_loss"):
                if name in logs:
                    progress.history[name].append(float(logs[name]))
            progress.epoch, progress.step = epoch + 1, 0

    return RecordProgress()
