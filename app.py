"""Latent explorer: `streamlit run app.py`. Builds the navigation and the shared sidebar, then
runs the chosen page. Nothing heavy runs here: TensorFlow loads in the background once the first
page is drawn (core/run/warmup.py), and only while the selected settings have no stored run.

The address bar always holds a link to the current view (ui/link.py): opening it in a fresh
browser reads the data, settings, page, colouring and selection back from it.
"""

import streamlit as st

from ui import sidebar

st.set_page_config(page_title="Latent explorer", page_icon=":material/scatter_plot:", layout="wide")

pages = {  # the `page` parameter of a link -> the page
    "data": st.Page("views/data.py", title="Data", icon=":material/image:", default=True),
    "training": st.Page("views/training.py", title="Training", icon=":material/model_training:"),
    "latent_map": st.Page("views/latent_map.py", title="Latent map", icon=":material/scatter_plot:"),
    "clusters": st.Page("views/clusters.py", title="Clusters", icon=":material/workspaces:"),
    "anomalies": st.Page("views/anomalies.py", title="Anomalies", icon=":material/warning:"),
    "duplicates": st.Page("views/duplicates.py", title="Duplicates", icon=":material/content_copy:"),
    "labels": st.Page("views/labels.py", title="Labels", icon=":material/label:"),
    "export": st.Page("views/export.py", title="Export", icon=":material/download:"),
    "runs": st.Page("views/runs.py", title="Runs", icon=":material/history:"),
}
navigation = st.navigation(list(pages.values()))
linked_page = sidebar.apply_link()
if linked_page in pages and pages[linked_page].url_path != navigation.url_path:
    st.switch_page(pages[linked_page])
if sidebar.render():
    sidebar.start_run()
sidebar.start_linked_run()
sidebar.share(next(name for name, page in pages.items() if page.url_path == navigation.url_path), navigation.url_path)
try:
    navigation.run()
finally:  # the page is drawn (or stopped): load what a Run will need while the user looks at it
    sidebar.warm_up_unless_stored()
