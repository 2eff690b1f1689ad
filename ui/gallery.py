"""Image grids: the one way pages show images."""

from __future__ import annotations

import numpy as np
import streamlit as st

DISPLAY_PIXELS = 84


def to_display(image: np.ndarray, pixels: int = DISPLAY_PIXELS) -> np.ndarray:
    """A float (H, W, C) image in [0, 1] -> uint8 (h, w[, 3]) enlarged by a whole factor with
    nearest-neighbour pixels, so small images stay sharp instead of blurred by the browser."""
    factor = max(1, pixels // max(image.shape[:2]))
    enlarged = np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
    enlarged = (np.clip(enlarged, 0, 1) * 255).round().astype(np.uint8)
    return enlarged[..., 0] if enlarged.shape[-1] == 1 else enlarged


def show_images(images: np.ndarray, captions: list[str] | None = None, pixels: int = DISPLAY_PIXELS) -> None:
    """Show (N, H, W, C) images in a wrapping grid, each ``pixels`` wide, with optional captions."""
    if len(images) == 0:
        st.caption("No images to show.")
        return
    st.image([to_display(image, pixels) for image in images], caption=captions, width=pixels)


def show_pairs(originals: np.ndarray, reconstructions: np.ndarray, pixels: int = DISPLAY_PIXELS) -> None:
    """Originals in one row and their reconstructions in the row below."""
    st.caption("Originals")
    show_images(originals, pixels=pixels)
    st.caption("Reconstructions")
    show_images(reconstructions, pixels=pixels)
