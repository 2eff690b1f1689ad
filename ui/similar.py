"""Images like a given one, on the pages: under an image up close, and for an image a user uploads.

Both draw the results of the one search (``core.similar.search`` through ``cached.images_like`` and
``cached.images_like_file``): near copies first with their near-copy distance, then the nearest in
the run's latent space with their distance there.
"""

from __future__ import annotations

import streamlit as st

from core.data.decode import IMAGE_SUFFIXES
from core.errors import UserInputError
from ui import cached, figures, gallery, state

UPLOAD = "similar-upload"
SHOWN = 10


def captions(found) -> list[str]:
    """``file · near copy 0.12`` or ``file · 0.831`` (latent distance) for each row of a search's results."""
    return [f"{str(name).rsplit('/', 1)[-1]} · " + (f"near copy {distance:.2f}" if near else f"{distance:.3g}")
            for name, distance, near in zip(found["id"], found["distance"], found["near_copy"])]


def show_like_this(index: int, top: int, ordinary_below: float | None = None, on_open=None) -> None:
    """A row of the images most like image ``index`` of the selected run (near copies first)."""
    bundle, key, _ = state.result_or_stop()
    found = cached.images_like(str(cached.runs_dir()), key, state.selection().config, index, top, ordinary_below)
    positions = found["index"].to_numpy()
    gallery.show_images(bundle.analysis.read(positions).images, captions(found), columns=top, indices=positions,
                        key=f"like-{index}", on_open=on_open)


def upload_and_search(on_open=None) -> None:
    """An uploader for an image of one's own, then its nearest images and its place on the map."""
    bundle, key, result = state.result_or_stop()
    st.subheader("Images like one of yours")
    upload = st.file_uploader("An image (it need not be in the collection)", key=UPLOAD,
                              type=[suffix.lstrip(".") for suffix in IMAGE_SUFFIXES],
                              help="It is converted to this run's image size and colour, encoded with its model and "
                                   "placed on the map as every image of the run was.")
    if upload is None:
        st.caption("Upload a photo or scan to see the run's images most like it: its near copies first (distance: "
                   "the near-copy distance, 0 for the same pixels), then the nearest in the latent space.")
        return
    try:
        found = cached.images_like_file(str(cached.runs_dir()), key, state.selection().config, upload.getvalue(),
                                        upload.name, SHOWN)
    except UserInputError as error:
        st.error(str(error))
        return
    left, right = st.columns([1, 4])
    left.image(upload.getvalue(), caption=f"{upload.name} (yours)", width="stretch")
    positions = found.table["index"].to_numpy()
    with right:
        st.markdown(f"**Its {len(positions)} nearest images**")
        gallery.show_images(bundle.analysis.read(positions).images, captions(found.table), columns=5,
                            indices=positions, key="like-upload", on_open=on_open)
    shown = state.map_rows(result.table)
    figure = figures.latent_map(shown.assign(cluster=shown["cluster"].astype(str)), "cluster",
                                f"Where {upload.name} lies on the map (the star)", categorical=True)
    st.plotly_chart(figures.with_marker(figure, float(found.place[0]), float(found.place[1]), upload.name),
                    width="stretch", key="like-upload-map")
    near = int(found.table["near_copy"].sum())
    st.caption(f"{near} near cop{'y' if near == 1 else 'ies'} of it in the collection. Its place on the map: "
               f"({found.place[0]:.2f}, {found.place[1]:.2f}).")

