"""Duplicates: groups of exact and near copies, largest first; keep one of each, mark the rest."""

import numpy as np
import streamlit as st

from core import labels
from core.similar.duplicates import MAX_THUMB_DISTANCE
from ui import cached, detail, gallery, labelling, state

KEEP = "duplicates-keep"  # {group: the image to keep}, chosen here
GROUPS_PER_PAGE = 8

st.title("Duplicates")
bundle, key, result = state.result_or_stop()
folder, ids = cached.store().folder(key), bundle.analysis.ids
duplicates = result.duplicates
summary = duplicates.summary()
groups = duplicates.members()
kinds = duplicates.kinds()
keep = st.session_state.setdefault(KEEP, {}).setdefault(key, {})


def kept(group: int) -> int:
    return keep.get(group, int(groups[group][0]))


def choose(group: int) -> None:
    keep[group] = st.session_state[f"keep-{key}-{group}"]


def mark(chosen: list[int], message: str) -> None:
    """Keep one image of each group in ``chosen``, label the others ``duplicate`` (with undo)."""
    book = labels.load(folder, ids)
    before = book.copy()
    for group in chosen:
        book.keep_one(kept(group), [i for i in groups[group] if i != kept(group)])
    labelling.save_change(key, folder, before, book, message)
    st.rerun()


columns = st.columns(4)
columns[0].metric("Groups of copies", f"{summary['groups']:,}")
columns[1].metric("Images in them", f"{summary['images']:,}", help=f"Of {len(ids):,} images.")
columns[2].metric("Exact groups", f"{summary['exact_groups']:,}", help="Groups whose images all have the same pixels.")
columns[3].metric("Marked duplicate", f"{labels.load(folder, ids).progress()['duplicates']:,}")
st.caption(f"Exact copies have the same pixels, whatever their names or formats. Near copies are the same picture "
           f"re-saved (JPEG), brightened, with more or less contrast, or cropped by a pixel or two: their near-copy "
           f"distance (thumbnails compared after the best crop) is at most {MAX_THUMB_DISTANCE} and far below the "
           "distance to any other image. Two different photos of the same kind of thing are not copies.")
labelling.show_message()
labelling.undo_button(key, folder)
if not groups:
    st.info("No exact or near copies in these images.")
    st.stop()

table = duplicates.table(ids, keep)
left, right = st.columns(2)
rest = int(np.sum(~table["keep"]))
if left.button(f"Keep one of every group, mark the other {rest:,} as duplicate", type="primary") \
        and not labelling.wants_confirmation("Keep one of every group", rest):
    mark(list(range(len(groups))), f"Kept one image of each of {len(groups):,} groups; marked {rest:,} as duplicate.")
if labelling.pending_action():
    mark(list(range(len(groups))), f"Kept one image of each of {len(groups):,} groups; marked {rest:,} as duplicate.")
right.download_button("Download duplicates.csv", table.to_csv(index=False), "duplicates.csv", "text/csv",
                      icon=":material/table:", on_click="ignore")
st.caption("duplicates.csv: group, index, id, kind, keep (one row per image in a group; keep is True for the one "
           "image of each group to keep), e.g. for a script that deletes the others' files.")

book = labels.load(folder, ids)
shown = gallery.paged(np.arange(len(groups)), GROUPS_PER_PAGE, key="duplicates-page", what="Groups")
for group in shown:
    members = groups[group]
    st.markdown(f"**Group {group}** · {len(members)} images · {' and '.join(sorted(set(kinds[members])))}")
    captions = [f"{str(ids[i]).rsplit('/', 1)[-1]} · {kinds[i]}"
                + (f" {duplicates.distance[i]:.2f}" if kinds[i] == "near" else "")
                + (" · marked" if book.labels[i] == labels.DUPLICATE else "") for i in members]
    gallery.show_images(bundle.analysis.read(members).images, captions, columns=8, indices=members,
                        key=f"duplicates-{group}", on_open=detail.show)
    choice, action = st.columns([3, 2], vertical_alignment="bottom")
    names = {int(i): str(ids[i]) for i in members}
    choice.selectbox("Keep", list(names), index=list(names).index(kept(group)), format_func=names.get,
                     key=f"keep-{key}-{group}", on_change=choose, args=(group,))
    if action.button("Keep one, mark the rest", key=f"mark-{group}"):
        mark([group], f"Group {group}: kept {names[kept(group)]}; marked {len(members) - 1} as duplicate.")
st.caption("file · kind (and near-copy distance) · marked when labelled duplicate. The magnifier under an image "
           "opens it large.")
