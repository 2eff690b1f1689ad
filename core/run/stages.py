"""One run in named stages that fit on a sample and apply to every image.

    load -> train -> encode -> map -> cluster -> anomaly -> apply -> duplicates -> compare

- **fit**, on a seeded sample of at most ``fit_sample`` images: ``train`` fits the autoencoder on
  the training images; ``encode`` encodes the analysed sample (and the training images the anomaly
  score is measured against); ``map`` fits the 2-D map and the clustering manifold (UMAP); ``cluster``
  fits the clusterer; ``anomaly`` fits the anomaly scorer.
- **apply**, to every analysed image outside the sample, in chunks of ``CHUNK_SIZE`` in input
  order: encode, place on the map and manifold, cluster, score (:meth:`FittedPipeline.apply`). Each
  row's results depend on that row alone, so chunks can run anywhere (``core.run.engines``). Small
  data is all sample: nothing is left to apply.
- **duplicates**: every image is described (its pixel digest and appearance: the sample's after the
  fit, the others' in their apply chunks), then the exact and near copies among all of them are
  found (``core.similar``); the seconds of both parts are ``duplicates`` (and ``apply duplicates``).
- **compare**, on the sample: every clusterer and scorer of the registry (``core.methods``) side by
  side, with labels and anomaly flags where the data has them (``core.run.comparison``).

:func:`run_pipeline` runs it all; ``core.run.folder.save_run`` writes the result as a run folder.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core import import_keras
from core.data.images import ImageSet
from core.data.load import check_number_of_images, load_train_and_analysis_sets
from core.methods.embeddings import manifold_embedding, map_embedding
from core.methods.neighbours import MAX_REFERENCE, nearest_neighbors, reference_sample
from core.methods.registry import CLUSTERERS, SCORERS, stack_inputs
from core.model.presets import design_for, training_plan
from core.model.reconstruction import cross_entropy_error, squared_error
from core.run.comparison import baselines_fingerprint, comparison_stage
from core.run.config import RunConfig, sample_positions
from core.run.engines import LocalEngine, peak_rss_mb
from core.run.progress import Progress
from core.run.results import RunResult, assemble
from core.similar.duplicates import DESCRIBED, describe, find_duplicates
from core.similar.thumbnails import Appearance

if TYPE_CHECKING:  # imported where used: scikit-learn, which it needs, is slow to import
    from core.model.autoencoder import Autoencoder

CHUNK_SIZE = 10_000


APPLIED = ("latent", "manifold", "map", "cluster", "anomaly_score", "reconstruction_error", "representation",
           *DESCRIBED)


STAGES = ("load", "train", "encode", "map", "cluster", "anomaly", "apply", "duplicates", "compare", "write")



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
    appearance: Appearance | None = None

    def apply(self, images: np.ndarray, seconds: dict | None = None,
              digests: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Results (``APPLIED``) of (n, H, W, C) images: ``latent`` (n, d), ``manifold`` (n, m), ``map``
        (n, 2), ``cluster`` (n,), ``anomaly_score`` (n,), ``reconstruction_error`` (n,), and what finding
        duplicates needs (``core.similar.duplicates.describe``; ``digests`` (n, 16) as the images were
        decoded). ``seconds``, when given, collects the seconds of each step by stage name."""
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
        start = time.perf_counter()
        features.update(describe(self.appearance, images, digests))
        seconds["duplicates"] = seconds.get("duplicates", 0.0) + time.perf_counter() - start
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
        from core.model.autoencoder import Autoencoder

        _LOADED_MODELS[path] = Autoencoder.load(path)
    return _LOADED_MODELS[path]


