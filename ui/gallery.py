"""Image grids: the one way pages show images."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import streamlit as st

from ui.pictures import DISPLAY_PIXELS, breakable, to_display


def show_images(images: np.ndarray, captions: list[str] | None = None, columns: int = 10,
                pixels: int = DISPLAY_PIXELS, below: Callable[[int], object] | None = None,
                indices=None, key: str = "gallery", on_open: Callable[[int], object] | None = None) -> None:
    """Show (N, H, W, C) images in a grid of ``columns`` per row, with optional captions.

    ``below(position)``, when given, draws more widgets under the image at ``position`` (0..N-1).
    ``indices``, each image's position in the analysed set, with ``on_open`` (``ui.detail.show``), adds
    a magnifier under each image that calls ``on_open(index)``; ``key`` keeps those buttons apart
    between galleries. Widgets come right under their image and the caption last, so that the
    widgets of a row line up whatever the captions' lengths; file names wrap between words.
    """
    if len(images) == 0:
        st.caption("No images to show.")
        return
    for start in range(0, len(images), columns):
        cells = st.columns(columns)
        for offset, cell in enumerate(cells[: len(images) - start]):
            index = start + offset
            caption = None if captions is None else captions[index]
            cell.image(to_display(images[index], pixels), width="stretch")
            if on_open is not None and indices is not None and cell.button(
                    "", key=f"{key}-open-{int(indices[index])}", type="tertiary", icon=":material/zoom_in:",
                    help=f"Open {caption or 'this image'} large: its own file, scores, and why it is odd"):
                on_open(int(indices[index]))
            if below is not None:
                with cell:
                    below(index)
            if caption is not None:
                cell.caption(plain(breakable(caption)))


def plain(text: str) -> str:
    """``text`` shown as it is by Streamlit's markdown (file names hold ``_``, ``*``, ``[`` ...)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$])", r"\\\1", text)


def pick_images(images: np.ndarray, indices, names: list[str], captions: list[str], tooltips: list[str | None],
                chosen=(), columns: int = 8) -> list[str]:
    """Show images with a tick box each, ticked for the indices in ``chosen``: the box is labelled by
    the short ``names[position]``, the caption under it says more, the tooltip the whole
    ``tooltips[position]``. Drawn inside an ``st.form``, ticking reruns nothing: the form's submit
    reads the boxes. Returns the boxes' session keys in order (``tick-<index>``)."""
    chosen, boxes = set(chosen), [f"tick-{int(index)}" for index in indices]

    def tick(position: int) -> None:
        st.session_state[boxes[position]] = int(indices[position]) in chosen
        st.checkbox(names[position], key=boxes[position], help=tooltips[position])

    show_images(images, captions, columns, below=tick)
    return boxes


def paged(items, page_size: int, key: str, what: str = "Images"):
    """The part of ``items`` on the page chosen with a page control (shown when there is more than
    one page), with a line saying which ones are shown (``what`` they are)."""
    pages = max(1, -(-len(items) // page_size))
    if pages == 1:
        return items
    if st.session_state.get(key, 1) > pages:  # fewer items than when the page was chosen
        st.session_state[key] = pages
    page = st.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, key=key)
    first = (int(page) - 1) * page_size
    st.caption(f"{what} {first + 1:,} to {min(first + page_size, len(items)):,} of {len(items):,}.")
    return items[first:first + page_size]


def show_pairs(originals: np.ndarray, reconstructions: np.ndarray, columns: int = 10,
               names: tuple[str, str] = ("original", "rebuilt")) -> None:
    """Each row of originals followed by a row of their reconstructions, captioned by ``names``."""
    for start in range(0, len(originals), columns):
        show_images(originals[start:start + columns], [names[0]] * len(originals[start:start + columns]), columns)
        show_images(reconstructions[start:start + columns],
                    [names[1]] * len(reconstructions[start:start + columns]), columns)
