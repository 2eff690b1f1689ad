"""Anomalies: the images ranked most odd by the score you pick, and every score side by side."""

import numpy as np
import pandas as pd
import streamlit as st

from core import labels
from core.methods.checks import anomaly_threshold
from core.methods.registry import SCORERS, SQUARED_ERROR
from core.run.comparison import comparison_scores, scorer_agreement
from core.run.results import ModelSummary
from ui import cached, detail, figures, gallery, state, tables

st.title("Anomalies")
bundle, key, result = state.result_or_stop()
config = state.selection().config
table, comparison = result.table, result.comparison
in_use = ModelSummary.from_metrics(result.metrics).scorer
whole = len(comparison) == len(table)

rank_by = st.selectbox("Rank by", list(SCORERS), index=list(SCORERS).index(in_use), key="rank_by",
                       format_func=lambda name: f"{name} (this run's score)" if name == in_use else name,
                       help="; ".join(f"**{name}**: {entry.description}" for name, entry in SCORERS.items()))
if rank_by == in_use:
    positions, scores = table["index"].to_numpy(), table["anomaly_score"].to_numpy()
else:
    positions, scores = comparison["index"].to_numpy(), comparison[SCORERS[rank_by].column].to_numpy()
    if not whole:
        st.caption(f"This score is computed on the {len(comparison):,} compared images of the fit sample.")
threshold = anomaly_threshold(scores, config.contamination)
flagged = scores > threshold

columns = st.columns(3)
columns[0].metric("Flagged", f"{flagged.sum():,}", help="Images above the threshold set by the contamination.")
columns[1].metric("Threshold", f"{threshold:.4g}")
columns[2].metric("Contamination", f"{config.contamination:.1%}")

top_n = st.slider("Top images", 10, 200, 40, step=10)
order = np.argsort(-scores, kind="stable")[:top_n]
ranked = positions[order]
gallery.show_images(bundle.analysis.read(ranked).images,
                    [f"#{rank} · {table['id'].iloc[i]}" for rank, i in enumerate(ranked, 1)],
                    indices=ranked, key="anomalies", on_open=detail.show)
st.caption("#rank · file. The magnifier under an image opens it large: its scores, its reconstruction, where "
           "that differs, and the most similar ordinary images.")
shown = tables.image_rows(table, ranked)
if rank_by != in_use:  # the run's own score is the "anomaly score" column already
    shown[rank_by] = scores[order]
st.dataframe(shown.reset_index().set_index(pd.Index(np.arange(1, len(ranked) + 1), name="rank")), width="stretch",
             height=260)

left, right = st.columns(2)
left.plotly_chart(figures.histogram_with_threshold(scores, threshold, f"Distribution of {rank_by}", rank_by),
                  width="stretch")
right.plotly_chart(figures.score_scatter(table["anomaly_score"].to_numpy(), table["reconstruction_error"].to_numpy(),
                                         table["anomaly_score"].to_numpy() > result.metrics["anomaly_threshold"],
                                         in_use, SQUARED_ERROR, "Run's score against reconstruction"),
                   width="stretch")

st.subheader("Every anomaly score side by side")
compared = comparison["index"].to_numpy()
flags = bundle.analysis.anomaly_flags
source = "anomaly flags in the data"
if flags is None or flags[compared].all() or not flags[compared].any():
    flags, source = labels.load(cached.store().folder(key), bundle.analysis.ids).labels == labels.ANOMALY, \
        "images marked as anomalies on the Labels page"
known = comparison_scores(comparison, None, flags[compared]).get("anomaly")
if known:
    st.caption(f"Against the known anomalies ({source}: {int(flags[compared].sum()):,} of {len(compared):,} "
               "compared images), best first. AUROC: chance of ranking an anomaly above a normal image; "
               "average precision: how clean the top of the list is.")
    frame = pd.DataFrame(known)
    left, right = st.columns(2)
    left.plotly_chart(figures.method_bars(frame, "auroc", "AUROC", in_use), width="stretch")
    right.plotly_chart(figures.method_bars(frame, "average_precision", "Average precision", in_use), width="stretch")
    st.dataframe(frame, width="stretch", hide_index=True)
else:
    top = max(10, int(round(config.contamination * len(compared))))
    overlap, correlation = scorer_agreement(comparison, top)
    st.caption(f"No known anomalies yet (mark some on the Labels page to measure each score). Meanwhile: how "
               f"much the scores agree on the {len(compared):,} compared images. Left, the share of each score's "
               f"top {top} also in the other's top {top}; right, their rank correlation.")
    left, right = st.columns(2)
    left.plotly_chart(figures.heatmap(overlap, f"Top-{top} overlap", ".2f"), width="stretch")
    right.plotly_chart(figures.heatmap(correlation, "Rank correlation", ".2f"), width="stretch")
