"""Runs: every stored run, to open again or delete; runs made by the command line can be opened too."""

from datetime import datetime

import pandas as pd
import streamlit as st

from core import settings
from core.errors import UserInputError
from core.run import uploads
from core.run.config import RunConfig, default_method
from core.run.folder import read_record
from core.run.progress import format_seconds
from core.run.store import run_key
from ui import cached, keys, sidebar

st.title("Runs")
store = cached.store()
public = sidebar.public_mode()
message = st.session_state.pop(keys.RUNS_MESSAGE, None)
if message:
    st.error(message)

for job in store.running_jobs():
    progress = job.progress
    st.progress(progress.fraction(), text=f"Training now: {job.config.data.rsplit('/', 1)[-1]} · {progress.describe()}")

runs = store.runs()
if not runs:
    st.info("No stored runs yet: choose data and settings in the sidebar and press **Run**.")
table = pd.DataFrame([{
    "data": run["data"]["analysed"],
    "trained on": run["data"]["trained_on"],
    "images": run["data"]["n_images"],
    "preset": run["config"]["preset"],
    "method": run["config"]["method"] or default_method(run["config"]["preset"]),
    "epochs": len(run["history"].get("loss", [])),
    "seed": run["config"]["seed"],
    "k": run["config"]["clusters"],
    "took": format_seconds(run["seconds"].get("total", 0)),
    "size (MB)": round(run["bytes"] / 2**20, 1),
    "made": datetime.fromtimestamp(run["created"]).strftime("%Y-%m-%d %H:%M"),
} for run in runs])
if runs:
    picked = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                          key="runs-table")
    rows = picked.selection.rows if picked else []
    if not rows:
        st.caption("Select a run (the box at the left of its row) to open or delete it.")
    else:
        run = runs[rows[0]]
        config = RunConfig(**run["config"])
        open_column, delete_column = st.columns([1, 3])
        if open_column.button("Open", type="primary", icon=":material/open_in_new:", on_click=sidebar.open_run,
                              args=(config,)):
            st.switch_page("views/latent_map.py")
        training = any(job.key == run["key"] for job in store.running_jobs())
        with delete_column.popover("Delete", icon=":material/delete:", disabled=public or training,
                                   help="Not in public mode" if public else None):
            st.write(f"Delete the run on **{run['data']['analysed']}** ({table['size (MB)'][rows[0]]} MB), "
                     "with its labels? This cannot be undone.")
            if st.button("Delete this run", type="primary"):
                store.delete(run["key"])
                cached.forget_runs()
                st.rerun()



def open_command_line_run() -> None:
    """The button's callback (before the sidebar is drawn): copy the run into the store, select it."""
    folder = st.session_state.get(keys.CLI_RUN_FOLDER, "").strip()
    try:
        record = read_record(folder)
        if record is None:
            raise UserInputError(f"'{folder}' holds no complete run: its run.json is missing or its files changed")
        config = RunConfig(**record["config"])
        bundle = cached.load_data(config.data, config.embeddings)
        store.adopt(folder, run_key(config, bundle.train_fingerprint, bundle.analysis_fingerprint))
        sidebar.open_run(config)
        st.session_state[keys.RUNS_OPEN] = True
    except UserInputError as error:
        st.session_state[keys.RUNS_MESSAGE] = str(error)


if not public:
    st.subheader("Open a run made by the command line")
    folder = st.text_input("Its folder (the --out of python -m core run)", key=keys.CLI_RUN_FOLDER).strip()
    st.button("Open this run", on_click=open_command_line_run, disabled=not folder)
if st.session_state.pop(keys.RUNS_OPEN, False):
    st.switch_page("views/latent_map.py")

st.caption(f"Uploads that no stored run uses are removed after {settings.upload_keep_days():g} days "
           f"({uploads.FOLDER}/ in the runs folder; set {settings.UPLOAD_DAYS} to change it).")
