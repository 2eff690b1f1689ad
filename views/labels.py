"""Labels: name the clusters, fix single images, let it label the rest, follow progress, export and import
labels.csv."""

import numpy as np
import pandas as pd
import streamlit as st

from core import labels
from core.evaluation import distance_to_cluster_mean
from ui import cached, detail, figures, filters, gallery, keys, labelling, mapview, state, teaching
from ui.labelling import n_images

NO_LABEL = "(no label)"

st.title("Labels")
bundle, key, result = state.result_or_stop()
config = state.selection().config
folder = cached.store().folder(key)
ids = bundle.analysis.ids
book = labels.load(folder, ids)
clusters = result.table["cluster"].to_numpy()
k = config.clusters


def change_and_rerun(change, message: str) -> None:
    """Apply ``change`` to the book, save it with undo, say ``message`` ({changed}: how many images)."""
    before = book.copy()
    change()
    labelling.save_change(key, folder, before, book, message.replace("{changed}", n_images(before.differences(book))))
    st.rerun()


progress = book.progress()
columns = st.columns(4)
columns[0].metric("Labelled", f"{progress['labelled']:,} of {progress['images']:,}")
columns[1].metric("Confirmed by a person", f"{progress['confirmed']:,}",
                  help="Labels set or confirmed image by image (source manual), not only by naming a cluster.")
columns[2].metric("Marked anomalies", f"{progress['anomalies']:,}")
columns[3].metric("Label names", f"{progress['names']:,}")
st.progress(progress["labelled"] / progress["images"],
            text=f"{progress['labelled'] / progress['images']:.0%} labelled, "
                 f"{progress['confirmed'] / progress['images']:.0%} confirmed by a person")
labelling.show_message()
labelling.undo_button(key, folder)
labelling.pending_import(key, folder, ids)

st.subheader("1. Name the clusters")
st.caption("Each cluster's most typical image. Every image of a cluster takes its name, except images labelled "
           "by hand; an empty name removes it.")
names = book.cluster_names(clusters, k)
sizes = np.bincount(clusters, minlength=k)
typical = pd.Series(distance_to_cluster_mean(result.latent, clusters)).groupby(clusters).idxmin()
version = abs(hash((key, k, tuple(names))))  # fresh inputs whenever the names change (applied or imported)
with st.form("cluster-names", border=False):
    gallery.show_images(bundle.analysis.read(typical.reindex(range(k), fill_value=0).to_numpy()).images,
                        [f"cluster {c} · {sizes[c]}" for c in range(k)], columns=min(k, 8),
                        below=lambda c: st.text_input(f"Name of cluster {c}", names[c], key=f"name-{c}-{version}",
                                                      placeholder="name", label_visibility="collapsed"))
    if st.form_submit_button("Apply names", type="primary"):
        change_and_rerun(lambda: [book.name_cluster(clusters, c, st.session_state[f"name-{c}-{version}"])
                                  for c in range(k)], "Cluster names applied: {changed} changed label.")

st.subheader("2. Fix single images")
st.caption("Click images on the map (shift-click adds, a box or lasso selects many), or tick them in the gallery "
           "below; then move them to a label, mark them as anomalies or not, or confirm their labels.")
given = np.where(book.labels == "", NO_LABEL, book.labels).astype(str)
chosen_filter = filters.bar(result.table, book.labels)
keep = chosen_filter.mask(result.table, book.labels)
view = mapview.controls()
shown, left_out = mapview.split(result.table.assign(**{"label here": given}), keep)
figure = figures.latent_map(shown, "label here", "Labels made here", categorical=True, left_out=left_out,
                            fixed_colours={NO_LABEL: figures.NO_LABEL_GREY, labels.ANOMALY: figures.ANOMALY_RED})
selected = [i for i in mapview.draw(figure, result.table, shown, "labels", bundle, view, detail.show) if i < len(given)]

by_anomaly = result.table.sort_values("anomaly_score", ascending=False)["index"].to_numpy()
by_anomaly = by_anomaly[keep[by_anomaly]]
groups = {"selected": "the selection", "anomalies": "the most anomalous", "unlabelled": "images without a label",
          **{f"cluster-{c}": f"cluster {c} {names[c]} (oddest first)" for c in range(k)}}
