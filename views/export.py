"""Export: the results table, the trained model and the run's metrics as files."""

import json

import streamlit as st

from ui import cached, state

st.title("Export")
bundle, key, result = state.result_or_stop()

st.download_button("Download results.csv", result.table.to_csv(index=False), "results.csv", "text/csv",
                   type="primary", icon=":material/table:", on_click="ignore")
st.caption("One row per image, in input order: " + ", ".join(result.table.columns)
           + ". Higher anomaly_score = more anomalous.")
st.download_button("Download model.keras", (cached.store().folder(key) / "model.keras").read_bytes(), "model.keras",
                   "application/octet-stream", icon=":material/neurology:", on_click="ignore")
st.caption("Plain Keras layers: `keras.saving.load_model('model.keras')` opens it anywhere; "
           "`Autoencoder.load('model.keras')` from `core.model` gives it back as a scikit-learn transformer.")
st.download_button("Download metrics.json", json.dumps(result.metrics, indent=2), "metrics.json", "application/json",
                   icon=":material/data_object:", on_click="ignore")
st.dataframe(result.table.head(20), width="stretch", hide_index=True)
