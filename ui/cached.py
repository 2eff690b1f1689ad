"""Cached wrappers around core functions: where core meets Streamlit's caches (core imports no Streamlit).

Models, image sets and stored runs are ``st.cache_resource`` (one shared copy, never mutated);
small arrays and tables derived from them are ``st.cache_data``. Every cached function is keyed by
plain values (a data spec, a run key, settings), so changing a view-only control never retrains or
re-encodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core import settings
from core.data.images import ImageSet
from core.data.load import load_train_and_analysis_sets
from core.evaluation import k_selection_scores
from core.methods.registry import CLUSTERERS, stack_inputs, without_training
from core.run.config import RunConfig
from core.run.lookup import FoundForFile, RunSearch
from core.run.results import ModelSummary, RunResult
from core.run.store import RunStore


def runs_dir() -> Path:
    """The runs folder (``core.settings.runs_dir``)."""
    return settings.runs_dir()


@st.cache_resource
def run_store(root: str) -> RunStore:
    """The process-wide store of runs in folder ``root``."""
    return RunStore(root)


def store() -> RunStore:
    return run_store(str(runs_dir()))


@dataclass(frozen=True)
class DataBundle:
    """The training and analysed images of a data spec, with their fingerprints."""

    train: ImageSet
    analysis: ImageSet
    train_fingerprint: str
    analysis_fingerprint: str


@st.cache_resource(show_spinner="Loading images…", max_entries=4)
def load_data(data_spec: str) -> DataBundle:
    """Load and fingerprint a data spec once per process. Raises UserInputError for bad input."""
    train, analysed = load_train_and_analysis_sets(data_spec)
    analysis_fingerprint = analysed.fingerprint()
    train_fingerprint = analysis_fingerprint if train is analysed else train.fingerprint()
    return DataBundle(train, analysed, train_fingerprint, analysis_fingerprint)


@st.cache_resource(show_spinner="Loading the stored run…", max_entries=8)
def stored_run(root: str, key: str) -> RunResult:
    """A stored run as written, read without TensorFlow."""
    return RunStore(root).read(key)


@st.cache_resource(show_spinner=False)
def remove_unused_uploads_once(root: str, keep_days: float) -> list[str]:
    """Once per process: remove old uploads no run uses (see core.run.uploads), in the background."""
    import threading

    removed: list[str] = []
    store = run_store(root)
    threading.Thread(target=lambda: removed.extend(store.remove_unused_uploads(keep_days)),
                     name="upload-cleanup", daemon=True).start()
    return removed


def forget_runs() -> None:
    """Drop the runs read into memory (after a run was deleted)."""
    stored_run.clear()
    run_result.clear()
    trained_model.clear()


@st.cache_resource(show_spinner="Loading the trained model…", max_entries=8)
def trained_model(root: str, key: str):
    """The fitted autoencoder of a stored run (imports TensorFlow); only pages that decode need it."""
    return RunStore(root).load_model(key)


@st.cache_resource(show_spinner="Clustering…", max_entries=16)
def run_result(root: str, key: str, config: RunConfig) -> RunResult:
    """The stored run at the config's cluster count and contamination (``model`` None: get it from
    :func:`trained_model` where needed). Another cluster count, clustered before in this process or
    an earlier one, is read from the run folder."""
    return run_store(root).result(key, config, load_data(config.data).analysis, stored=stored_run(root, key))


@st.cache_data(show_spinner="Scoring k from 2 to 15…", max_entries=16)
def k_selection(root: str, key: str) -> tuple[pd.DataFrame, str, str]:
    """The run's clusterer at k = 2..15 on the fit sample: its own criterion (KMeans' inertia, a
    mixture's BIC, ...) and the silhouette, in the space it clusters in. Returns (scores, clusterer
    name, criterion name)."""
    stored = stored_run(root, key)
    entry = without_training(CLUSTERERS[ModelSummary.from_metrics(stored.metrics).clusterer])  # no training at each k
    features = stack_inputs(entry, {"latent": stored.latent[stored.sample], "manifold": stored.manifold[stored.sample]})

    def make(k):
        return entry.make(n_clusters=k, seed=stored.config.seed, quick=True)

    scores = k_selection_scores(features, make, range(2, 16), seed=stored.config.seed)
    return pd.DataFrame(scores), entry.name, make(2).criterion


@st.cache_data(show_spinner="Decoding the cluster centres…", max_entries=16)
def decoded_centroids(root: str, key: str, config: RunConfig) -> np.ndarray:
    """(k, H, W, C) images: the decoder applied to each cluster's mean latent vector."""
    result = run_result(root, key, config)
    clusters = result.table["cluster"].to_numpy()
    centres = np.stack([result.latent[clusters == c].mean(axis=0) if np.any(clusters == c)
                        else np.zeros(result.latent.shape[1], np.float32) for c in range(config.clusters)])
    return trained_model(root, key).inverse_transform(centres)


