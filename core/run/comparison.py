"""The comparison: every clusterer and anomaly scorer of the registry side by side on one run.

:func:`comparison_stage` is the run's ``compare`` stage: each method fitted on the fit sample, or
on a seeded ``COMPARE_SAMPLE`` of it (the raw-pixel ones kept per data set and reused).
:func:`comparison_scores` judges them against labels and anomaly flags where the data has them;
:func:`clusterer_agreement` and :func:`scorer_agreement` compare them with each other where it has
none.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from core import evaluation
from core.data.images import network_shape
from core.files import write_atomically
from core.methods.embeddings import manifold_embedding
from core.methods.neighbours import nearest_neighbors
from core.methods.registry import CLUSTERERS, SCORERS, available, stack_inputs, stand_in, without_training

COMPARE_SAMPLE = 12_000
BASELINES_VERSION = 1  # raise when the raw-pixel methods change: older kept baselines are ignored


def comparison_stage(config, fitted, analysed, sample: np.ndarray, outputs: dict,
            reference: dict, baselines: Path | None = None, fingerprint: str | None = None
            ) -> tuple[pd.DataFrame, np.ndarray]:
    """Every registry clusterer and scorer on the fit sample, or a seeded ``COMPARE_SAMPLE`` of it.

    ``analysed`` holds the fit sample's images (at positions ``sample``) and ``outputs`` their
    results; ``reference`` the features of the training images (with ``pixels``), which the scorers
    are fitted on, or ``outputs`` itself when the model trained on the analysed images. Returns the
    comparison table (``index``, ``cluster: NAME`` and ``score: NAME`` columns) and the compared
    images' pixel manifold. The run's own clusterer and scorer are not fitted again when the
    compared images are the whole fit sample; the raw-pixel columns are kept in ``baselines`` under
    the data's ``fingerprint`` and reused.
    """
    compared = np.arange(len(sample))
    if len(sample) > COMPARE_SAMPLE:
        compared = np.sort(np.random.default_rng(config.seed).choice(len(sample), COMPARE_SAMPLE, replace=False))
    whole_sample = len(compared) == len(sample)
    same_set = reference is outputs
    features = {name: np.asarray(values)[compared] for name, values in outputs.items() if name != "pixels"}
    features["pixels"] = analysed.images[compared].reshape(len(compared), -1)
    if analysed.vectors is not None:  # the vectors a user brought, as given: "KMeans on your embeddings"
        features["embeddings"] = analysed.vectors[compared]
    if same_set:
        reference = features
    path = _baselines_path(baselines, fingerprint, config, len(compared))
    cached = _read_baselines(path, len(compared)) or {}
    if "pixel_manifold" not in cached:
        knn = nearest_neighbors(features["pixels"])
        cached["pixel_manifold"] = manifold_embedding(config.seed).fit(features["pixels"], knn).embedding_
    features["pixel_manifold"] = cached["pixel_manifold"]
    known = dict(cached)
    if whole_sample:  # the run's own clusters and scores, and its clusterer's base's, need no second fit
        entry = CLUSTERERS[fitted.clusterer_name]
        known[entry.column], known[SCORERS[fitted.scorer_name].column] = outputs["cluster"], outputs["anomaly_score"]
        if entry.base and hasattr(fitted.clusterer, "base_labels_"):
            known[CLUSTERERS[entry.base].column] = fitted.clusterer.base_labels_

    representation = features.get("representation")

    def cluster(entry):
        used = stand_in(entry, network_shape(analysed), len(compared), representation is not None)
        if used is not entry:  # too small or too few images to train a network on: its base's clusters
            if used.column not in known:
                known[used.column] = cluster(used)
            return known[used.column]
        clusterer = entry.make(n_clusters=config.clusters, seed=config.seed, image_shape=analysed.image_shape,
                               representation_size=None if representation is None else representation.shape[1])
        return clusterer.fit(stack_inputs(entry, features)).labels_

    def score(entry):
        scorer = entry.make(contamination=config.contamination, seed=config.seed, novelty=not same_set)
        scorer.fit(stack_inputs(entry, reference))
        return scorer.decision_scores_ if same_set else scorer.decision_function(stack_inputs(entry, features))

    table = {"index": sample[compared]}
    for registry, compute in ((CLUSTERERS, cluster), (SCORERS, score)):
        for entry in registry.values():
            if available(entry, features):
                table[entry.column] = known[entry.column] if entry.column in known else compute(entry)
    table = pd.DataFrame(table)
    _write_baselines(path, table, features["pixel_manifold"])
    return table, features["pixel_manifold"]


def baselines_fingerprint(baselines, analysis_set, train_set, same_set: bool) -> str | None:
    """What the raw-pixel comparisons depend on: the analysed images and, when the model trained on
    others, the training images (the raw-pixel scorer is fitted on them)."""
    if baselines is None:
        return None
    return analysis_set.fingerprint() + ("" if same_set else "-" + train_set.fingerprint())


def _baselines_path(baselines: Path | None, fingerprint: str | None, config, n_compared: int):
    if baselines is None or fingerprint is None:
        return None
    text = json.dumps([BASELINES_VERSION, fingerprint, config.clusters, config.seed, config.fit_sample, n_compared])
    return Path(baselines) / f"{hashlib.sha256(text.encode()).hexdigest()[:20]}.parquet"


def _read_baselines(path: Path | None, n_compared: int) -> dict | None:
    """The raw-pixel comparison columns and pixel manifold kept at ``path``, or None."""
    if path is None or not path.is_file():
        return None
    try:
        frame = pd.read_parquet(path)
        manifold = frame[[c for c in frame.columns if c.startswith("pixel_manifold_")]].to_numpy(np.float32)
        if len(frame) != n_compared or manifold.shape[1] == 0:
            return None
        return {"pixel_manifold": manifold,
                **{c: frame[c].to_numpy() for c in frame.columns if not c.startswith("pixel_manifold_")}}
    except (OSError, ValueError, KeyError):
        return None


def _write_baselines(path: Path | None, table: pd.DataFrame, pixel_manifold: np.ndarray) -> None:
    if path is None or path.is_file():
        return
    raw = [entry.column for entry in [*CLUSTERERS.values(), *SCORERS.values()]
           if not entry.uses_autoencoder and entry.column in table]
    frame = table[raw].copy()
    for column in range(pixel_manifold.shape[1]):
        frame[f"pixel_manifold_{column}"] = pixel_manifold[:, column]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda temporary: frame.to_parquet(temporary, index=False), suffix=".parquet")
    except OSError:  # a read-only folder: computed again next time
        pass


def compared_entries(registry: dict, comparison: pd.DataFrame) -> list:
    """The entries of ``registry`` that ``comparison`` has a column for (a run without embeddings has
    none for "KMeans on your embeddings")."""
    return [entry for entry in registry.values() if entry.column in comparison]


def comparison_scores(comparison: pd.DataFrame, labels: np.ndarray | None, flags: np.ndarray | None) -> dict:
    """metrics.json's ``comparison``: ``anomaly`` (AUROC and average precision of every scorer, best
    first) when ``flags`` hold both anomalous and normal images, ``clustering`` (accuracy, NMI, ARI
    of every clusterer, best first) when ``labels`` are given; absent keys otherwise."""
    known = {}
    if flags is not None and flags.any() and not flags.all():
        rows = [{"method": entry.name, **evaluation.anomaly_detection_scores(flags, comparison[entry.column])}
                for entry in compared_entries(SCORERS, comparison)]
        known["anomaly"] = sorted(rows, key=lambda row: (-row["auroc"], -row["average_precision"]))
    if labels is not None:
        rows = [{"method": entry.name, **evaluation.clustering_scores(labels, comparison[entry.column])}
                for entry in compared_entries(CLUSTERERS, comparison)]
        known["clustering"] = sorted(rows, key=lambda row: -row["accuracy"])
    return known


def clusterer_agreement(comparison: pd.DataFrame, latent: np.ndarray, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Without labels: each clusterer's silhouette in the (C, d) latent of the compared images (one
    space for all, so comparable), best first, and the (n, n) adjusted Rand index between them."""
    entries = compared_entries(CLUSTERERS, comparison)
    silhouettes = pd.DataFrame({"method": [entry.name for entry in entries], "silhouette": [
        evaluation.silhouette(latent, comparison[entry.column].to_numpy(), seed=seed) for entry in entries]})
    short = [entry.short for entry in entries]
    matrix = pd.DataFrame([[evaluation.agreement(comparison[a.column], comparison[b.column]) for b in entries]
                           for a in entries], index=short, columns=short)
    return silhouettes.sort_values("silhouette", ascending=False), matrix


