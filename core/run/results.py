"""What a run produced: :class:`RunResult`, its results table and its metrics (metrics.json)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.evaluation import anomaly_detection_scores, clustering_scores
from core.methods.checks import anomaly_threshold
from core.methods.registry import stand_ins
from core.run.comparison import comparison_scores
from core.run.config import RunConfig
from core.similar.duplicates import Duplicates

if TYPE_CHECKING:  # imported where used: scikit-learn, which it needs, is slow to import
    from core.model.autoencoder import Autoencoder


@dataclass(frozen=True)
class ModelSummary:
    """metrics.json's ``model``: what the run trained and which methods it used, typed.

    ``network`` describes the design the preset chose for the data; ``clusterer`` is the one that ran
    (a stand-in where images are too small or too few, see ``stand_ins``); ``representation`` what
    the network learned from ("pixels", "photo features", "vectors"); ``note``, set when the
    app re-clusters a stored run at another k, says which clusterer gave those clusters."""

    preset: str
    latent_size: int
    implementation: str | None
    network: str
    method: str
    clusterer: str
    scorer: str
    stand_ins: dict[str, str] = field(default_factory=dict)
    representation: str = "pixels"
    note: str | None = None

    def to_dict(self) -> dict:
        summary = dataclasses.asdict(self)
        if summary["note"] is None:
            del summary["note"]
        return summary

    @classmethod
    def from_metrics(cls, metrics: dict) -> ModelSummary:
        """The summary in a run's metrics (missing optional keys take their defaults)."""
        model = metrics["model"]
        return cls(**{name: model[name] for name in (f.name for f in dataclasses.fields(cls)) if name in model})


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        config: the run's config.
        model: the fitted autoencoder; None when read from a run folder without loading it.
        table: one row per analysed image, in input order: ``index, cluster, anomaly_score,
            reconstruction_error, map_x, map_y`` (+ ``label``) + ``id, duplicate_group``.
        latent: (N, d) float32 latent matrix of the analysed images.
        manifold: (N, m) float32 clustering manifold of the analysed images.
        sample: (S,) sorted positions of the fit sample among the analysed images.
        comparison: one row per compared image (``index``: its position), a ``cluster: NAME``
            column per clusterer and a ``score: NAME`` column per anomaly scorer.
        pixel_manifold: (C, m) float32 UMAP manifold of the compared images' pixels.
        representation: (N, r) float32 what the network learned from, when not the pixels (photos'
            content features, a user's vectors scaled), else None.
        metrics: history, seconds per stage, threshold, duplicates, and evaluation scores when known.
        duplicates: the exact and near copies among the analysed images (``core.similar``); None
            for a run read without them.
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
    representation: np.ndarray | None = None
    duplicates: Duplicates | None = None


def assemble(config: RunConfig, model, analysis_set, train_set, sample: np.ndarray, outputs: dict,
             comparison: pd.DataFrame, pixel_manifold: np.ndarray, seconds: dict,
             history: dict | None = None, duplicates: Duplicates | None = None) -> RunResult:
    """The results table and metrics of a finished run (``history`` None: the model's)."""
    seconds = dict(seconds)
    seconds["total"] = round(sum(v for k, v in seconds.items() if k != "total" and not k.startswith("apply ")), 3)
    table = results_table(analysis_set, outputs, duplicates)
    metrics = {
        "config": config.to_dict(),
        "data": {"analysed": analysis_set.name, "trained_on": train_set.name, "n_images": len(analysis_set),
                 "n_train_images": len(train_set), "image_shape": list(analysis_set.image_shape),
                 "fit_sample": len(sample), "compared": len(comparison)},
        "model": ModelSummary(
            preset=config.preset, latent_size=int(outputs["latent"].shape[1]),
            implementation=getattr(model, "implementation_", None),
            network=model.design_.describe(train_set.image_shape)
            if getattr(model, "design_", None) else config.preset,
            method=config.resolved_method(),
            clusterer=config.analysis_method.clusterer_for(analysis_set.image_shape, len(sample),
                                                           "representation" in outputs),
            scorer=config.analysis_method.scorer,
            stand_ins=stand_ins(analysis_set.image_shape, len(comparison), "representation" in outputs),
            representation=model.design_.representation if getattr(model, "design_", None) else "pixels").to_dict(),
        "history": model.history_ if history is None else history,
        "seconds": seconds,
        "anomaly_threshold": anomaly_threshold(table["anomaly_score"].to_numpy(), config.contamination),
    }
    if duplicates is not None:
        metrics["duplicates"] = duplicates.summary()
    metrics.update(evaluate(analysis_set, table, comparison))
    return RunResult(config=config, model=model, table=table, latent=np.asarray(outputs["latent"], np.float32),
                     manifold=np.asarray(outputs["manifold"], np.float32), sample=sample, comparison=comparison,
                     pixel_manifold=pixel_manifold, metrics=metrics, representation=outputs.get("representation"),
                     duplicates=duplicates)


def results_table(analysis_set, outputs: dict, duplicates: Duplicates | None = None) -> pd.DataFrame:
    """``index, cluster, anomaly_score, reconstruction_error, map_x, map_y`` (+ ``label``) + ``id,
    duplicate_group``, one row per analysed image in input order. ``duplicate_group`` is shared by
    the images of one group of copies, -1 for an image without a copy (and for every image without
    ``duplicates``)."""
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
    table["duplicate_group"] = np.full(len(table), -1, np.int64) if duplicates is None else duplicates.group
    return table


def evaluate(image_set, table: pd.DataFrame, comparison: pd.DataFrame | None = None) -> dict:
    """Clustering scores against labels and anomaly scores against known flags, where known;
    with ``comparison``, the same for every compared method, best first."""
    scores = {}
    labels, flags = image_set.labels, image_set.anomaly_flags
    has_flags = flags is not None and flags.any() and not flags.all()
    if labels is not None:
        scores["clustering"] = clustering_scores(labels, table["cluster"])
    if has_flags:
        scores["anomaly"] = {
            "anomaly_score": anomaly_detection_scores(flags, table["anomaly_score"]),
            "reconstruction_error": anomaly_detection_scores(flags, table["reconstruction_error"]),
        }
    if comparison is not None:
        known = comparison_scores(comparison, None if labels is None else labels[comparison["index"]],
                                  flags[comparison["index"]] if has_flags else None)
        if known:
            scores["comparison"] = known
    return scores

