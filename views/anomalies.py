"""Anomalies: the images ranked most odd, and how the two views of 'odd' compare."""

import numpy as np
import streamlit as st

from core.analysis import anomaly_threshold
from ui import figures, gallery, state

st.title("Anomalies")
bundle, key, result = state.result_or_stop()
config = state.selection().config
table = result.table

views = {"anomaly_score": "anomaly score",
         "reconstruction_error": "reconstruction error"}
rank_by = st.radio("Rank by", list(views), format_func=views.get, horizontal=True, key="rank_by")
scores = table[rank_by].to_numpy()
threshold = anomaly_threshold(scores, config.contamination)
flagged = scores > threshold

columns = st.columns(3)
columns[0].metric("Flagged", f"{flagged.sum():,}", help="Images above the threshold set by the contamination.")
columns[1].metric("Threshold", f"{threshold:.4g}")
columns[2].metric("Contamination", f"{config.contamination:.1%}")

known = result.metrics.get("anomaly")
if known:
    st.caption("Known anomalies in this data: " + "; ".join(
        f"{views.get(name, name)}: AUROC {v['auroc']:.3f}, AP {v['average_precision']:.3f}" for name, v in known.items()))

top_n = st.slider("Top images", 10, 200, 40, step=10)
ranked = table.sort_values(rank_by, ascending=False).head(top_n)
gallery.show_images(bundle.analysis.images[ranked["index"]],
                    [f"#{rank} · {index}" for rank, index in enumerate(ranked["index"], 1)])
st.dataframe(ranked.assign(rank=np.arange(1, len(ranked) + 1)).set_index("rank").drop(columns=["map_x", "map_y"]),
             width="stretch", height=260)

left, right = st.columns(2)
left.plotly_chart(figures.histogram_with_threshold(scores, threshold, f"Distribution of the {views[rank_by]}",
                                                   views[rank_by]), width="stretch")
right.plotly_chart(figures.score_scatter(table["anomaly_score"].to_numpy(), table["reconstruction_error"].to_numpy(),
                                         flagged, "anomaly score", "reconstruction error",
                                         "Anomaly score against reconstruction error"),
                   width="stretch")
