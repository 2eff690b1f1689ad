"""Latent map: every image as a point in a 2-D UMAP map of the latent space; select to look."""

import numpy as np
import streamlit as st

from ui import detail, figures, gallery, similar, state
from ui.sidebar import remembered

st.title("Latent map")
bundle, key, result = state.result_or_stop()
table = result.table

colour_options = {"cluster": "cluster", "anomaly_score": "anomaly score", "reconstruction_error": "reconstruction error"}
if "label" in table:
    colour_options = {"label": "true label", **colour_options}
colour = remembered(st.radio, "Colour by", "map_colour", "cluster", options=list(colour_options),
                    format_func=colour_options.get, horizontal=True)
shown = state.map_rows(table.assign(label=table["label"].astype(str)) if "label" in table else table)

figure = figures.latent_map(shown, colour, f"{len(table):,} images, coloured by {colour_options[colour]}",
                            categorical=colour in ("cluster", "label"))
selected = [i for i in state.selectable_map(figure, "latent_map") if i < len(table)]
st.caption("Click a point, or drag a box or lasso (tools at the top right of the map), to see those images below; "
           "double-click the map to clear. Hover for the file name. Label the selection on the **Labels** page.")

st.subheader(f"Selected images: {len(selected):,}")
if selected:
    shown = gallery.paged(np.asarray(selected), 60, key="map-page")
    rows = table.iloc[shown]
    gallery.show_images(bundle.analysis.read(shown).images,
                        [f"{name} · cluster {c}" for name, c in zip(rows["id"], rows["cluster"])],
                        indices=shown, key="map-selection", on_open=detail.show)
    st.caption("file · cluster; the magnifier under an image opens it large.")

similar.upload_and_search(on_open=detail.show)
