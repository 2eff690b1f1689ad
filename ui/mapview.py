"""The latent map as a workbench, the same on every page that draws it (Latent map, Labels).

- **select**: a click selects the point under the pointer, shift-click adds, a box or a lasso (tools
  at the top right) selects many; double-click on the map or **Clear selection** clears
  (``ui.state.selectable_map`` keeps the chart's own selection alive between script runs).
- **see**: the image last clicked, large, beside the map; and **Thumbnails**, the images themselves
  drawn at their map positions: one per cell of a grid over the map (a few hundred), more with
  **Zoom to the selection** (the grid then covers the selected region only).
- **filter**: the rows a filter leaves out are drawn small and grey, and are never selected.

Thumbnails are encoded once per image and kept in memory (``ui.cached.thumbnails``), so toggling
them, zooming or recolouring encodes nothing again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from ui import cached, figures, gallery, keys, state

THUMBNAILS = 200  # about how many thumbnails a map shows
GRIDS = (8, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128)  # cells across the map to choose from
PLOT_ASPECT = 0.55  # height / width of the map's plotting area on a wide page, to make the cells square


@dataclass(frozen=True)
class MapView:
    """How to draw the map: thumbnails or not, about how many, and whether to zoom to the selection."""

    thumbnails: bool = False
    count: int = THUMBNAILS
    zoom_to_selection: bool = False


def controls() -> MapView:
    """The thumbnail controls, in one row."""
    on_column, zoom_column, across_column = st.columns([1, 1, 2], vertical_alignment="center")
    on = _remembered_toggle(on_column, "Thumbnails", keys.THUMBNAILS,
                            "Draw the images themselves at their places on the map (a few hundred).")
    zoom = _remembered_toggle(zoom_column, "Zoom to the selection", "zoom-to-selection",
                              "Show only the selected region, with more thumbnails in it.",
                              disabled=len(state.selected()) < 2)
    count = across_column.slider("How many thumbnails (about)", 50, 800, THUMBNAILS, step=50, key="thumbnails-count",
                                 disabled=not on, help="More thumbnails are smaller: each fills one cell of a grid.")
    return MapView(thumbnails=on, count=count, zoom_to_selection=zoom and len(state.selected()) >= 2)


def split(table: pd.DataFrame, keep: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows to draw, rows a filter leaves out) of a results table, each at most ``state.MAP_POINTS``."""
    return state.map_rows(table[keep]), table[~keep].head(state.MAP_POINTS)


def draw(figure, table: pd.DataFrame, shown: pd.DataFrame, key: str, bundle: cached.DataBundle, view: MapView,
         on_open: Callable[[int], object]) -> tuple[int, ...]:
    """The map (``figure``, drawn from rows ``shown`` of the run's results ``table``) with its
    thumbnails, beside it the image last clicked and a Clear button; returns the selection. ``key``
    names the chart (one per page); ``on_open(index)`` opens an image up close."""
    chart, side = st.columns([4, 1])
    selection = state.selected()
    if view.zoom_to_selection:
        chosen = shown[shown["index"].isin(selection)]
        extent = _extent(chosen if len(chosen) >= 2 else shown)
        figures.zoom(figure, *extent)
    else:
        extent = _extent(shown)
    if view.thumbnails and len(shown):
        _add_thumbnails(figure, shown, bundle, extent, view.count)
    with chart:
        selection = state.selectable_map(figure, f"map-{key}")
    with side:
        _focus(table, bundle, key, on_open)
    _clear_on_double_click()
    return selection


def spread(x: np.ndarray, y: np.ndarray, extent, count: int) -> tuple[np.ndarray, int, int]:
    """About ``count`` positions of points (x, y) spread over ``extent`` ((x0, x1), (y0, y1)): the
    coarsest grid of ``GRIDS`` whose cells holding points are about ``count`` (or most of the points,
    when there are fewer), and in each such cell
    the point nearest its centre. Returns (positions, cells across, cells down)."""
    wanted = 0.8 * min(count, len(x))  # fewer points than thumbnails: each its own, as large as they can be
    for across in GRIDS:
        down = max(1, round(across * PLOT_ASPECT))
        picked = spread_on_grid(x, y, extent, across, down)
        if len(picked) >= wanted:
            break
    return picked, across, down