group = st.selectbox("Show images of", list(groups), format_func=groups.get, key="labels-group")
if group == "selected":
    candidates = np.asarray([i for i in selected if keep[i]], dtype=np.int64)
elif group == "unlabelled":
    candidates = by_anomaly[book.labels[by_anomaly] == ""]
else:
    candidates = by_anomaly if group == "anomalies" else by_anomaly[clusters[by_anomaly] == int(group[8:])]
candidates = gallery.paged(candidates, 40, key="labels-page")
existing = sorted(set(book.labels) - {"", labels.ANOMALY})
labelling.bulk_form(bundle.analysis.read(candidates).images, candidates, [str(ids[i]) for i in candidates],
                    list(given[candidates]), selected, existing)
selected = list(state.selected())
st.markdown(f"**{n_images(len(selected))} selected**")

chosen = n_images(len(selected))
changes = {  # button -> (what it does to the book with a label, message)
    "Move to label": (lambda target: book.assign(selected, target), "Moved {n} to '{label}'."),
    "Mark anomaly": (lambda _: book.mark_anomaly(selected), "Marked {n} as anomalies."),
    "Not an anomaly": (lambda _: book.mark_not_anomaly(selected, clusters, k),
                       "{n} no longer marked as anomalies: they carry their cluster's name."),
    "Confirm": (lambda _: book.confirm(selected), "Confirmed the labels of {n}."),
}


def act(name: str, target: str | None) -> None:
    change, message = changes[name]
    state.set_selected(())
    change_and_rerun(lambda: change(target), message.format(n=chosen, label=target))


submitted = labelling.submitted_action()
if submitted:
    name, target = submitted
    if not selected:
        st.warning("Tick some images (or select them on the map) first.")
    elif name == "Move to label" and not target:
        st.warning("Choose a label in use or type a new one, then press **Move to label**.")
    elif not labelling.wants_confirmation(name, len(selected), target):
        act(name, target)
confirmed = labelling.pending_action()
if confirmed:
    act(*confirmed)

truth = bundle.analysis.label_text()
if truth is not None:
    st.subheader("Against the true labels")
    now = labels.agreement(book.labels, truth)
    names_only = labels.agreement(labels.cluster_only_labels(book, clusters, k), truth)
    if now is None:
        st.caption("Name a cluster or label an image to compare with the true labels.")
    else:
        columns = st.columns(3)
        change = None if names_only is None else now["mapped"] - names_only["mapped"]
        columns[0].metric("Agreement", f"{now['mapped']:.1%}",
                          None if change is None else f"{change:+.1%} vs cluster names alone",
                          delta_arrow="off" if change is not None and round(change, 3) == 0 else "auto",
                          delta_color="off" if change is not None and round(change, 3) == 0 else "normal",
                          help="Share of labelled images whose label stands for their true label (each label taken "
                               "as the true label most of its images have). Anomalies are left out.")
        columns[1].metric("Same name as the truth", f"{now['same_name']:.1%}")
        columns[2].metric("Adjusted Rand index", f"{now['ari']:.3f}", help=f"Over {now['images']:,} labelled images.")
        compared = (book.labels != "") & (book.labels != labels.ANOMALY)
        matrix = pd.crosstab(pd.Series(given[compared], name="label here"), pd.Series(truth[compared], name="true"))
        st.plotly_chart(figures.heatmap(matrix, "Labels made here against the true labels"), width="stretch")

teaching.section(key, folder, book, result, bundle, config.seed, truth)

st.subheader("4. Export, or continue later")
st.download_button("Download labels.csv", book.to_csv(), "labels.csv", "text/csv", icon=":material/table:",
                   disabled=progress["labelled"] == 0, on_click="ignore")
st.caption("Columns index, id, label, source: id is the file name for zip or folder data, else the index; source is "
           "cluster, manual or predicted (an accepted prediction). Labels are saved with the run as you go.")
st.file_uploader("Continue from a labels.csv", type=["csv"], key=keys.LABELS_UPLOAD, on_change=labelling.import_file,
                 args=(key, folder, ids), help="Labels you set by hand here are kept unless you choose otherwise.")