def scorer_agreement(comparison: pd.DataFrame, top: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Without known anomalies: (n, n) share of each scorer's ``top`` images in each other's top list,
    and (n, n) Spearman rank correlation between the scores (rows and columns by short name)."""
    names = [entry.name for entry in compared_entries(SCORERS, comparison)]
    short = [SCORERS[name].short for name in names]
    scores = {name: comparison[SCORERS[name].column].to_numpy() for name in names}
    overlap = pd.DataFrame([[evaluation.top_overlap(scores[a], scores[b], top) for b in names] for a in names],
                           index=short, columns=short)
    correlation = pd.DataFrame([[evaluation.rank_correlation(scores[a], scores[b]) for b in names] for a in names],
                               index=short, columns=short)
    return overlap, correlation


def compare_clusterers(stored, analysis_set, n_clusters: int) -> dict[str, np.ndarray]:
    """Every registry clusterer at ``n_clusters`` on the compared images of a stored run:
    {"cluster: NAME": labels (C,)}. An entry with a ``base`` (one that trains a network) is given its
    base's clusters: this runs in the app's server, where networks are not trained."""
    positions = stored.comparison["index"].to_numpy()
    compared = analysis_set.read(positions)
    features = {"latent": stored.latent[positions], "manifold": stored.manifold[positions],
                "pixels": compared.images.reshape(len(positions), -1), "pixel_manifold": stored.pixel_manifold,
                **({} if compared.vectors is None else {"embeddings": compared.vectors})}
    found = {}
    for entry in compared_entries(CLUSTERERS, stored.comparison):
        used = without_training(entry)
        if not available(used, features):  # the embeddings' baseline without the vectors: kept as it was
            continue
        if used.column not in found:
            found[used.column] = used.make(n_clusters=n_clusters, seed=stored.config.seed).fit(
                stack_inputs(used, features)).labels_
        found[entry.column] = found[used.column]
    return found
