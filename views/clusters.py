"""Clusters: how many, how big, what each looks like, every clusterer side by side, and (with labels)
how right they are."""

import numpy as np
import pandas as pd
import streamlit as st

from core.evaluation import distance_to_cluster_mean
from core.methods.registry import RAW_PIXEL_KMEANS, stand_in_reason
from core.run.comparison import clusterer_agreement
from core.run.results import ModelSummary
from ui import cached, detail, figures, gallery, state

st.title("Clusters")
bundle, key, result = state.result_or_stop()
config = state.selection().config
root = str(cached.runs_dir())
table = result.table
clusters = table["cluster"].to_numpy()
summary = ModelSummary.from_metrics(result.metrics)
in_use = summary.clusterer
if summary.note:
    st.caption(summary.note.capitalize() + ".")

left, right = st.columns(2)
with left:
    scores, clusterer, criterion = cached.k_selection(root, key)
    st.plotly_chart(figures.k_selection(scores, config.clusters, criterion), width="stretch")
    st.caption(f"{clusterer} at each k, on the fit sample: look for where {criterion} stops falling and the "
               "silhouette is high; set **Clusters (k)** in the sidebar. Changing k never retrains.")
with right:
    sizes = np.bincount(clusters, minlength=config.clusters)
    st.plotly_chart(figures.bar_counts(list(range(config.clusters)), sizes.tolist(), "Cluster sizes", "cluster"),
                    width="stretch")

st.subheader("Decoded centroids")
centroids = cached.decoded_centroids(root, key, config)
if summary.representation == "vectors":
    st.caption("The image nearest each cluster's mean latent vector: the network rebuilds your vectors, not pixels.")
elif summary.representation == "photo features":
    st.caption("Each cluster's mean latent vector, drawn by a second decoder that draws latent vectors as pixels (the "
               "network itself rebuilds the photos' content features): what its average member looks like.")
else:
    st.caption("The decoder applied to each cluster's mean latent vector: what its average member looks like.")
gallery.show_images(centroids, [f"cluster {c} · {sizes[c]:,}" for c in range(config.clusters)])

st.subheader("Members")
chosen, order, count = st.columns([1, 1, 1])
cluster = chosen.selectbox("Cluster", range(config.clusters), format_func=lambda c: f"{c} ({sizes[c]:,} images)")
least_typical = order.toggle("Least typical first", help="Typical = close to the cluster's mean latent vector.")
shown = count.slider("Images", 12, 96, 36, step=12)
distance = distance_to_cluster_mean(result.latent, clusters)
members = np.flatnonzero(clusters == cluster)
members = members[np.argsort(distance[members])]
members = (members[::-1] if least_typical else members)[:shown]
label_text = table["label"].astype(str).to_numpy() if "label" in table else None
gallery.show_images(bundle.analysis.read(members).images,
                    [str(table["id"].iloc[i]) + ("" if label_text is None else f" · {label_text[i]}") for i in members],
                    indices=members, key="members", on_open=detail.show)
st.caption("file" + (" · true label" if label_text is not None else "") + "; the magnifier opens an image large.")

st.subheader("Every clusterer side by side")
comparison = result.comparison
compared = comparison["index"].to_numpy()
where = (f"all {len(compared):,} images" if len(compared) == len(table)
         else f"the {len(compared):,} compared images of the fit sample")
known = result.metrics.get("comparison", {}).get("clustering")
for name, base in summary.stand_ins.items():
    st.caption(f"**{name}** gives the clusters of **{base}** here: {stand_in_reason(name, base, summary.representation)}.")
if known:
    frame = pd.DataFrame(known)
    st.caption(f"On {where}, k = {config.clusters}, against the true labels, best first; "
               f"**{in_use}** is this run's. The raw-pixel rows use no autoencoder: the latent must beat them.")
    left, right = st.columns(2)
    left.plotly_chart(figures.method_bars(frame, "accuracy", "Accuracy", in_use), width="stretch")
    right.plotly_chart(figures.method_bars(frame, "nmi", "NMI", in_use), width="stretch")
    st.dataframe(frame, width="stretch", hide_index=True)
else:
    silhouettes, matrix = clusterer_agreement(comparison, result.latent[compared], seed=config.seed)
    st.caption(f"No labels, so each clustering is judged by its silhouette in the latent space (one space for "
               f"all; higher = tighter, better separated groups) and by how much the clusterers agree (adjusted "
               f"Rand index, 1 = the same groups). On {where}, k = {config.clusters}.")
    left, right = st.columns(2)
    left.plotly_chart(figures.method_bars(silhouettes, "silhouette", "Silhouette in the latent space", in_use),
                      width="stretch")
    right.plotly_chart(figures.heatmap(matrix, "Agreement (adjusted Rand index)", ".2f"), width="stretch")

if label_text is not None:
    st.subheader("Clusters against true labels")
    baseline = next((row for row in known or [] if row["method"] == RAW_PIXEL_KMEANS), None)
    columns = st.columns(3)
    for column, (name, title) in zip(columns, [("accuracy", "Accuracy"), ("nmi", "NMI"), ("ari", "ARI")]):
        value = result.metrics["clustering"][name]
        column.metric(title, f"{value:.3f}", None if baseline is None else f"{value - baseline[name]:+.3f} vs {RAW_PIXEL_KMEANS}", help="This run's clusters on every image; the difference is on the compared images.")
    crosstab = pd.crosstab(pd.Series(clusters, name="cluster"), pd.Series(label_text, name="label"))
    st.plotly_chart(figures.heatmap(crosstab, "Images per cluster and label"), width="stretch")
