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
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core import analysis
from core.data import ImageSet, load_train_and_analysis_sets
from core.errors import UserInputError

if TYPE_CHECKING:  # imported where used: scikit-learn, which it needs, is slow to import
    from core.model import ConvAutoencoder

RESULT_COLUMNS = ["index", "cluster", "anomaly_score", "reconstruction_error", "map_x", "map_y"]


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's results. Same config and data, same results.

    ``epochs`` and ``batch_size`` of None take the preset's values. ``contamination`` is the
    expected share of anomalies; it sets the flagging threshold, not the scores. ``method`` picks
    the analysis of the latent (see ``METHODS``); None follows the preset (the ``seed`` preset gets
    the seed's own method, every other preset the default one).
    """

    data: str = "digits"
    train_data: str | None = None
    preset: str = "default"
    epochs: int | None = None
    batch_size: int | None = None
    clusters: int = 10
    contamination: float = 0.01
    seed: int = 0
    method: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def resolved_method(self) -> str:
        """"default" or "seed": the analysis this run uses."""
        method = self.method or ("seed" if self.preset == "seed" else "default")
        if method not in METHODS:
            raise UserInputError(f"unknown method '{method}'; choose one of {', '.join(METHODS)}")
        return method


METHODS = {
    "default": "clusters: Gaussian mixture in a 10-D UMAP manifold of the latent (N2D); anomaly score: "
               "cosine distance to the 50 nearest training images in the latent space plus reconstruction "
               "cross-entropy (with a separate training set, the larger of cross-entropy and squared error), "
               "as robust z-scores against the training images",
    "seed": "clusters: KMeans on the latent; anomaly score: IsolationForest on the latent",
}


@dataclass
class Embedding:
    """What a fitted autoencoder tells about the analysed images, independent of the cluster count.

    Attributes:
        latent: (N, d) float32 latent matrix.
        reconstruction_error: (N,) mean squared pixel error (pixels in [0, 1]).
        anomaly_score: (N,) the default anomaly score, higher = more anomalous.
        map_xy: (N, 2) float32 2-D map of the latent space.
        manifold: (N, m) float32 UMAP manifold the default method clusters in; (N, 0) when the
            clusters come from KMeans on the latent (the seed method).
        seconds: wall seconds per stage ("encode", "anomaly", "map").
    """

    latent: np.ndarray
    reconstruction_error: np.ndarray
    anomaly_score: np.ndarray
    map_xy: np.ndarray
    seconds: dict = field(default_factory=dict)
    manifold: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        config: the run's config.
        model: the fitted autoencoder; None when rebuilt from a stored run without loading it.
        table: one row per analysed image, in input order, with ``RESULT_COLUMNS`` (+ ``label``).
        latent: (N, d) float32 latent matrix of the analysed images.
        cluster_centers: (k, d) cluster centres in the latent space.
        metrics: history, seconds per stage, threshold, and evaluation scores when known.
    """

    config: RunConfig
    model: ConvAutoencoder | None
    table: pd.DataFrame
    latent: np.ndarray
    cluster_centers: np.ndarray
    metrics: dict = field(default_factory=dict)


class _Stopwatch:
    """Times named stages into ``seconds`` and reports each start to ``on_stage(name)``."""

    def __init__(self, on_stage: Callable[[str], None] | None = None):
        self.seconds: dict[str, float] = {}
        self.on_stage = on_stage

    @contextmanager
    def stage(self, name: str):
        if self.on_stage is not None:
            self.on_stage(name)
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)


def run_pipeline(
    config: RunConfig,
    train_set: ImageSet | None = None,
    analysis_set: ImageSet | None = None,
    callbacks=None,
    on_stage: Callable[[str], None] | None = None,
) -> RunResult:
    """Train, encode, cluster, score and map. Loads the data from the config unless given.

    ``callbacks`` are Keras callbacks for training; ``on_stage(name)`` is called as each stage
    starts ("load", "train", "encode", "anomaly", "map", "cluster").
    """
    watch = _Stopwatch(on_stage)
    with watch.stage("load"):
        if analysis_set is None:
            train_set, analysis_set = load_train_and_analysis_sets(config.data, config.train_data)
        train_set = analysis_set if train_set is None else train_set
        check_settings(config, len(analysis_set))
    with watch.stage("train"):
        model = train_model(config, train_set, callbacks=callbacks)
    embedding = embed(model, analysis_set, config, on_stage=on_stage, train_set=train_set)
    watch.seconds.update(embedding.seconds)
    with watch.stage("cluster"):
        clusters, centers = assign_clusters(embedding, config.clusters, config.seed)
    return assemble(config, model, embedding, clusters, centers, analysis_set, train_set, watch.seconds)


