"""One run: a config in, results out, in named stages that fit on a sample and apply to every image.

    load -> train -> encode -> map -> cluster -> anomaly -> apply -> compare

- **fit**, on a seeded sample of at most ``fit_sample`` images: ``train`` fits the autoencoder on
  the training images; ``encode`` encodes the analysed sample (and the training images the anomaly
  score is measured against); ``map`` fits the 2-D map and the clustering manifold (UMAP); ``cluster``
  fits the clusterer; ``anomaly`` fits the anomaly scorer.
- **apply**, to every analysed image outside the sample, in chunks of ``CHUNK_SIZE`` in input
  order: encode, place on the map and manifold, cluster, score (:meth:`FittedPipeline.apply`). Each
  row's results depend on that row alone, so chunks can run anywhere (``core.engine``). Small data
  is all sample: nothing is left to apply.
- **compare**, on the sample: every clusterer and scorer of the registry (``core.methods``) side by
  side, with labels and anomaly flags where the data has them.

:func:`run_pipeline` runs it all; :func:`save_run` writes a run folder (results.csv,
results.parquet, metrics.json, model.keras, embedding.npz, comparison.parquet, run.json last),
which the command line writes with ``--out`` and the app keeps under ``runs/``.
"""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core import analysis, import_keras
from core.comparison import baselines_fingerprint, comparison_scores, comparison_stage
from core.data import ImageSet, check_source_size, load_train_and_analysis_sets
from core.engine import LocalEngine, peak_rss_mb
from core.errors import UserInputError
from core.files import sha256, write_atomically, write_npz, write_text
from core.methods import (
    CLUSTERERS,
    DEFAULT_SCORE,
    SCORERS,
    SELF_TRAINED,
    SELF_TRAINING_MIN_IMAGES,
    SMALL_IMAGE_SIDE,
    manifold_embedding,
    map_embedding,
    stack_inputs,
    stand_in,
    stand_ins,
)
from core.presets import design_for, training_plan
from core.progress import Progress

if TYPE_CHECKING:  # imported where used: scikit-learn, which it needs, is slow to import
    from core.model import Autoencoder

RESULT_COLUMNS = ["index", "cluster", "anomaly_score", "reconstruction_error", "map_x", "map_y"]
FIT_SAMPLE = 60_000
MIN_FIT_SAMPLE = 100
CHUNK_SIZE = 10_000
FORMAT_VERSION = 2
ARTIFACTS = ("model.keras", "embedding.npz", "results.parquet", "comparison.parquet", "metrics.json")
APPLIED = ("latent", "manifold", "map", "cluster", "anomaly_score", "reconstruction_error")
STAGES = ("load", "train", "encode", "map", "cluster", "anomaly", "apply", "compare", "write")


@dataclass(frozen=True)
class Method:
    """An analysis of the latent: which registry clusterer and anomaly scorer a run uses. A clusterer
    that trains a network gives way to its base on images too small or too few for one
    (:func:`core.methods.stand_in`)."""

    clusterer: str
    scorer: str

    def clusterer_for(self, image_shape, n_images: int) -> str:
        """The clusterer a run on ``n_images`` (H, W, C) images uses."""
        return stand_in(CLUSTERERS[self.clusterer], image_shape, n_images).name

    @property
    def description(self) -> str:
        entry = CLUSTERERS[self.clusterer]
        text = f"clusters: {self.clusterer} ({entry.description})"
        if entry.base:
            text += (f", or {entry.base} alone for images under {SMALL_IMAGE_SIDE} pixels a side or fewer than"
                     f" {SELF_TRAINING_MIN_IMAGES:,} of them")
        return text + f"; anomaly score: {self.scorer} ({SCORERS[self.scorer].description})"


