"""Clusters: how many, how big, what each looks like, and (with labels) how right they are."""

import numpy as np
import pandas as pd
import streamlit as st

from core import cache
from core.analysis import distance_to_cluster_mean
from ui import figures, gallery, state

st.title("Clusters")
bundle, key, result = state.result_or_stop()
config = state.selection().config
root = str(cache.runs_dir())
table = result.table
clusters = table["cluster"].to_numpy()

left, right = st.columns(2)
with left:
    scores = cache.k_selection(root, key, config.seed)
    st.plotly_chart(figures.k_selection(scores, config.clusters), width="stretch")
    st.caption("Look for the bend in inertia and a high silhouette; set **Clusters (k)** in the sidebar. "
               "Changing k re-clusters the stored latent vectors without retraining.")
with right:
    sizes = np.bincount(clusters, minlength=config.clusters)
    st.plotly_chart(figures.bar_counts(list(range(config.clusters)), sizes.tolist(), "Cluster sizes", "cluster"),
                    width="stretch")

st.subheader("Decoded centroids")
st.caption("The decoder applied to each cluster's mean latent vector: what its average member looks like.")
centroids = cache.decoded_centroids(root, key, config)
gallery.show_images(centroids, [f"cluster {c} · {sizes[c]}" for c in range(config.clusters)])

st.subheader("Members")
chosen, order, count = st.columns([1, 1, 1])
cluster = chosen.selectbox("Cluster", range(config.clusters), format_func=lambda c: f"{c} ({sizes[c]} images)")
least_typical = order.toggle("Least typical first", help="Typical = close to the cluster's mean latent vector.")
shown = count.slider("Images", 12, 96, 36, step=12)
distance = distance_to_cluster_mean(result.latent, clusters)
members = np.flatnonzero(clusters == cluster)
members = members[np.argsort(distance[members])]
members = (members[::-1] if least_typical else members)[:shown]
labels = bundle.analysis.label_text()
gallery.show_images(bundle.analysis.images[members],
                    [f"{i}" + ("" if labels is None else f" · {labels[i]}") for i in members])

if labels is not None:
    st.subheader("Clusters against true labels")
    scores = result.metrics["clustering"]
    baseline = cache.raw_pixel_clustering(config.data, config.clusters, config.seed)
    columns = st.columns(3)
    for column, (name, title) in zip(columns, [("accuracy", "Accuracy"), ("nmi", "NMI"), ("ari", "ARI")]):
        column.metric(title, f"{scores[name]:.3f}", f"{scores[name] - baseline[name]:+.3f} vs raw-pixel KMeans",
                      help=f"Raw-pixel KMeans on the same images: {baseline[name]:.3f}")
    matrix = pd.crosstab(pd.Series(clusters, name="cluster"), pd.Series(labels, name="label"))
    st.plotly_chart(figures.heatmap(matrix, "Images per cluster and label"), width="stretch")
