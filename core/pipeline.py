"""One run: a config in, results out.

Data flows one way: source -> ImageSet -> fitted autoencoder -> latent matrix -> clusters,
anomaly scores and a 2-D map -> a results table. ``run_pipeline`` does it all; ``save_run``
writes ``results.csv``, ``metrics.json`` and ``model.keras`` into a folder, each atomically.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core import analysis
from core.data import ImageSet, load_train_and_analysis_sets
from core.model import ConvAutoencoder

RESULT_COLUMNS = ["index", "cluster", "anomaly_score", "reconstruction_error", "map_x", "map_y"]


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's results. Same config and data, same results.

    ``epochs`` and ``batch_size`` of None take the preset's values. ``contamination`` is the
    expected share of anomalies; it sets the flagging threshold, not the scores.
    """

    data: str = "digits"
    train_data: str | None = None
    preset: str = "default"
    epochs: int | None = None
    batch_size: int | None = None
    clusters: int = 10
    contamination: float = 0.01
    seed: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        config: the run's config.
        model: the fitted autoencoder.
        table: one row per analysed image, in input order, with ``RESULT_COLUMNS`` (+ ``label``).
        latent: (N, d) float32 latent matrix of the analysed images.
        cluster_centers: (k, d) KMeans centres in the latent space.
        metrics: history, seconds per stage, threshold, and evaluation scores when known.
    """

    config: RunConfig
    model: ConvAutoencoder
    table: pd.DataFrame
    latent: np.ndarray
    cluster_centers: np.ndarray
    metrics: dict = field(default_factory=dict)


def run_pipeline(
    config: RunConfig,
    train_set: ImageSet | None = None,
    analysis_set: ImageSet | None = None,
    callbacks=None,
    on_stage: Callable[[str], None] | None = None,
) -> RunResult:
    """Train, encode, cluster, score and map. Loads the data from the config unless given.

    ``callbacks`` are Keras callbacks for training; ``on_stage(name)`` is called as each stage
    starts ("load", "train", "encode", "cluster", "anomaly", "map").
    """
    seconds: dict[str, float] = {}

    @contextmanager
    def stage(name: str):
        if on_stage is not None:
            on_stage(name)
        start = time.perf_counter()
        yield
        seconds[name] = round(time.perf_counter() - start, 3)

    with stage("load"):
        if analysis_set is None:
            train_set, analysis_set = load_train_and_analysis_sets(config.data, config.train_data)
        train_set = analysis_set if train_set is None else train_set
        n_clusters = analysis.check_n_clusters(config.clusters, len(analysis_set))
        analysis.anomaly_threshold(np.zeros(2), config.contamination)  # validate before training
    with stage("train"):
        model = ConvAutoencoder(preset=config.preset, epochs=config.epochs, batch_size=config.batch_size,
                                seed=config.seed)
        model.fit(train_set, callbacks=callbacks)
    with stage("encode"):
        latent = model.transform(analysis_set)
        reconstruction_error = model.reconstruction_error(analysis_set)
    with stage("cluster"):
        kmeans = analysis.fit_kmeans(latent, n_clusters, seed=config.seed)
    with stage("anomaly"):
        anomaly_score = analysis.isolation_forest_scores(latent, seed=config.seed)
        threshold = analysis.anomaly_threshold(anomaly_score, config.contamination)
    with stage("map"):
        map_xy = analysis.map_2d(latent, seed=config.seed)
    seconds["total"] = round(sum(seconds.values()), 3)

    table = pd.DataFrame({
        "index": np.arange(len(analysis_set)),
        "cluster": kmeans.labels_.astype(int),
        "anomaly_score": anomaly_score,
        "reconstruction_error": reconstruction_error,
        "map_x": map_xy[:, 0],
        "map_y": map_xy[:, 1],
    })
    if analysis_set.labels is not None:
        table["label"] = analysis_set.labels
    metrics = {
        "config": config.to_dict(),
        "data": {
            "analysed": analysis_set.name,
            "trained_on": train_set.name,
            "n_images": len(analysis_set),
            "n_train_images": len(train_set),
            "image_shape": list(analysis_set.image_shape),
            "fingerprint": analysis_set.fingerprint(),
        },
        "model": {"preset": model.preset, "latent_size": model.n_latent_},
        "history": model.history_,
        "seconds": seconds,
        "anomaly_threshold": threshold,
    }
    metrics.update(evaluate(analysis_set, table))
    return RunResult(config=config, model=model, table=table, latent=latent,
                     cluster_centers=kmeans.cluster_centers_.astype(np.float32), metrics=metrics)


def evaluate(image_set: ImageSet, table: pd.DataFrame) -> dict:
    """Clustering scores against labels and anomaly scores against known flags, where known."""
    scores = {}
    if image_set.labels is not None:
        scores["clustering"] = analysis.clustering_scores(image_set.labels, table["cluster"])
    flags = image_set.anomaly_flags
    if flags is not None and flags.any() and not flags.all():
        scores["anomaly"] = {
            "isolation_forest": analysis.anomaly_detection_scores(flags, table["anomaly_score"]),
            "reconstruction_error": analysis.anomaly_detection_scores(flags, table["reconstruction_error"]),
        }
    return scores


def save_run(result: RunResult, out_dir) -> Path:
    """Write results.csv, metrics.json and model.keras into ``out_dir``, each atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomically(out_dir / "results.csv", lambda path: result.table.to_csv(path, index=False))
    _write_atomically(out_dir / "metrics.json",
                      lambda path: Path(path).write_text(json.dumps(result.metrics, indent=2)))
    _write_atomically(out_dir / "model.keras", result.model.save, suffix=".keras")
    return out_dir


def _write_atomically(target: Path, write: Callable[[str], object], suffix: str = ".tmp") -> None:
    """Write with ``write(temporary_path)`` in the target's folder, then rename over the target."""
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