METHODS = {
    "default": Method(clusterer=SELF_TRAINED, scorer=DEFAULT_SCORE),
    "seed": Method(clusterer="KMeans on latent", scorer="IsolationForest on latent"),
}


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's results. Same config and data, same results.

    ``epochs`` and ``batch_size`` of None take the preset's values. ``contamination`` is the
    expected share of anomalies; it sets the flagging threshold, not the scores. ``method`` picks
    the clusterer and anomaly scorer (see ``METHODS``); None follows the preset (the ``seed``
    preset gets the seed's own method, every other preset the default one). ``fit_sample`` is how
    many images (seeded) the fit stages use; the rest are applied in chunks.
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
    fit_sample: int = FIT_SAMPLE

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def resolved_method(self) -> str:
        """"default" or "seed": the analysis this run uses."""
        method = self.method or ("seed" if self.preset == "seed" else "default")
        if method not in METHODS:
            raise UserInputError(f"unknown method '{method}'; choose one of {', '.join(METHODS)}")
        return method

    @property
    def analysis_method(self) -> Method:
        return METHODS[self.resolved_method()]

    def check(self, n_analysed: int, n_train: int | None = None) -> None:
        """Raise UserInputError for any setting that cannot work on this many images, before any
        work is done. The one place settings are checked; ``n_train`` None checks only the settings
        a stored run can change without training (cluster count, contamination, method)."""
        self.resolved_method()
        analysis.check_contamination(self.contamination)
        if not float(self.fit_sample).is_integer() or self.fit_sample < MIN_FIT_SAMPLE:
            raise UserInputError(f"the fit sample must be a whole number of at least {MIN_FIT_SAMPLE} images, "
                                 f"got {self.fit_sample}")
        analysis.check_n_clusters(self.clusters, min(n_analysed, self.fit_sample))
        if n_train is None:
            return
        training_plan(self.preset, self.epochs, self.batch_size, min(n_train, self.fit_sample))


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        config: the run's config.
        model: the fitted autoencoder; None when read from a run folder without loading it.
        table: one row per analysed image, in input order: ``RESULT_COLUMNS`` (+ ``label``) + ``id``.
        latent: (N, d) float32 latent matrix of the analysed images.
        manifold: (N, m) float32 clustering manifold of the analysed images.
        sample: (S,) sorted positions of the fit sample among the analysed images.
        comparison: one row per compared image (``index``: its position), a ``cluster: NAME``
            column per clusterer and a ``score: NAME`` column per anomaly scorer.
        pixel_manifold: (C, m) float32 UMAP manifold of the compared images' pixels.
        metrics: history, seconds per stage, threshold, and evaluation scores when known.
    """

    config: RunConfig
    model: Autoencoder | None
    table: pd.DataFrame
    latent: np.ndarray
    manifold: np.ndarray
    sample: np.ndarray
    comparison: pd.DataFrame
    pixel_manifold: np.ndarray
    metrics: dict = field(default_factory=dict)


# --- the fitted pipeline: what the apply stage needs ------------------------------------------------


@dataclass
class FittedPipeline:
    """The fitted stages. :meth:`apply` takes any images and returns their results, row by row.

    Pickles without the Keras model (workers load it once from ``model_path``).
    """

    model: Autoencoder | None
    manifold: object
    map: object
    clusterer: object
    scorer: object
    clusterer_name: str
    scorer_name: str
    model_path: str | None = None

    def apply(self, images: np.ndarray, seconds: dict | None = None) -> dict[str, np.ndarray]:
        """Results (``APPLIED``) of (n, H, W, C) images: ``latent`` (n, d), ``manifold`` (n, m), ``map``
        (n, 2), ``cluster`` (n,), ``anomaly_score`` (n,), ``reconstruction_error`` (n,). ``seconds``, when
        given, collects the seconds of each step by stage name."""
        import time

        seconds = {} if seconds is None else seconds
        start = time.perf_counter()
        features = encode(self._model(), images)
        seconds["encode"] = seconds.get("encode", 0.0) + time.perf_counter() - start
        start = time.perf_counter()
        found = self.manifold.neighbours(features["latent"], max(self.manifold.n_neighbors, self.map.n_neighbors))
        features["manifold"] = self.manifold.transform(features["latent"], found)
        shared = np.array_equal(self.map.reference_, self.manifold.reference_)  # fitted on the same rows
        features["map"] = self.map.transform(features["latent"], found if shared else None)
        seconds["map"] = seconds.get("map", 0.0) + time.perf_counter() - start
        start = time.perf_counter()
        features["pixels"] = flat(images)
        features["cluster"] = self.clusterer.predict(stack_inputs(CLUSTERERS[self.clusterer_name], features))
        del features["pixels"]
        seconds["cluster"] = seconds.get("cluster", 0.0) + time.perf_counter() - start
        start = time.perf_counter()
        features["anomaly_score"] = self.scorer.decision_function(stack_inputs(SCORERS[self.scorer_name], features))
        seconds["anomaly"] = seconds.get("anomaly", 0.0) + time.perf_counter() - start
        features["reconstruction_error"] = features.pop("squared_error")
        features.pop("cross_entropy")
        return features

    def _model(self):
        if self.model is None:
            self.model = _load_model_once(self.model_path)
        return self.model

    def __getstate__(self):
        return {**self.__dict__, "model": None}


_LOADED_MODELS: dict[str, object] = {}


def _load_model_once(path: str):
    """A worker's copy of the saved model at ``path``, loaded on its first chunk."""
    if path not in _LOADED_MODELS:
        from core.model import Autoencoder

        _LOADED_MODELS[path] = Autoencoder.load(path)
    return _LOADED_MODELS[path]


def flat(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) images as (N, H*W*C) rows (a view, no copy)."""
    return images.reshape(len(images), -1)


def encode(model: Autoencoder, images: np.ndarray) -> dict[str, np.ndarray]:
    """``latent`` (n, d) and the per-image reconstruction errors ``cross_entropy`` and
    ``squared_error`` (n,) of (n, H, W, C) images (against the images as the network sees them).
    Works through ``ENCODE_CHUNK`` images at a time: the prepared images and reconstructions of
    one chunk are all it holds besides the results."""
    parts = []
    for start in range(0, len(images), ENCODE_CHUNK):
        prepared = model.prepare(images[start:start + ENCODE_CHUNK])
        latent = model.transform(prepared, prepared=True)
        reconstruction = model.inverse_transform(latent)
        parts.append({"latent": latent,
                      "cross_entropy": analysis.cross_entropy_error(prepared, reconstruction).astype(np.float32),
                      "squared_error": analysis.squared_error(prepared, reconstruction).astype(np.float32)})
    if not parts:
        return {"latent": model.transform(images), "cross_entropy": np.zeros(0, np.float32),
                "squared_error": np.zeros(0, np.float32)}
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


ENCODE_CHUNK = 8192


# --- the run ------------------------------------------------------------------------------------------


def run_pipeline(config: RunConfig, train_set: ImageSet | None = None, analysis_set: ImageSet | None = None,
                 callbacks=None, progress: Progress | None = None, engine=None, model_path: str | None = None,
                 baselines: Path | None = None) -> RunResult:
    """Fit on the sample, apply to every image, compare. Loads the data from the config unless given.

    ``callbacks`` are Keras callbacks for training; ``progress`` times the stages and hears about
    epochs and chunks; ``engine`` applies the chunks (``core.engine``; None: in this process);
    ``model_path`` is where the engine's workers find the saved model (a run folder's
    ``model.keras``, written before the apply stage when an engine needs it); ``baselines`` is a
    folder where the raw-pixel comparisons are kept per data set and reused.
    """
    progress = progress or Progress()
    with progress.run_stage("load"):
        if analysis_set is None:
            train_set, analysis_set = load_train_and_analysis_sets(config.data, config.train_data)
        same_set = train_set is None or train_set is analysis_set
        train_set = analysis_set if same_set else train_set
        for image_set in (train_set, analysis_set):
            check_source_size(image_set)
        config.check(len(analysis_set), len(train_set))
        sample = fit_sample(len(analysis_set), config.fit_sample, config.seed)
        analysed_sample = analysis_set.read(sample)
        train_sample = analysed_sample if same_set else train_set.read(fit_sample(len(train_set), config.fit_sample,
                                                                                config.seed))
        plan = training_plan(config.preset, config.epochs, config.batch_size, len(train_sample),
                             image_shape=analysis_set.image_shape)
        design = design_for(config.preset, analysis_set.image_shape, len(train_sample))
        pixels = int(np.prod(analysis_set.image_shape))
        progress.plan(len(train_sample), len(analysis_set), pixels, plan.epochs,
                      [name for name in STAGES if name != "load" and (name != "apply" or len(sample) < len(analysis_set))],
                      network_pixels=pixels // design.downsample**2 if design else pixels)

    fitted, sample_outputs, reference = fit_pipeline(config, train_sample, analysed_sample, same_set, progress,
                                                     callbacks)
    outputs = sample_outputs
    if len(sample) < len(analysis_set):
        with progress.run_stage("apply"):
            if engine is not None and model_path is not None:
                Path(model_path).parent.mkdir(parents=True, exist_ok=True)
                fitted.model.save(model_path)
                fitted.model_path = model_path
            outputs = apply_everywhere(fitted, analysis_set, sample, sample_outputs, progress, engine)
    with progress.run_stage("compare"):
        comparison, pixel_manifold = comparison_stage(config, fitted, analysed_sample, sample, sample_outputs,
                                                      reference,
                                                      baselines=baselines, fingerprint=baselines_fingerprint(
                                                          baselines, analysis_set, train_set, same_set))
    result = assemble(config, fitted.model, analysis_set, train_set, sample, outputs, comparison, pixel_manifold,
                      progress.seconds)
    result.metrics["memory"] = {"peak_rss_mb": peak_rss_mb(),
                                "worker_peak_rss_mb": engine.worker_peak_rss_mb() if engine is not None else []}
    return result


def fit_sample(n_images: int, size: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded sample of ``size`` of ``n_images`` images (all when fewer)."""
    if n_images <= size:
        return np.arange(n_images)
    return np.sort(np.random.default_rng(seed).choice(n_images, size=int(size), replace=False))