def check_settings(config: RunConfig, n_images: int) -> None:
    """Raise UserInputError for settings that cannot work, before any training."""
    check_analysis_settings(config, n_images)
    check_model_settings(config, n_images)


def check_analysis_settings(config: RunConfig, n_images: int) -> None:
    """Raise UserInputError for a cluster count, method or contamination that cannot work (the
    settings a stored run can change without training; checked without importing scikit-learn)."""
    analysis.check_n_clusters(config.clusters, n_images)
    config.resolved_method()
    analysis.anomaly_threshold(np.zeros(2), config.contamination)


def check_model_settings(config: RunConfig, n_images: int) -> None:
    """Raise UserInputError for a preset, epochs or batch size that cannot train on ``n_images``."""
    from core.model import ConvAutoencoder

    ConvAutoencoder(preset=config.preset, epochs=config.epochs, batch_size=config.batch_size).check_params(n_images)


def train_model(config: RunConfig, train_set: ImageSet, callbacks=None) -> ConvAutoencoder:
    """Fit the configured autoencoder on ``train_set``."""
    from core.model import ConvAutoencoder

    model = ConvAutoencoder(preset=config.preset, epochs=config.epochs, batch_size=config.batch_size,
                            seed=config.seed)
    return model.fit(train_set, callbacks=callbacks)


def embed(model: ConvAutoencoder, analysis_set: ImageSet, config: RunConfig,
          on_stage: Callable[[str], None] | None = None, train_set: ImageSet | None = None) -> Embedding:
    """Encode the analysed images and compute everything that does not depend on the cluster count.

    ``train_set`` is what the model trained on (None: the analysed images); the default method's
    anomaly score measures the analysed images against it.
    """
    method = config.resolved_method()
    watch = _Stopwatch(on_stage)
    with watch.stage("encode"):
        latent = model.transform(analysis_set)
        reconstruction = model.inverse_transform(latent)
        reconstruction_error = analysis.squared_error(analysis_set.images, reconstruction)
    with watch.stage("anomaly"):
        anomaly_score = anomaly_scores(model, analysis_set, latent, reconstruction, method,
                                       seed=config.seed, train_set=train_set)
        del reconstruction
    with watch.stage("map"):
        if method == "default":
            map_xy, manifold = map_and_manifold(latent, seed=config.seed)
        else:
            map_xy = analysis.map_2d(latent, seed=config.seed, knn=analysis.nearest_neighbors(latent))
            manifold = np.zeros((len(latent), 0), dtype=np.float32)
    return Embedding(latent=latent, reconstruction_error=reconstruction_error, anomaly_score=anomaly_score,
                     map_xy=map_xy, seconds=watch.seconds, manifold=manifold)


