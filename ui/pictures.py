"""Images as a browser shows them: enlarged sharply, as data URIs, and their names made to wrap
between words. No Streamlit here, so that every ui module can use them."""

from __future__ import annotations

import numpy as np

DISPLAY_PIXELS = 84


def to_display(image: np.ndarray, pixels: int = DISPLAY_PIXELS) -> np.ndarray:
    """A float (H, W, C) image in [0, 1] -> uint8 (h, w[, 3]) enlarged by a whole factor with
    nearest-neighbour pixels, so small images stay sharp instead of blurred by the browser."""
    factor = max(1, pixels // max(image.shape[:2]))
    enlarged = np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
    enlarged = (np.clip(enlarged, 0, 1) * 255).round().astype(np.uint8)
    return enlarged[..., 0] if enlarged.shape[-1] == 1 else enlarged


def data_uri(image: np.ndarray, pixels: int = 48) -> str:
    """A float (H, W, C) image in [0, 1] as a PNG data URI, enlarged to about ``pixels`` a side (for
    plotly's layout images, which a browser would otherwise blur)."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(to_display(image, pixels)).save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


ZERO_WIDTH_SPACE = "\u200b"


def breakable(name: str) -> str:
    """A file name that wraps after its folders' "/" instead of mid-word ("airplane/0005.jpg" as
    "airplane/" and "0005.jpg" on a narrow caption): a zero-width space after each "/"."""
    return name.replace("/", "/" + ZERO_WIDTH_SPACE)
