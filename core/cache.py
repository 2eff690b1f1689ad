"""The only place core meets Streamlit: cached wrappers around core functions.

Models and image sets are ``st.cache_resource`` (one shared copy, never mutated); small arrays and
tables derived from them are ``st.cache_data``. Every cached function is keyed by plain values
(a data spec, a run key, settings), so changing a view-only control never retrains or re-encodes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core import analysis
from core.data import ImageSet, load_train_and_analysis_sets
from core.pipeline import RunConfig, RunResult
from core.runs import RunStore

RUNS_DIR_ENV = "LATENT_EXPLORER_RUNS"


def _keep_keras_state_between_script_runs() -> None:
    """Stop Streamlit from calling ``keras.backend.clear_session()`` after every script run.

    Streamlit does that for apps that build models inside the script. Ours are built in background
    training threads, and Keras' clearing resets the layer-name counters and the random-seed state of
    every thread at once: a rerun during a model build then fails with "The name 'dense' is used
    2 times in the model" or silently breaks reproducibility.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = lambda: None


_keep_keras_state_between_script_runs()


def runs_dir() -> Path:
    """The runs folder: $LATENT_EXPLORER_RUNS, else ``runs/`` beside app.py."""
    return Path(os.environ.get(RUNS_DIR_ENV) or Path(__file__).resolve().parents[1] / "runs")


@st.cache_resource
def run_store(root: str) -> RunStore:
    """The process-wide store of trained runs in folder ``root``."""
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
def stored_embedding(root: str, key: str):
    """(embedding, record) of a stored run: everything but the model, read without TensorFlow."""
    return RunStore(root).load_embedding(key)


@st.cache_resource(show_spinner="Loading the trained model…", max_entries=8)
def trained_model(root: str, key: str):
    """The fitted autoencoder of a stored run (imports TensorFlow); only pages that decode need it."""
    return RunStore(root).load_model(key)


@st.cache_resource(show_spinner="Clustering…", max_entries=16)
def run_result(root: str, key: str, config: RunConfig) -> RunResult:
    """The result of a stored run at the config's cluster count and contamination (``model`` None:
    get it from :func:`trained_model` where needed). A cluster count clustered before, in this
    process or an earlier one, is read from the run folder."""
    bundle = load_data(config.data)
    return run_store(root).result(key, config, bundle.analysis, bundle.train, stored=stored_embedding(root, key))


@st.cache_data(show_spinner="Scoring k from 2 to 15…", max_entries=16)
def k_selection(root: str, key: str, seed: int) -> pd.DataFrame:
    """Elbow and silhouette scores over k = 2..15, in the space the run clusters in (its UMAP
    manifold for the default method, else the latent matrix)."""
    embedding, _ = stored_embedding(root, key)
    features = embedding.manifold if embedding.manifold.size else embedding.latent
    return pd.DataFrame(analysis.k_selection_scores(features, range(2, 16), seed=seed))


@st.cache_data(show_spinner="Decoding the cluster centres…", max_entries=16)
def decoded_centroids(root: str, key: str, config: RunConfig) -> np.ndarray:
    """(k, H, W, C) images: the decoder applied to each cluster's mean latent vector."""
    result = run_result(root, key, config)
    clusters = result.table["cluster"].to_numpy()
    centres = np.stack([result.latent[clusters == c].mean(axis=0) for c in range(config.clusters)])
    return trained_model(root, key).inverse_transform(centres)


@st.cache_data(show_spinner="Reconstructing the images…", max_entries=16)
def reconstructions(root: str, key: str, data_spec: str, indices: tuple[int, ...]) -> np.ndarray:
    """(n, H, W, C) reconstructions of the analysed images at ``indices``."""
    return trained_model(root, key).reconstruct(load_data(data_spec).analysis.images[list(indices)])


@st.cache_data(show_spinner="Clustering raw pixels for the baseline…", max_entries=16)
def raw_pixel_clustering(data_spec: str, n_clusters: int, seed: int) -> dict:
    """Accuracy, NMI and ARI of KMeans on raw pixels of the analysed images (needs labels)."""
    analysed = load_data(data_spec).analysis
    features = analysed.images.reshape(len(analysed), -1)
    clusters = analysis.fit_kmeans(features, n_clusters, seed=seed).labels_
    return analysis.clustering_scores(analysed.labels, clusters)