def fit_pipeline(config: RunConfig, train_images: ImageSet, analysed: ImageSet, same_set: bool,
                 progress: Progress, callbacks=None) -> tuple[FittedPipeline, dict, dict]:
    """Fit every stage on the samples. Returns the fitted pipeline, the analysed sample's results
    (the same columns as :meth:`FittedPipeline.apply`, plus ``cross_entropy``), and the features of
    the training images the scorer was fitted on (the same dict when they are the analysed ones)."""
    from core.model import Autoencoder

    method = config.analysis_method
    with progress.run_stage("train"):
        model = Autoencoder(preset=config.preset, epochs=config.epochs, batch_size=config.batch_size, seed=config.seed)
        model.fit(train_images.images, callbacks=[_epoch_reporter(progress), *(callbacks or [])])
    with progress.run_stage("encode"):
        outputs = encode(model, analysed.images)
        reference = outputs if same_set else encode(model, train_images.images)
    with progress.run_stage("map"):
        manifold, flat_map = fit_embeddings(outputs["latent"], config.seed)
        outputs["manifold"], outputs["map"] = manifold.embedding_, flat_map.embedding_
    with progress.run_stage("cluster"):
        clusterer_name = method.clusterer_for(analysed.image_shape, len(analysed))
        entry = CLUSTERERS[clusterer_name]
        clusterer = entry.make(n_clusters=config.clusters, seed=config.seed, image_shape=analysed.image_shape)
        outputs["cluster"] = clusterer.fit(stack_inputs(entry, {**outputs, "pixels": flat(analysed.images)})).labels_
    with progress.run_stage("anomaly"):
        entry = SCORERS[method.scorer]
        scorer = entry.make(contamination=config.contamination, seed=config.seed, novelty=not same_set)
        scorer.fit(stack_inputs(entry, reference))
        outputs["anomaly_score"] = (scorer.decision_scores_ if same_set
                                    else scorer.decision_function(stack_inputs(entry, outputs)))
    outputs["reconstruction_error"] = outputs["squared_error"]
    if not same_set:
        reference["pixels"] = flat(train_images.images)
    return (FittedPipeline(model, manifold, flat_map, clusterer, scorer, clusterer_name, method.scorer), outputs,
            reference)