def spread_on_grid(x: np.ndarray, y: np.ndarray, extent, across: int, down: int) -> np.ndarray:
    """Positions of points (x, y) on a grid of ``across`` x ``down`` cells over ``extent``: in each
    cell holding points the one nearest its centre, cell by cell."""
    (x0, x1), (y0, y1) = extent
    inside = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
    if not len(inside):
        return inside
    width, height = (x1 - x0) / across, (y1 - y0) / down
    column = np.clip(((x[inside] - x0) / width).astype(int), 0, across - 1)
    row = np.clip(((y[inside] - y0) / height).astype(int), 0, down - 1)
    distance = (((x[inside] - x0) / width - column - 0.5) ** 2 + ((y[inside] - y0) / height - row - 0.5) ** 2)
    cell = row * across + column
    order = np.lexsort((distance, cell))
    first = np.r_[True, cell[order][1:] != cell[order][:-1]]
    return inside[order[first]]


def _add_thumbnails(figure, shown: pd.DataFrame, bundle: cached.DataBundle, extent, count: int) -> None:
    (x0, x1), (y0, y1) = extent
    x, y = shown["map_x"].to_numpy(), shown["map_y"].to_numpy()
    picked, across, down = spread(x, y, extent, count)
    indices = tuple(int(i) for i in shown["index"].to_numpy()[picked])
    sources = cached.thumbnails(state.selection().config.data, bundle.analysis_fingerprint, indices)
    figures.add_thumbnails(figure, x[picked], y[picked], sources, 1.2 * (x1 - x0) / across, 1.2 * (y1 - y0) / down)


def _extent(rows: pd.DataFrame) -> tuple[tuple[float, float], tuple[float, float]]:
    """The rows' map region with a margin of 4 % a side."""
    x, y = rows["map_x"].to_numpy(), rows["map_y"].to_numpy()
    if not len(x):
        return (0.0, 1.0), (0.0, 1.0)
    margin_x, margin_y = 0.04 * max(np.ptp(x), 1e-3), 0.04 * max(np.ptp(y), 1e-3)
    return ((float(x.min() - margin_x), float(x.max() + margin_x)),
            (float(y.min() - margin_y), float(y.max() + margin_y)))


def _focus(table: pd.DataFrame, bundle: cached.DataBundle, key: str, on_open: Callable[[int], object]) -> None:
    """The image last clicked or added to the selection, large, with its facts."""
    index, count = state.focus(), len(state.selected())
    if index is None:
        st.caption("Click a point to see its image here. Shift-click adds more; a box or lasso (tools at the top "
                   "right of the map) selects many; double-click the map to clear.")
    else:
        row = table.iloc[index]
        image = bundle.analysis.read(np.array([index])).images[0]
        st.image(gallery.to_display(image, 192), caption=gallery.breakable(str(row["id"])), width="stretch")
        facts = [f"cluster {row['cluster']}", f"anomaly score {row['anomaly_score']:.3f}"]
        if "label" in row:
            facts.append(f"true label {row['label']}")
        st.caption(" · ".join(facts) + (f" · the last of {count:,} selected" if count > 1 else ""))
        if st.button("Open up close", key=f"open-{key}", icon=":material/zoom_in:", width="stretch"):
            on_open(index)
    st.button("Clear selection", key=f"clear-map-{key}", on_click=state.set_selected, args=((),),
              disabled=count == 0, width="stretch")


def _remembered_toggle(where, label: str, key: str, help: str, disabled: bool = False) -> bool:
    mirror = keys.remembered(key)
    if key not in st.session_state:
        st.session_state[key] = bool(st.session_state.get(mirror, False))
    value = where.toggle(label, key=key, help=help, disabled=disabled)
    st.session_state[mirror] = value
    return value


# Double-click on the map clears the selection, also when the selection was made elsewhere (a link,
# ticked images): Streamlit's chart clears only a selection made on that chart, so a click on the
# page's Clear button does it (the map's and the button's keys share their name: map-X, clear-map-X).
_DOUBLE_CLICK_CLEARS = """<script>
(function () {
  if (window.latentExplorerClearHook) { return; }
  window.latentExplorerClearHook = setInterval(function () {
    document.querySelectorAll('[class*="st-key-map-"] .js-plotly-plot').forEach(function (plot) {
      if (plot.latentExplorerHooked || !plot.on) { return; }
      plot.latentExplorerHooked = true;
      var clear = function () {
        var holder = plot.closest('[class*="st-key-map-"]');
        var name = Array.from(holder.classList).find(function (c) { return c.indexOf('st-key-map-') === 0; });
        var button = document.querySelector('.st-key-clear-' + name.slice('st-key-'.length) + ' button');
        if (button && !button.disabled) { button.click(); }
      };
      plot.on('plotly_doubleclick', clear);
      plot.on('plotly_deselect', clear);
    });
  }, 400);
})();
</script>"""


def _clear_on_double_click() -> None:
    st.html(_DOUBLE_CLICK_CLEARS, unsafe_allow_javascript=True)
