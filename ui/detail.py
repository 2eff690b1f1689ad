"""One image up close: its own file at full size, its results, and why it is odd.

``show(index)`` opens a dialog from any gallery (the magnifier under an image). It reads the run the
sidebar selects; the reconstruction needs the trained model, loaded on first use.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import labels
from core.data.originals import original_image
from core.model.presets import DRAWINGS
from core.run.results import ModelSummary
from ui import cached, figures, gallery, similar, state

NEAREST = 6


@st.dialog("Image", width="large")
def show(index: int) -> None:
    bundle, key, result = state.result_or_stop()
    config = state.selection().config
    analysed = bundle.analysis
    row = result.table.iloc[index]
    scores = result.table["anomaly_score"].to_numpy()
    threshold = result.metrics["anomaly_threshold"]

    picture, facts = st.columns([3, 2])
    original = original_image(analysed, index)
    image = analysed.read(np.array([index])).images[0]
    if original is not None:
        picture.image(original, caption=f"{row['id']} (its own file, full size)")
    else:
        picture.image(gallery.to_display(image, 256), caption=f"image {index} ({image.shape[0]}×{image.shape[1]})")
    rank = int(np.sum(scores > scores[index])) + 1
    given = labels.load(cached.store().folder(key), analysed.ids).labels[index]
    facts.dataframe(pd.DataFrame({"": {
        "file": str(row["id"]),
        "cluster": str(row["cluster"]),
        "anomaly score": f"{row['anomaly_score']:.3f} (#{rank:,} of {len(scores):,}"
                         + (", flagged)" if scores[index] > threshold else ")"),
        "reconstruction error": f"{row['reconstruction_error']:.4f}",
        **({"true label": str(row["label"])} if "label" in row else {}),
        "label given here": given or "none",
        "copies": f"duplicate group {row['duplicate_group']}" if row.get("duplicate_group", -1) >= 0 else "none",
    }}), width="stretch")

    st.markdown("**Why is it odd?** The autoencoder's attempt at it, where that attempt differs, and the images "
                "like it: its near copies first, then the most similar ordinary images (nearest in the latent "
                "space, below the anomaly threshold).")
    st.caption(DRAWINGS[ModelSummary.from_metrics(result.metrics).representation].capitalize() + ".")
    drawn = cached.reconstructions(str(cached.runs_dir()), key, config.data, (index,))
    if drawn is not None:
        seen, reconstruction = (images[0] for images in drawn)
        left, middle, right = st.columns(3)
        left.image(gallery.to_display(seen, 160), caption="as the network sees it")
        middle.image(gallery.to_display(reconstruction, 160), caption="reconstruction")
        right.plotly_chart(figures.error_map(np.abs(seen - reconstruction).mean(axis=-1)), width="stretch")
    similar.show_like_this(index, min(NEAREST, len(scores) - 1), ordinary_below=threshold)