def map_and_manifold(latent: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The 2-D map (N, 2) and the clustering manifold (N, m) of an (N, d) latent matrix, from one
    shared nearest-neighbour search. The two UMAP layouts run side by side in two threads: each is
    seeded, so single-threaded, and their numba code runs without the GIL."""
    knn = analysis.nearest_neighbors(latent)
    with ThreadPoolExecutor(max_workers=1) as pool:
        manifold = pool.submit(analysis.cluster_manifold, latent, seed=seed, knn=knn)
        map_xy = analysis.map_2d(latent, seed=seed, knn=knn)
        return map_xy, manifold.result()


def anomaly_scores(model: ConvAutoencoder, analysis_set: ImageSet, latent: np.ndarray, reconstruction: np.ndarray,
                   method: str = "default", seed: int = 0, train_set: ImageSet | None = None) -> np.ndarray:
    """The method's anomaly score (N,) of the analysed images, higher = more anomalous.

    ``latent`` (N, d) and ``reconstruction`` (N, H, W, C) are the model's encoding and decoding of
    ``analysis_set``. The seed method scores with an IsolationForest on the latent; the default one
    with :func:`analysis.combined_anomaly_scores` against ``train_set`` (None: the analysed images).
    """
    if method == "seed":
        return analysis.isolation_forest_scores(latent, seed=seed)
    cross_entropy = analysis.cross_entropy_error(analysis_set.images, reconstruction)
    if train_set is None or train_set is analysis_set:
        sample = analysis.reference_sample(len(latent), seed=seed)
        return analysis.combined_anomaly_scores(latent, cross_entropy, latent, cross_entropy[sample],
                                                same_set=True, seed=seed)
    train_latent = model.transform(train_set)
    sample = analysis.reference_sample(len(train_latent), seed=seed)
    reference_images = train_set.images[sample]
    reference_reconstruction = model.inverse_transform(train_latent[sample])
    return analysis.combined_anomaly_scores(
        latent, cross_entropy, train_latent, analysis.cross_entropy_error(reference_images, reference_reconstruction),
        same_set=False, seed=seed, squared_error=analysis.squared_error(analysis_set.images, reconstruction),
        reference_squared_error=analysis.squared_error(reference_images, reference_reconstruction))


def assign_clusters(embedding: Embedding, n_clusters: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cluster labels (N,) and centres (k, d) in the latent space: a Gaussian mixture in the
    embedding's UMAP manifold when it has one (the default method), else KMeans on the latent."""
    if embedding.manifold.size == 0:
        kmeans = analysis.fit_kmeans(embedding.latent, n_clusters, seed=seed)
        return kmeans.labels_.astype(int), kmeans.cluster_centers_.astype(np.float32)
    clusters = analysis.mixture_clusters(embedding.manifold, n_clusters, seed=seed)
    return clusters, analysis.cluster_means(embedding.latent, clusters, n_clusters)


def assemble(config: RunConfig, model: ConvAutoencoder | None, embedding: Embedding, clusters: np.ndarray,
             centers: np.ndarray, analysis_set: ImageSet, train_set: ImageSet,
             seconds: dict | None = None, history: dict | None = None, scores: dict | None = None) -> RunResult:
    """The results table (``RESULT_COLUMNS`` + ``label``) and metrics of a finished run.

    ``model`` may be None for a stored run whose model is not loaded (the app does not need
    TensorFlow to show a stored run's table, map and scores); ``history`` then gives the
    per-epoch losses, which otherwise come from the model. ``scores``: the :func:`evaluate`
    result when it is known already (a stored clustering); None computes it."""
    seconds = dict(seconds or {})
    seconds["total"] = round(sum(v for k, v in seconds.items() if k != "total"), 3)
    table = pd.DataFrame({
        "index": np.arange(len(analysis_set)),
        "cluster": clusters,
        "anomaly_score": embedding.anomaly_score,
        "reconstruction_error": embedding.reconstruction_error,
        "map_x": embedding.map_xy[:, 0],
        "map_y": embedding.map_xy[:, 1],
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
        },
        "model": {"preset": config.preset, "latent_size": int(embedding.latent.shape[1]),
                  "method": config.resolved_method()},
        "history": model.history_ if history is None else history,
        "seconds": seconds,
        "anomaly_threshold": analysis.anomaly_threshold(embedding.anomaly_score, config.contamination),
    }
    metrics.update(evaluate(analysis_set, table) if scores is None else scores)
    return RunResult(config=config, model=model, table=table, latent=embedding.latent,
                     cluster_centers=centers, metrics=metrics)


def evaluate(image_set: ImageSet, table: pd.DataFrame) -> dict:
    """Clustering scores against labels and anomaly scores against known flags, where known."""
    scores = {}
    if image_set.labels is not None:
        scores["clustering"] = analysis.clustering_scores(image_set.labels, table["cluster"])
    flags = image_set.anomaly_flags
    if flags is not None and flags.any() and not flags.all():
        scores["anomaly"] = {
            "anomaly_score": analysis.anomaly_detection_scores(flags, table["anomaly_score"]),
            "reconstruction_error": analysis.anomaly_detection_scores(flags, table["reconstruction_error"]),
        }
    return scores


def save_run(result: RunResult, out_dir) -> Path:
    """Write results.csv, metrics.json and model.keras into ``out_dir``, each atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(out_dir / "results.csv", lambda path: result.table.to_csv(path, index=False))
    write_atomically(out_dir / "metrics.json",
                      lambda path: Path(path).write_text(json.dumps(result.metrics, indent=2)))
    write_atomically(out_dir / "model.keras", result.model.save, suffix=".keras")
    return out_dir


def write_atomically(target: Path, write: Callable[[str], object], suffix: str = ".tmp") -> None:
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
