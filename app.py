"""Latent explorer: `streamlit run app.py`. Builds the navigation and the shared sidebar, then
runs the chosen page. Nothing heavy runs here: TensorFlow loads only when a model is needed."""

import streamlit as st

from ui import sidebar

st.set_page_config(page_title="Latent explorer", page_icon=":material/scatter_plot:", layout="wide")

pages = [
    st.Page("views/data.py", title="Data", icon=":material/image:", default=True),
    st.Page("views/training.py", title="Training", icon=":material/model_training:"),
    st.Page("views/latent_map.py", title="Latent map", icon=":material/scatter_plot:"),
    st.Page("views/clusters.py", title="Clusters", icon=":material/workspaces:"),
    st.Page("views/anomalies.py", title="Anomalies", icon=":material/warning:"),
    st.Page("views/export.py", title="Export", icon=":material/download:"),
]
navigation = st.navigation(pages)
if sidebar.render():
    sidebar.start_run()
navigation.run()