def fit_embeddings(latent: np.ndarray, seed: int):
    """The clustering manifold and the 2-D map fitted on (S, d) latent rows, from one shared
    nearest-neighbour search. The two UMAP layouts run side by side in two threads: each is
    seeded, so single-threaded, and their numba code runs without the GIL."""
    knn = analysis.nearest_neighbors(latent)
    with ThreadPoolExecutor(max_workers=1) as pool:
        manifold = pool.submit(manifold_embedding(seed).fit, latent, knn)
        flat_map = map_embedding(seed).fit(latent, knn)
        return manifold.result(), flat_map


def apply_everywhere(fitted: FittedPipeline, analysis_set, sample: np.ndarray, sample_outputs: dict,
                     progress: Progress, engine=None) -> dict[str, np.ndarray]:
    """Every analysed image's results, in input order: the sample's from the fit, the others from
    :meth:`FittedPipeline.apply` in chunks of ``CHUNK_SIZE`` positions (run by ``engine``)."""
    n_images = len(analysis_set)
    outside = np.ones(n_images, dtype=bool)
    outside[sample] = False
    chunks = [positions for start in range(0, n_images, CHUNK_SIZE)
              if len(positions := np.flatnonzero(outside[start:start + CHUNK_SIZE]) + start)]
    columns = {name: _empty_column(sample_outputs[name], n_images) for name in APPLIED}
    for name, column in columns.items():
        column[sample] = sample_outputs[name]
    for positions, results, seconds in (engine or LocalEngine()).apply(fitted, analysis_set, chunks, progress):
        for name, column in columns.items():
            column[positions] = results[name]
        for name, value in seconds.items():
            progress.add_seconds(f"apply {name}", value)
    return columns


