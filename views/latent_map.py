"""Latent map: every image as a point in a 2-D UMAP map of the latent space; filter, select, look."""

import numpy as np
import streamlit as st

from core import labels
from ui import cached, detail, figures, filters, gallery, mapview, similar, state, tables
from ui.sidebar import remembered

st.title("Latent map")
bundle, key, result = state.result_or_stop()
table = result.table
given = labels.load(cached.store().folder(key), bundle.analysis.ids).labels

chosen_filter = filters.bar(table, given)
keep = chosen_filter.mask(table, given)
colour_options = {"cluster": "cluster", "anomaly_score": "anomaly score", "reconstruction_error": "reconstruction error"}
if "label" in table:
    colour_options = {"label": "true label", **colour_options}
colour = remembered(st.radio, "Colour by", "map_colour", "cluster", options=list(colour_options),
                    format_func=colour_options.get, horizontal=True)
view = mapview.controls()
shown, left_out = mapview.split(table.assign(label=table["label"].astype(str)) if "label" in table else table, keep)

figure = figures.latent_map(shown, colour, f"{len(shown):,} images, coloured by {colour_options[colour]}",
                            categorical=colour in ("cluster", "label"), left_out=left_out)
everything = [i for i in mapview.draw(figure, table, shown, "latent", bundle, view, detail.show) if i < len(table)]
selected = [i for i in everything if keep[i]]
st.caption("Hover a point for its file name; label the selection on the **Labels** page.")

st.subheader(f"Selected images: {len(selected):,}")
if len(everything) > len(selected):
    st.caption(f"{len(everything) - len(selected):,} more selected images are left out by the filter.")
if selected:
    shown = gallery.paged(np.asarray(selected), 60, key="map-page")
    rows = table.iloc[shown]
    gallery.show_images(bundle.analysis.read(shown).images,
                        [f"{name} · cluster {c}" for name, c in zip(rows["id"], rows["cluster"])],
                        indices=shown, key="map-selection", on_open=detail.show)
    st.caption("file · cluster; the magnifier under an image opens it large.")
    tables.selection_table(table, selected, given, key="map-table", on_open=detail.show)

similar.upload_and_search(on_open=detail.show)
