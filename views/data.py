"""Data: what the selected images are, before any training."""

import numpy as np
import streamlit as st

from core.data.images import network_shape
from core.model.presets import design_for
from ui import figures, gallery, state

st.title("Data")
bundle = state.data_or_stop()
images = bundle.analysis
height, width, channels = images.image_shape

columns = st.columns(4)
columns[0].metric("Images analysed", f"{len(images):,}")
columns[1].metric("Images for training", f"{len(bundle.train):,}")
columns[2].metric("Image size", f"{height} × {width}")
columns[3].metric("Colour", "grey" if channels == 1 else "RGB")
st.caption(f"Source: {images.name}" + ("" if bundle.train is bundle.analysis else f"; trained on {bundle.train.name}"))
config = state.selection().config
embeddings = getattr(images, "embeddings", None)
if embeddings is not None:
    st.info(f"Using {embeddings.describe()}. The network learns from these vectors; the pages show the images.",
            icon=":material/scatter_plot:")
design = design_for(config.preset, network_shape(images), min(len(bundle.train), config.fit_sample))
if design is not None:
    st.caption(f"The {config.preset} preset chooses for these images: {design.describe(images.image_shape)}.")

labels = images.label_text()
if labels is not None:
    names, counts = np.unique(labels, return_counts=True)
    st.plotly_chart(figures.bar_counts(list(names), counts.tolist(), "Images per label", "label"),
                    width="stretch")
else:
    st.caption("No labels: everything downstream works without them; labels are only used to evaluate.")

st.subheader("Sample")
sample_size = st.slider("Images to show", 12, 120, 48, step=12)
sample = np.sort(np.random.default_rng(0).choice(len(images), size=min(sample_size, len(images)), replace=False))
shown = images.read(sample)
names = shown.label_text()
gallery.show_images(shown.images, [str(file) + ("" if names is None else f" · {name}")
                                   for file, name in zip(shown.ids, names if names is not None else shown.ids)])
st.caption("file" + ("" if names is None else " · label") + ": the path inside the zip or folder, or the row.")
