"""Training: live loss curves and progress while the autoencoder trains, then its reconstructions."""

import numpy as np
import streamlit as st

from core import cache
from ui import figures, gallery, state

st.title("Training")
bundle = state.data_or_stop()
key = state.current_key(bundle)
store = cache.store()
job = store.job(key)


@st.fragment(run_every=1.0)
def live_progress():
    progress = job.progress
    if not job.running:
        st.rerun()
    left = progress.seconds_left()
    text = f"Epoch {min(progress.epoch + 1, progress.epochs)} of {progress.epochs}"
    if progress.step:  # steps are reported 32 at a time: shorter epochs only show their epoch count
        text += f", step {progress.step} of {progress.steps}"
    if progress.stage != "train":
        text = {"queued": "Starting…", "encode": "Encoding the images…", "anomaly": "Scoring anomalies…",
                "map": "Drawing the 2-D map and the clustering manifold (UMAP)…",
                "cluster": "Clustering…"}.get(progress.stage, progress.stage)
    elif left is not None:
        text += f", about {left:.0f} s left"
    st.progress(progress.fraction, text=text)
    st.plotly_chart(figures.loss_curves(progress.history), width="stretch", key="live-loss")


if job is not None and job.running:
    live_progress()
    st.stop()
if job is not None and job.progress.stage == "failed":
    st.error(f"Training failed: {job.progress.error}")
if not store.has(key):
    st.info("No model for these settings yet: press **Run** in the sidebar.")
    st.stop()

record = store.record(key)
st.success(f"Trained on {record['data']['n_train_images']:,} images of {record['data']['trained_on']}; "
           f"preset **{record['config']['preset']}**, {len(record['history'].get('loss', []))} epochs.")
st.plotly_chart(figures.loss_curves(record["history"]), width="stretch")
seconds = record["seconds"]
if seconds:
    st.caption("Seconds per stage: " + ", ".join(f"{name} {value:.1f}" for name, value in seconds.items()))

st.subheader("Originals and reconstructions")
count = st.slider("Images", 10, 40, 10, step=10)
indices = tuple(int(i) for i in np.random.default_rng(1).choice(len(bundle.analysis), size=count, replace=False))
reconstructed = cache.reconstructions(str(cache.runs_dir()), key, state.selection().config.data, indices)
gallery.show_pairs(bundle.analysis.images[list(indices)], reconstructed)
