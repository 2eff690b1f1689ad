"""What decides a run's results: :class:`RunConfig`, and the analyses (:data:`METHODS`) it can use.

``RunConfig.check`` is where a run's settings are checked against the data, before any work:
the network's settings by ``core.model.presets.training_plan``, the cluster count and the
contamination by ``core.methods.checks``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from core.errors import UserInputError
from core.methods.checks import check_contamination, check_n_clusters
from core.methods.registry import (
    CLUSTERERS,
    CONSENSUS_SELF_TRAINED,
    DEFAULT_SCORE,
    IFOREST_ON_LATENT,
    KMEANS_ON_LATENT,
    SCORERS,
    SELF_TRAINING_MIN_IMAGES,
    SMALL_IMAGE_SIDE,
    stand_in,
)
from core.model.presets import training_plan

FIT_SAMPLE = 60_000
MIN_FIT_SAMPLE = 100


@dataclass(frozen=True)
class Method:
    """An analysis of the latent: which registry clusterer and anomaly scorer a run uses. A clusterer
    that trains a network gives way to its base on images too small or too few for one
    (:func:`core.methods.registry.stand_in`)."""

    clusterer: str
    scorer: str

    def clusterer_for(self, image_shape, n_images: int, representation: bool = False) -> str:
        """The clusterer a run on ``n_images`` images of ``image_shape`` uses (``representation``: the
        network learns from a representation, not pixels)."""
        return stand_in(CLUSTERERS[self.clusterer], image_shape, n_images, representation).name

    @property
    def description(self) -> str:
        entry = CLUSTERERS[self.clusterer]
        text = f"clusters: {self.clusterer} ({entry.description})"
        if entry.base:
            text += (f", or {entry.base} alone for images under {SMALL_IMAGE_SIDE} pixels a side or fewer than"
                     f" {SELF_TRAINING_MIN_IMAGES:,} of them")
        return text + f"; anomaly score: {self.scorer} ({SCORERS[self.scorer].description})"


METHODS = {
    "default": Method(clusterer=CONSENSUS_SELF_TRAINED, scorer=DEFAULT_SCORE),
    "seed": Method(clusterer=KMEANS_ON_LATENT, scorer=IFOREST_ON_LATENT),
}


def default_method(preset: str) -> str:
    """The analysis a preset gets when none is chosen: the seed preset the seed's own (KMeans and
    IsolationForest on its latent, the 2018 tutorial's way), every other preset the default one."""
    return "seed" if preset == "seed" else "default"


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's results. Same config and data, same results.

    ``epochs`` and ``batch_size`` of None take the preset's values. ``contamination`` is the
    expected share of anomalies; it sets the flagging threshold, not the scores. ``method`` picks
    the clusterer and anomaly scorer (see ``METHODS``); None follows the preset
    (:func:`default_method`). ``fit_sample`` is how many images (seeded) the fit stages use; the
    rest are applied in chunks. ``embeddings`` is a file of vectors, one per analysed image, matched
    by id (``core.data.embeddings``): the network then learns from them instead of the pixels.
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
    embeddings: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def resolved_method(self) -> str:
        """"default" or "seed": the analysis this run uses."""
        method = self.method or default_method(self.preset)
        if method not in METHODS:
            raise UserInputError(f"unknown method '{method}'; choose one of {', '.join(METHODS)}")
        return method

    @property
    def analysis_method(self) -> Method:
        return METHODS[self.resolved_method()]

    def check(self, n_analysed: int, n_train: int | None = None) -> None:
        """Raise UserInputError for any setting that cannot work on this many images, before any
        work is done. ``n_train`` None checks only the settings a stored run can change without
        training (cluster count, contamination, method)."""
        self.resolved_method()
        if self.embeddings and self.preset == "seed":
            raise UserInputError("the seed preset's convolutions need pixels; with --embeddings use the default "
                                 "preset, which learns from your vectors")
        check_contamination(self.contamination)
        if not float(self.fit_sample).is_integer() or self.fit_sample < MIN_FIT_SAMPLE:
            raise UserInputError(f"the fit sample must be a whole number of at least {MIN_FIT_SAMPLE} images, "
                                 f"got {self.fit_sample}")
        check_n_clusters(self.clusters, min(n_analysed, self.fit_sample))
        if n_train is None:
            return
        training_plan(self.preset, self.epochs, self.batch_size, min(n_train, self.fit_sample))


def sample_positions(n_images: int, size: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded sample of ``size`` of ``n_images`` images (all when fewer): the
    fit sample of a run whose ``fit_sample`` is ``size``."""
    if n_images <= size:
        return np.arange(n_images)
    return np.sort(np.random.default_rng(seed).choice(n_images, size=int(size), replace=False))
