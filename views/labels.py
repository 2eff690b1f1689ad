"""Labels: name the clusters, fix single images, follow progress, export and import labels.csv."""

import numpy as np
import pandas as pd
import streamlit as st

from core import labels
from core.evaluation import distance_to_cluster_mean
from ui import cached, figures, gallery, keys, labelling, state
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
                        [f"cluster {c} · {sizes[c]}" for c in range(k)],
                        below=lambda c: st.text_input(f"Name of cluster {c}", names[c], key=f"name-{c}-{version}",
                                                      placeholder="name", label_visibility="collapsed"))
    if st.form_submit_button("Apply names", type="primary"):
        change_and_rerun(lambda: [book.name_cluster(clusters, c, st.session_state[f"name-{c}-{version}"])
                                  for c in range(k)], "Cluster names applied: {changed} changed label.")

st.subheader("2. Fix single images")
st.caption("Select images on the map with a box or lasso, or tick them in the gallery below; then move them to "
           "a label, mark them as anomalies or not, or confirm their labels.")
given = np.where(book.labels == "", NO_LABEL, book.labels).astype(str)
figure = figures.latent_map(state.map_rows(result.table.assign(**{"label here": given})), "label here", "Labels made here",
                            categorical=True, fixed_colours={NO_LABEL: "#c9c9c9", labels.ANOMALY: "#e45756"})
selected = [i for i in state.selectable_map(figure, "labels_map") if i < len(given)]

by_anomaly = result.table.sort_values("anomaly_score", ascending=False)["index"].to_numpy()
groups = {"selected": "the selection", "anomalies": "the most anomalous", "unlabelled": "images without a label",
          **{f"cluster-{c}": f"cluster {c} {names[c]} (oddest first)" for c in range(k)}}
group = st.selectbox("Show images of", list(groups), format_func=groups.get, key="labels-group")
if group == "selected":
    candidates = np.asarray(selected, dtype=np.int64)
elif group == "unlabelled":
    candidates = by_anomaly[book.labels[by_anomaly] == ""]
else:
    candidates = by_anomaly if group == "anomalies" else by_anomaly[clusters[by_anomaly] == int(group[8:])]
candidates = gallery.paged(candidates, 40, key="labels-page")
if len(candidates):
    gallery.pick_images(bundle.analysis.read(candidates).images, candidates,
                        [f"{str(ids[i]).rsplit('/', 1)[-1]} · {given[i]}" for i in candidates],
                        [str(ids[i]) for i in candidates])
    st.caption("file · label given here (hover for the whole path).")
else:
    st.caption("No images here yet.")

st.markdown(f"**{n_images(len(selected))} selected**")
existing = sorted(set(book.labels) - {"", labels.ANOMALY})
columns = st.columns([2, 1, 1, 1, 1, 1], vertical_alignment="bottom")
target = columns[0].selectbox("Label", existing, index=None, accept_new_options=True, key=keys.LABELS_TARGET,
                              placeholder="choose or type a label")
chosen = n_images(len(selected))
actions = {  # button -> (what it does to the book, message, help)
    "Move to label": (lambda: book.assign(selected, target), f"Moved {chosen} to '{labels.clean_label(target)}'.",
                      None),
    "Mark anomaly": (lambda: book.mark_anomaly(selected), f"Marked {chosen} as anomalies.", None),
    "Not an anomaly": (lambda: book.mark_not_anomaly(selected, clusters, k),
                       f"{chosen} no longer marked as anomalies: they carry their cluster's name.",
                       "Give the images their cluster's name, confirmed."),
    "Confirm": (lambda: book.confirm(selected), f"Confirmed the labels of {chosen}.",
                "Keep their labels, marked as checked by a person."),
}
def act(name: str) -> None:
    change, message, _ = actions[name]
    state.set_selected(())
    change_and_rerun(change, message)


for column, (name, (_, _, tip)) in zip(columns[1:], actions.items()):
    if column.button(name, disabled=not selected or (name == "Move to label" and not target), help=tip,
                     type="primary" if name == "Move to label" else "secondary") \
            and not labelling.wants_confirmation(name, len(selected)):
        act(name)
if columns[5].button("Clear selection", disabled=not selected):
    state.set_selected(())
    st.rerun()
confirmed = labelling.pending_action()
if confirmed:
    act(confirmed)

truth = bundle.analysis.label_text()
if truth is not None:
    st.subheader("Against the true labels")
    now = labels.agreement(book.labels, truth)
    names_only = labels.agreement(labels.cluster_only_labels(book, clusters, k), truth)
    if now is None:
        st.caption("Name a cluster or label an image to compare with the true labels.")
    else:
        columns = st.columns(3)
        columns[0].metric("Agreement", f"{now['mapped']:.1%}",
                          None if names_only is None else f"{now['mapped'] - names_only['mapped']:+.1%} "
                                                          "vs cluster names alone",
                          help="Share of labelled images whose label stands for their true label (each label taken "
                               "as the true label most of its images have). Anomalies are left out.")
        columns[1].metric("Same name as the truth", f"{now['same_name']:.1%}")
        columns[2].metric("Adjusted Rand index", f"{now['ari']:.3f}", help=f"Over {now['images']:,} labelled images.")
        compared = (book.labels != "") & (book.labels != labels.ANOMALY)
        matrix = pd.crosstab(pd.Series(given[compared], name="label here"), pd.Series(truth[compared], name="true"))
        st.plotly_chart(figures.heatmap(matrix, "Labels made here against the true labels"), width="stretch")

st.subheader("3. Export, or continue later")
st.download_button("Download labels.csv", book.to_csv(), "labels.csv", "text/csv", icon=":material/table:",
                   disabled=progress["labelled"] == 0, on_click="ignore")
st.caption("Columns index, id, label, source: id is the file name for zip or folder data, else the index; source is "
           "cluster or manual. Labels are saved with the run as you go and come back after a restart.")
st.file_uploader("Continue from a labels.csv", type=["csv"], key=keys.LABELS_UPLOAD, on_change=labelling.import_file,
                 args=(key, folder, ids), help="Labels you set by hand here are kept unless you choose otherwise.")
