"""The registry: every clusterer, anomaly scorer and labeller by its name, with what it reads and how to
make it.

A method's name is defined once, here, as its entry's ``name``; the comparison's column for it
(``entry.column``: ``cluster: NAME``, ``score: NAME`` or ``label: NAME``) and the ``method`` of metrics.json's
comparison rows are derived from it. Code elsewhere refers to a method by the constants below
(``SELF_TRAINED``, ``KMEANS_ON_LATENT``, ...: one for each name used outside this file), never by a
copy of its name.

``X`` is the column stack of the features an entry names in ``inputs`` (:func:`stack_inputs`):
``latent`` (N, d), ``manifold`` (N, m), ``pixels`` (N, H*W*C), ``pixel_manifold`` (N, m),
``cross_entropy`` (N,), ``squared_error`` (N,), ``representation`` (N, r) (what the network learned
from, when not the pixels), ``embeddings`` (N, e) (the vectors a user brought, as given) and
``cluster`` (N,) the run's clusters (for labellers). An entry whose inputs a run lacks
(:func:`available`) is left out of its comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.methods.clusterers import KMeansClusterer, MixtureClusterer, SelfLabelledClusterer, SelfTrainedClusterer
from core.methods.consensus import ConsensusClusterer
from core.methods.labellers import (
    ClusterAndSpreadingLabeller,
    LinearLabeller,
    NeighbourVoteLabeller,
    SelfTrainedLabeller,
    SpreadingLabeller,
)
from core.methods.scorers import ColumnScorer, IsolationForestScorer, KnnDistanceScorer, LatentAndReconstructionScorer

CLUSTER, SCORE, LABEL = "cluster", "score", "label"  # the kinds of entry, and the prefixes of their columns


@dataclass(frozen=True)
class MethodSettings:
    """What a factory may be given: the run's settings that methods read. ``quick`` (scanning many
    k) makes clusterers with fewer starts; ``novelty`` says the scorer is fitted on other images than
    it scores; ``image_shape`` (H, W, C) is for methods that read pixels as images;
    ``representation_size`` the columns of the representation, for methods that read it."""

    n_clusters: int = 10
    contamination: float = 0.01
    seed: int = 0
    image_shape: tuple[int, int, int] | None = None
    novelty: bool = False
    quick: bool = False
    representation_size: int | None = None


@dataclass(frozen=True)
class Entry:
    """One method in the registry.

    ``kind`` is ``CLUSTER``, ``SCORE`` or ``LABEL``; ``short`` a name for crowded chart axes; ``inputs`` names
    the features stacked into its X; ``factory(settings)`` returns an unfitted estimator; ``base``
    names the entry that stands in for it where training a network is out of place (re-clustering
    at another k in the app's server); ``on_representation`` the entry that runs for it when the
    autoencoder learns from a representation instead of pixels (photos' content features, a user's
    vectors); ``uses_autoencoder`` is False for the raw-pixel baselines.
    """

    kind: str
    name: str
    short: str
    inputs: tuple[str, ...]
    factory: Callable[[MethodSettings], object]
    description: str
    uses_autoencoder: bool = True
    base: str | None = None
    on_representation: str | None = None

    def make(self, **settings):
        """An unfitted estimator for ``settings`` (the fields of :class:`MethodSettings`; an unknown
        keyword is a TypeError, not silently ignored)."""
        return self.factory(MethodSettings(**settings))

    @property
    def column(self) -> str:
        """Its column in a comparison table: ``cluster: NAME``, ``score: NAME`` or ``label: NAME``."""
        return f"{self.kind}: {self.name}"


def _kmeans(settings: MethodSettings) -> KMeansClusterer:
    return KMeansClusterer(n_clusters=settings.n_clusters, seed=settings.seed, **({"n_init": 2} if settings.quick else {}))


def _mixture(settings: MethodSettings) -> MixtureClusterer:
    return MixtureClusterer(n_clusters=settings.n_clusters, seed=settings.seed,
                            **({"n_init": 1} if settings.quick else {}))


def _self_trained_on(base, settings: MethodSettings, **options) -> SelfTrainedClusterer:
    """A SelfTrainedClusterer sharpening ``base``'s clusters (10 epochs on colour images, else 8)."""
    if settings.image_shape is None:
        raise ValueError("self-training needs the images' shape")
    return SelfTrainedClusterer(base, settings.image_shape, n_clusters=settings.n_clusters, seed=settings.seed,
                                epochs=10 if settings.image_shape[-1] == 3 else 8, **options)


def _self_trained(settings: MethodSettings) -> SelfTrainedClusterer:
    return _self_trained_on(_kmeans(settings), settings)


def _consensus(settings: MethodSettings) -> ConsensusClusterer:
    return ConsensusClusterer(n_clusters=settings.n_clusters, seed=settings.seed,
                              **({"n_manifolds": 1} if settings.quick else {}))


def _consensus_self_trained(settings: MethodSettings) -> SelfTrainedClusterer:
    return _self_trained_on(_consensus(settings), settings, min_steps=1200, min_agreement=0.8)


def _self_labelled(settings: MethodSettings) -> SelfLabelledClusterer:
    if settings.representation_size is None:
        raise ValueError("self-labelling needs the representation's size")
    return SelfLabelledClusterer(_kmeans(settings), settings.representation_size, n_clusters=settings.n_clusters,
                                 seed=settings.seed)


def _forest(settings: MethodSettings) -> IsolationForestScorer:
    return IsolationForestScorer(contamination=settings.contamination, seed=settings.seed)


def _column(settings: MethodSettings) -> ColumnScorer:
    return ColumnScorer(contamination=settings.contamination)


CONSENSUS_SELF_TRAINED = "consensus of manifolds, self-trained"
CONSENSUS = "consensus of manifolds"
SELF_TRAINED = "KMeans in manifold, self-trained"
SELF_LABELLED = "KMeans in manifold, self-labelled"
KMEANS_IN_MANIFOLD = "KMeans in manifold"
KMEANS_ON_LATENT = "KMeans on latent"
RAW_PIXEL_KMEANS = "raw-pixel KMeans"
KMEANS_ON_EMBEDDINGS = "KMeans on your embeddings"

CLUSTERERS = {entry.name: entry for entry in [
    Entry(CLUSTER, CONSENSUS_SELF_TRAINED, "consensus + CNN", ("latent", "manifold", "pixels"), _consensus_self_trained,
          "the consensus of manifolds below, then a small CNN trained on the images whose cluster their latent "
          "neighbours agree on assigns every image", base=CONSENSUS, on_representation=SELF_LABELLED),
    Entry(CLUSTER, CONSENSUS, "consensus", ("latent", "manifold"), _consensus,
          "KMeans over-clusters each of up to three 10-D UMAP manifolds of the latent vectors, the groups are merged "
          "along the latent's neighbour graph (greatest modularity first), and the manifolds' consensus is kept"),
    Entry(CLUSTER, SELF_TRAINED, "KMeans + CNN", ("manifold", "pixels"), _self_trained,
          "KMeans in the 10-D UMAP manifold of the latent vectors, then a small CNN trained on the images with "
          "those clusters as targets assigns every image", base=KMEANS_IN_MANIFOLD, on_representation=SELF_LABELLED),
    Entry(CLUSTER, SELF_LABELLED, "KMeans + linear", ("manifold", "representation"), _self_labelled,
          "KMeans in the 10-D UMAP manifold of the latent vectors, then a logistic regression trained on the "
          "representation of each cluster's more typical half assigns every image", base=KMEANS_IN_MANIFOLD),
    Entry(CLUSTER, "Gaussian mixture in manifold", "mixture, manifold", ("manifold",), _mixture,
          "a Gaussian mixture (best of 5 starts) in a 10-D UMAP manifold of the latent vectors"),
    Entry(CLUSTER, KMEANS_IN_MANIFOLD, "KMeans, manifold", ("manifold",), _kmeans,
          "KMeans in the same 10-D UMAP manifold of the latent vectors"),
    Entry(CLUSTER, KMEANS_ON_LATENT, "KMeans, latent", ("latent",), _kmeans,
          "KMeans on the latent vectors themselves (the 2018 tutorial's way)"),
    Entry(CLUSTER, RAW_PIXEL_KMEANS, "KMeans, pixels", ("pixels",), _kmeans,
          "KMeans on the pixels, no autoencoder: the baseline to beat", uses_autoencoder=False),
    Entry(CLUSTER, "raw-pixel UMAP + mixture", "mixture, pixel UMAP", ("pixel_manifold",), _mixture,
          "the same UMAP manifold and mixture, on the pixels instead of the latent", uses_autoencoder=False),
    Entry(CLUSTER, KMEANS_ON_EMBEDDINGS, "KMeans, embeddings", ("embeddings",), _kmeans,
          "KMeans on the vectors you brought, as they are, no autoencoder (only in runs with embeddings)",
          uses_autoencoder=False),
]}

DEFAULT_SCORE = "default score"
IFOREST_ON_LATENT = "IsolationForest on latent"
SQUARED_ERROR = "reconstruction error (squared)"

SCORERS = {entry.name: entry for entry in [
    Entry(SCORE, DEFAULT_SCORE, "default", ("latent", "cross_entropy", "squared_error"),
          lambda settings: LatentAndReconstructionScorer(contamination=settings.contamination, seed=settings.seed,
                                                         novelty=settings.novelty),
          "the distance to the nearest images in the latent space and the reconstruction error, each in units "
          "of its spread over the training images: the larger of the two (or, against separate clean training "
          "images, their sum)"),
    Entry(SCORE, IFOREST_ON_LATENT, "IForest, latent", ("latent",), _forest,
          "IsolationForest on the latent vectors (the project's starting question)"),
    Entry(SCORE, "IsolationForest on raw pixels", "IForest, pixels", ("pixels",), _forest,
          "IsolationForest on the pixels, no autoencoder", uses_autoencoder=False),
    Entry(SCORE, SQUARED_ERROR, "squared error", ("squared_error",), _column,
          "mean squared pixel error of the autoencoder's reconstruction"),
    Entry(SCORE, "reconstruction error (cross-entropy)", "cross-entropy", ("cross_entropy",), _column,
          "mean binary cross-entropy of the reconstruction, the autoencoder's own loss"),
    Entry(SCORE, "kNN distance in latent", "kNN, latent", ("latent",),
          lambda settings: KnnDistanceScorer(contamination=settings.contamination, seed=settings.seed),
          "mean distance to the 10 nearest images in the latent space"),
]}


LOGISTIC_ON_REPRESENTATION = "logistic regression on representation"
LOGISTIC_ON_LATENT = "logistic regression on latent"
SPREADING_IN_MANIFOLD = "label spreading in manifold"
CLUSTERS_AND_SPREADING = "clusters + label spreading"
NEIGHBOUR_VOTE = "nearest-neighbour vote in latent"
SELF_TRAINED_CNN = "self-trained CNN"  # the labellers' names


def _self_trained_labeller(settings: MethodSettings) -> SelfTrainedLabeller:
    if settings.image_shape is None:
        raise ValueError("self-training needs the images' shape")
    return SelfTrainedLabeller(settings.image_shape, seed=settings.seed)


LABELLERS = {entry.name: entry for entry in [
    Entry(LABEL, LOGISTIC_ON_REPRESENTATION, "linear, representation", ("representation",),
          lambda settings: LinearLabeller(seed=settings.seed),
          "a logistic regression on the representation the network learned from (photos' content features, "
          "a user's vectors), trained on the labelled images"),
    Entry(LABEL, LOGISTIC_ON_LATENT, "linear, latent", ("latent",), lambda settings: LinearLabeller(seed=settings.seed),
          "a logistic regression on the latent vectors, trained on the labelled images"),
    Entry(LABEL, CLUSTERS_AND_SPREADING, "clusters + spreading", ("manifold", "cluster"),
          lambda settings: ClusterAndSpreadingLabeller(),
          "half each image's cluster's share of each label among its labelled images, half label spreading in "
          "the manifold (the spreading alone where a cluster holds no labelled image)"),
    Entry(LABEL, SPREADING_IN_MANIFOLD, "spreading, manifold", ("manifold",), lambda settings: SpreadingLabeller(),
          "label spreading over the graph of each image's 10 nearest images in the 10-D clustering manifold"),
    Entry(LABEL, NEIGHBOUR_VOTE, "kNN vote, latent", ("latent",), lambda settings: NeighbourVoteLabeller(),
          "each image takes the distance-weighted vote of its 10 nearest labelled images in the latent space"),
    Entry(LABEL, SELF_TRAINED_CNN, "CNN", ("pixels",), _self_trained_labeller,
          "the default clusterer's small CNN trained on the images: the labelled ones as fixed targets, then also "
          "the ones it is at least 90 % sure of, with its own guesses", base=SPREADING_IN_MANIFOLD),
]}


SMALL_IMAGE_SIDE = 16
SELF_TRAINING_MIN_IMAGES = 1_000
STAND_IN_REASON = "images too small or too few to train its network on"
REPRESENTATION_REASON = "the network learns from the images' representation, which a linear model reads directly"
NO_REPRESENTATION_REASON = "the network learns from the pixels here: there is no representation to read"


def stand_in_reason(name: str, used: str, representation: str = "pixels") -> str:
    """Why clusterer ``used`` runs for clusterer ``name`` (a pair of metrics.json's ``model.stand_ins``)
    in a run whose network learns from ``representation`` (metrics.json's ``model.representation``)."""
    entry = CLUSTERERS[name]
    if entry.on_representation == used:
        return REPRESENTATION_REASON
    return NO_REPRESENTATION_REASON if "representation" in entry.inputs and representation == "pixels" \
        else STAND_IN_REASON


def stand_in(entry: Entry, image_shape, n_images: int, representation: bool = False) -> Entry:
    """The entry that runs for ``entry`` on ``n_images`` images of ``image_shape`` ((H, W, C), or (d,)
    for vectors): its ``base`` when the images are under ``SMALL_IMAGE_SIDE`` pixels a side or fewer
    than ``SELF_TRAINING_MIN_IMAGES`` (too small, or too few, to learn more than the base's clusters
    already say; on a hundred photos a CNN only memorises them, for minutes), or when it reads a
    representation the run does not have; with a ``representation`` (the network learns from
    photos' features or vectors), its ``on_representation`` entry where it has one; otherwise
    ``entry`` itself."""
    if n_images < SELF_TRAINING_MIN_IMAGES or (len(image_shape) == 3 and min(image_shape[:2]) < SMALL_IMAGE_SIDE):
        return without_training(entry)
    if "representation" in entry.inputs and not representation:
        return without_training(entry)
    if representation and entry.on_representation:
        return CLUSTERERS[entry.on_representation]
    return entry


def without_training(entry: Entry) -> Entry:
    """``entry``'s ``base`` when it trains a network, else ``entry``: what runs where no network is
    trained (the app's server, clustering a stored run at another k)."""
    return CLUSTERERS[entry.base] if entry.base else entry


def stand_ins(image_shape, n_images: int, representation: bool = False) -> dict[str, str]:
    """{clusterer name: the name of the one that runs for it} on ``n_images`` images, for the
    clusterers that give way (see :func:`stand_in`); metrics.json's ``model.stand_ins``."""
    return {entry.name: used.name for entry in CLUSTERERS.values()
            if (used := stand_in(entry, image_shape, n_images, representation)) is not entry}


def available(entry: Entry, features) -> bool:
    """False for an entry that reads a user's ``embeddings`` when ``features`` (names, or a dict by
    name) have none: it is left out of a run without them. (An entry that reads a missing
    ``representation`` is not left out: its base stands in, :func:`stand_in`.)"""
    return "embeddings" not in entry.inputs or "embeddings" in features


def stack_inputs(entry: Entry, features: dict[str, np.ndarray]) -> np.ndarray:
    """The (N, columns) X of ``entry``: its ``inputs`` from ``features``, side by side."""
    columns = [np.asarray(features[name]).reshape(len(features[name]), -1) for name in entry.inputs]
    return columns[0] if len(columns) == 1 else np.hstack(columns)