def _empty_column(values: np.ndarray, n_images: int) -> np.ndarray:
    return np.zeros((n_images, *np.shape(values)[1:]), dtype=np.asarray(values).dtype)


def _epoch_reporter(progress: Progress):
    keras = import_keras()

    class ReportEpochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            progress.epoch_end(epoch, logs or {})

    return ReportEpochs()


# --- results and metrics ----------------------------------------------------------------------------------


def assemble(config: RunConfig, model, analysis_set, train_set, sample: np.ndarray, outputs: dict,
             comparison: pd.DataFrame, pixel_manifold: np.ndarray, seconds: dict,
             history: dict | None = None) -> RunResult:
    """The results table and metrics of a finished run (``history`` None: the model's)."""
    seconds = dict(seconds)
    seconds["total"] = round(sum(v for k, v in seconds.items() if k != "total" and not k.startswith("apply ")), 3)
    table = results_table(analysis_set, outputs)
    metrics = {
        "config": config.to_dict(),
        "data": {"analysed": analysis_set.name, "trained_on": train_set.name, "n_images": len(analysis_set),
                 "n_train_images": len(train_set), "image_shape": list(analysis_set.image_shape),
                 "fit_sample": len(sample), "compared": len(comparison)},
        "model": {"preset": config.preset, "latent_size": int(outputs["latent"].shape[1]),
                  "implementation": getattr(model, "implementation_", None),
                  "network": model.design_.describe(train_set.image_shape, int(outputs["latent"].shape[1]))
                  if getattr(model, "design_", None) else config.preset,
                  "method": config.resolved_method(),
                  "clusterer": config.analysis_method.clusterer_for(analysis_set.image_shape, len(sample)),
                  "scorer": config.analysis_method.scorer,
                  "stand_ins": stand_ins(analysis_set.image_shape, len(comparison))},
        "history": model.history_ if history is None else history,
        "seconds": seconds,
        "anomaly_threshold": analysis.anomaly_threshold(table["anomaly_score"].to_numpy(), config.contamination),
    }
    metrics.update(evaluate(analysis_set, table, comparison))
    return RunResult(config=config, model=model, table=table, latent=np.asarray(outputs["latent"], np.float32),
                     manifold=np.asarray(outputs["manifold"], np.float32), sample=sample, comparison=comparison,
                     pixel_manifold=pixel_manifold, metrics=metrics)


def results_table(analysis_set, outputs: dict) -> pd.DataFrame:
    """``RESULT_COLUMNS`` (+ ``label``) + ``id``, one row per analysed image in input order."""
    table = pd.DataFrame({
        "index": np.arange(len(analysis_set)),
        "cluster": np.asarray(outputs["cluster"], dtype=np.int64),
        "anomaly_score": outputs["anomaly_score"],
        "reconstruction_error": outputs["reconstruction_error"],
        "map_x": outputs["map"][:, 0],
        "map_y": outputs["map"][:, 1],
    })
    if analysis_set.labels is not None:
        table["label"] = analysis_set.label_values()
    table["id"] = analysis_set.ids
    return table


