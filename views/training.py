"""Training: one progress bar for the whole run with live loss curves, then the reconstructions."""

import numpy as np
import streamlit as st

from core.model.presets import DRAWINGS
from core.run.progress import STAGE_TITLES
from core.run.results import ModelSummary
from ui import cached, figures, gallery, state

st.title("Training")
bundle = state.data_or_stop()
key = state.current_key(bundle)
store = cached.store()
job = store.job(key)


@st.fragment(run_every=1.0)
def live_progress():
    progress = job.progress
    if not job.running:
        st.rerun()
    st.progress(progress.fraction(), text=progress.describe())
    stages = [name for name in progress.planned if name in progress.seconds or name == progress.stage]
    st.caption(" → ".join(f"**{STAGE_TITLES[name].split(' (')[0]}**" if name == progress.stage
                          else STAGE_TITLES[name].split(" (")[0] for name in stages))
    if progress.history.get("loss"):
        st.plotly_chart(figures.loss_curves(progress.history), width="stretch", key="live-loss")
    else:
        st.caption("The loss curves appear here once the first epoch has ended.")


if job is not None and job.running:
    live_progress()
    st.stop()
if job is not None and job.failed:
    st.error(f"The run failed: {job.error}")
if not store.has(key):
    st.info("No model for these settings yet: press **Run** in the sidebar.")
    st.stop()

record = store.record(key)
model = ModelSummary.from_metrics(cached.stored_run(str(cached.runs_dir()), key).metrics)
st.success(f"Trained on {record['data']['n_train_images']:,} images of {record['data']['trained_on']}; "
           f"preset **{record['config']['preset']}**, {len(record['history'].get('loss', []))} epochs.")
st.caption(f"Network: {model.network}. Clusters: {model.clusterer}. Anomaly score: {model.scorer}.")
st.plotly_chart(figures.loss_curves(record["history"]), width="stretch")
seconds = {name: value for name, value in record["seconds"].items() if " " not in name}
if seconds:
    st.caption("Seconds per stage: " + ", ".join(f"{name} {value:.1f}" for name, value in seconds.items()))

st.subheader("As the network sees them, and its reconstructions")
count = st.slider("Images", 10, 40, 10, step=10)
indices = tuple(int(i) for i in np.random.default_rng(1).choice(len(bundle.analysis), size=count, replace=False))
st.caption(DRAWINGS[model.representation].capitalize() + ".")
drawn = cached.reconstructions(str(cached.runs_dir()), key, state.selection().config.data, indices)
if drawn is not None:
    gallery.show_pairs(*drawn, names=("network input", "rebuilt"))