@st.cache_data(show_spinner="Reconstructing the images…", max_entries=16)
def reconstructions(root: str, key: str, data_spec: str, indices: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """(pictures, drawings), each (n, h, w, C): the analysed images at ``indices`` as the network
    sees them (straightened, standardised or as they are; with photo features, standardised and
    halved) and its drawing of them (the reconstruction, or what the pixel decoder draws from their
    latent vectors); None when the network rebuilds vectors and nothing draws pixels."""
    images = load_data(data_spec).analysis.read(np.asarray(indices, dtype=np.int64)).images
    return trained_model(root, key).draw(images)


@st.cache_resource(max_entries=4)
def _thumbnail_memo(data_spec: str, fingerprint: str) -> dict[int, str]:
    """Image index -> PNG data URI, filled as thumbnails are asked for (one dict per data set)."""
    return {}


def thumbnails(data_spec: str, fingerprint: str, indices: tuple[int, ...]) -> list[str]:
    """The analysed images at ``indices`` as small PNG data URIs (``ui.pictures.data_uri``), each encoded
    once per process: a map's few hundred thumbnails cost their reading and encoding only the first
    time they are drawn. ``fingerprint`` (the data's) keeps one data set's apart from another's."""
    from ui.pictures import data_uri

    memo = _thumbnail_memo(data_spec, fingerprint)
    missing = np.asarray(sorted(set(indices) - memo.keys()), dtype=np.int64)
    if len(missing):
        for index, image in zip(missing, load_data(data_spec).analysis.read(missing).images):
            memo[int(index)] = data_uri(image)
    return [memo[index] for index in indices]


def run_search(root: str, key: str, config: RunConfig) -> RunSearch:
    """The search for images like a given one over a stored run (its images read from the source)."""
    analysis = load_data(config.data).analysis
    return RunSearch(run_result(root, key, config), lambda positions: analysis.read(positions).images,
                     lambda: trained_model(root, key))


@st.cache_data(show_spinner="Looking for images like this one…", max_entries=64)
def images_like(root: str, key: str, config: RunConfig, index: int, top: int,
                ordinary_below: float | None = None) -> pd.DataFrame:
    """The ``top`` images most like image ``index`` (rank, index, distance, near_copy, id); with
    ``ordinary_below``, those that are not near copies have anomaly scores at most that."""
    search = run_search(root, key, config)
    among = None if ordinary_below is None else search.result.table["anomaly_score"].to_numpy() <= ordinary_below
    return search.like_index(index, top, among)


@st.cache_data(show_spinner="Encoding your image with the run's model…", max_entries=16)
def images_like_file(root: str, key: str, config: RunConfig, data: bytes, name: str, top: int) -> FoundForFile:
    """The ``top`` images most like an image file, its latent vector and place on the map
    (UserInputError for a file that is not an image the run can take)."""
    return run_search(root, key, config).like_file(data, name, top)