def flat(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) images as (N, H*W*C) rows (a view, no copy)."""
    return images.reshape(len(images), -1)


def encode(model: Autoencoder, images: np.ndarray) -> dict[str, np.ndarray]:
    """``latent`` (n, d) and the per-image reconstruction errors ``cross_entropy`` and
    ``squared_error`` (n,) of (n, H, W, C) images (against the images as the network sees them),
    and, when the network learns from a representation (photos' content features, a user's
    vectors), ``representation`` (n, r) float32: what it saw. Works through ``ENCODE_CHUNK`` images
    at a time: the prepared images and reconstructions of one chunk are all it holds besides the
    results."""
    parts = []
    for start in range(0, len(images), ENCODE_CHUNK):
        prepared = model.prepare(images[start:start + ENCODE_CHUNK])
        latent = model.transform(prepared, prepared=True)
        reconstruction = model.inverse_transform(latent)
        parts.append({"latent": latent,
                      "cross_entropy": cross_entropy_error(prepared, reconstruction).astype(np.float32),
                      "squared_error": squared_error(prepared, reconstruction).astype(np.float32),
                      **({"representation": prepared} if getattr(model, "representation_", None) is not None
                         else {})})
    if not parts:
        return {"latent": model.transform(images), "cross_entropy": np.zeros(0, np.float32),
                "squared_error": np.zeros(0, np.float32)}
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


ENCODE_CHUNK = 8192


def run_pipeline(config: RunConfig, train_set: ImageSet | None = None, analysis_set: ImageSet | None = None,
                 callbacks=None, progress: Progress | None = None, engine=None, model_path: str | None = None,
                 baselines: Path | None = None) -> RunResult:
    """Fit on the sample, apply to every image, compare. Loads the data from the config unless given.

    ``callbacks`` are Keras callbacks for training; ``progress`` times the stages and hears about
    epochs and chunks; ``engine`` applies the chunks (``core.run.engines``; None: in this process);
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
            check_number_of_images(image_set)
        config.check(len(analysis_set), len(train_set))
        sample = sample_positions(len(analysis_set), config.fit_sample, config.seed)
        analysed_sample = analysis_set.read(sample)
        train_sample = analysed_sample if same_set else train_set.read(sample_positions(len(train_set), config.fit_sample,
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
    with progress.run_stage("duplicates"):
        duplicates = find_duplicates({name: outputs.pop(name) for name in DESCRIBED}, fitted.appearance,
                                     lambda positions: analysis_set.read(positions).images, analysis_set.image_shape)
    with progress.run_stage("compare"):
        comparison, pixel_manifold = comparison_stage(config, fitted, analysed_sample, sample, sample_outputs,
                                                      reference,
                                                      baselines=baselines, fingerprint=baselines_fingerprint(
                                                          baselines, analysis_set, train_set, same_set))
    result = assemble(config, fitted.model, analysis_set, train_set, sample, outputs, comparison, pixel_manifold,
                      progress.seconds, duplicates=duplicates)
    result.metrics["memory"] = {"peak_rss_mb": peak_rss_mb(),
                                "worker_peak_rss_mb": engine.worker_peak_rss_mb() if engine is not None else []}
    return result


def fit_pipeline(config: RunConfig, train_images: ImageSet, analysed: ImageSet, same_set: bool,
                 progress: Progress, callbacks=None) -> tuple[FittedPipeline, dict, dict]:
    """Fit every stage on the samples. Returns the fitted pipeline, the analysed sample's results
    (the same columns as :meth:`FittedPipeline.apply`, plus ``cross_entropy``; the duplicates'
    appearance is fitted and the sample described in the ``duplicates`` stage), and the features of
    the training images the scorer was fitted on: the same dict when they are the analysed ones,
    else those of a seeded ``MAX_REFERENCE`` of the training images (the rows the scorers measure
    new images against anyway)."""
    from core.model.autoencoder import Autoencoder

    method = config.analysis_method
    with progress.run_stage("train"):
        model = Autoencoder(preset=config.preset, epochs=config.epochs, batch_size=config.batch_size, seed=config.seed)
        model.fit(train_images.images, callbacks=[_epoch_reporter(progress), *(callbacks or [])])
    with progress.run_stage("encode"):
        outputs = encode(model, analysed.images)
        # against separate training images, the scorers measure new images against a seeded sample of them
        trained = np.sort(reference_sample(len(train_images), config.seed, MAX_REFERENCE)) if not same_set else None
        reference = outputs if same_set else encode(model, train_images.images[trained])
    with progress.run_stage("map"):
        manifold, flat_map = fit_embeddings(outputs["latent"], config.seed)
        outputs["manifold"], outputs["map"] = manifold.embedding_, flat_map.embedding_
    with progress.run_stage("cluster"):
        representation = outputs.get("representation")
        clusterer_name = method.clusterer_for(analysed.image_shape, len(analysed), representation is not None)
        entry = CLUSTERERS[clusterer_name]
        clusterer = entry.make(n_clusters=config.clusters, seed=config.seed, image_shape=analysed.image_shape,
                               representation_size=None if representation is None else representation.shape[1])
        outputs["cluster"] = clusterer.fit(stack_inputs(entry, {**outputs, "pixels": flat(analysed.images)})).labels_
    with progress.run_stage("anomaly"):
        entry = SCORERS[method.scorer]
        scorer = entry.make(contamination=config.contamination, seed=config.seed, novelty=not same_set)
        scorer.fit(stack_inputs(entry, reference))
        outputs["anomaly_score"] = (scorer.decision_scores_ if same_set
                                    else scorer.decision_function(stack_inputs(entry, outputs)))
    outputs["reconstruction_error"] = outputs["squared_error"]
    if not same_set:
        reference["pixels"] = flat(train_images.images[trained])
    with progress.run_stage("duplicates"):  # the sample described now, the other images in their apply chunks
        appearance = Appearance(seed=config.seed).fit(analysed.images)
        outputs.update(describe(appearance, analysed.images, analysed.digests))
    return (FittedPipeline(model, manifold, flat_map, clusterer, scorer, clusterer_name, method.scorer,
                           appearance=appearance), outputs, reference)


def fit_embeddings(latent: np.ndarray, seed: int):
    """The clustering manifold and the 2-D map fitted on (S, d) latent rows, from one shared
    nearest-neighbour search. The two UMAP layouts run side by side in two threads: each is
    seeded, so single-threaded, and their numba code runs without the GIL."""
    knn = nearest_neighbors(latent)
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
    columns = {name: _empty_column(sample_outputs[name], n_images) for name in APPLIED if name in sample_outputs}
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