def evaluate(image_set, table: pd.DataFrame, comparison: pd.DataFrame | None = None) -> dict:
    """Clustering scores against labels and anomaly scores against known flags, where known;
    with ``comparison``, the same for every compared method, best first."""
    scores = {}
    labels, flags = image_set.labels, image_set.anomaly_flags
    has_flags = flags is not None and flags.any() and not flags.all()
    if labels is not None:
        scores["clustering"] = analysis.clustering_scores(labels, table["cluster"])
    if has_flags:
        scores["anomaly"] = {
            "anomaly_score": analysis.anomaly_detection_scores(flags, table["anomaly_score"]),
            "reconstruction_error": analysis.anomaly_detection_scores(flags, table["reconstruction_error"]),
        }
    if comparison is not None:
        known = comparison_scores(comparison, None if labels is None else labels[comparison["index"]],
                                  flags[comparison["index"]] if has_flags else None)
        if known:
            scores["comparison"] = known
    return scores


# --- run folders ----------------------------------------------------------------------------------------


def save_run(result: RunResult, out_dir, key: str | None = None) -> Path:
    """Write a run folder: results.csv and results.parquet (the table), metrics.json, model.keras,
    embedding.npz (latent, manifold, sample, pixel manifold), comparison.parquet, and run.json last
    with the sha256 of the others. Every file is written atomically, so a folder without a valid
    run.json is an unfinished run."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(out_dir / "results.csv", lambda path: result.table.to_csv(path, index=False))
    write_atomically(out_dir / "results.parquet", lambda path: result.table.to_parquet(path, index=False),
                     suffix=".parquet")
    write_atomically(out_dir / "comparison.parquet", lambda path: result.comparison.to_parquet(path, index=False),
                     suffix=".parquet")
    write_text(out_dir / "metrics.json", json.dumps(result.metrics, indent=2))
    if result.model is not None:
        write_atomically(out_dir / "model.keras", result.model.save, suffix=".keras")
    write_npz(out_dir / "embedding.npz", {"latent": result.latent, "manifold": result.manifold,
                                          "sample": result.sample, "pixel_manifold": result.pixel_manifold})
    record = {"format": FORMAT_VERSION, "key": key, "config": result.config.to_dict(),
              "data": result.metrics["data"], "history": result.metrics["history"],
              "seconds": result.metrics["seconds"],
              "sha256": {name: sha256(out_dir / name) for name in ARTIFACTS}}
    write_text(out_dir / "run.json", json.dumps(record, indent=2))
    return out_dir


def read_record(folder: Path, key: str | None = None) -> dict | None:
    """run.json of a complete, unaltered run folder (every artifact matches its recorded sha256),
    or None. With ``key``, also None unless the folder holds that run."""
    folder = Path(folder)
    try:
        record = json.loads((folder / "run.json").read_text())
        if record.get("format") != FORMAT_VERSION or (key is not None and record.get("key") != key):
            return None
        if set(record["sha256"]) != set(ARTIFACTS) or not {"config", "history", "seconds", "data"} <= set(record):
            return None
        for name, digest in record["sha256"].items():
            if sha256(folder / name) != digest:
                return None
        return record
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def read_run(folder: Path, record: dict | None = None) -> RunResult:
    """The RunResult of a run folder, without loading its model (``model`` None). Raises
    UserInputError when the folder is not a complete run."""
    folder = Path(folder)
    record = record or read_record(folder)
    if record is None:
        raise UserInputError(f"'{folder}' holds no complete run (its run.json is missing or its files changed)")
    try:
        config = RunConfig(**record["config"])
        table = pd.read_parquet(folder / "results.parquet")
        comparison = pd.read_parquet(folder / "comparison.parquet")
        metrics = json.loads((folder / "metrics.json").read_text())
        with np.load(folder / "embedding.npz", allow_pickle=False) as arrays:
            latent, manifold = arrays["latent"], arrays["manifold"]
            sample, pixel_manifold = arrays["sample"], arrays["pixel_manifold"]
    except Exception as error:  # changed on disk after its hashes were checked
        raise UserInputError(f"the run in '{folder.name}' could not be read ({type(error).__name__}); "
                             "run it again") from error
    return RunResult(config=config, model=None, table=table, latent=latent, manifold=manifold, sample=sample,
                     comparison=comparison, pixel_manifold=pixel_manifold, metrics=metrics)
