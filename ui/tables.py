"""Tables of images: sortable, one row per image, a chosen row opened up close."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st


def image_rows(table: pd.DataFrame, positions, given: np.ndarray | None = None) -> pd.DataFrame:
    """The rows of a results table at ``positions`` as a person reads them: indexed by image, with
    its file, cluster, scores, true label (when known) and label made here (``given``, when given);
    the file column only where it says more than the index (not for the rows of an array)."""
    rows = table.iloc[np.asarray(positions, dtype=np.int64)]
    frame = pd.DataFrame(index=pd.Index(rows["index"].to_numpy(), name="image"))
    names = rows["id"].astype(str).to_numpy()
    if (names != rows["index"].astype(str).to_numpy()).any():
        frame["file"] = names
    frame["cluster"] = rows["cluster"].to_numpy()
    frame["anomaly score"] = rows["anomaly_score"].to_numpy()
    frame["reconstruction error"] = rows["reconstruction_error"].to_numpy()
    if "label" in rows:
        frame["true label"] = rows["label"].astype(str).to_numpy()
    if given is not None:
        frame["label here"] = given[rows["index"].to_numpy()]
    return frame


def selection_table(table: pd.DataFrame, positions, given: np.ndarray | None, key: str,
                    on_open: Callable[[int], object]) -> None:
    """A sortable table of the images at ``positions`` (click a column's name to sort); choosing a row
    opens that image with ``on_open(index)``, once per choice."""
    frame = image_rows(table, positions, given)
    st.caption("Click a column's name to sort; choose a row to open that image up close.")
    event = st.dataframe(frame, key=key, on_select="rerun", selection_mode="single-row",
                         height=min(420, 35 * (len(frame) + 1) + 3),
                         column_config={"anomaly score": st.column_config.NumberColumn(format="%.3f"),
                                        "reconstruction error": st.column_config.NumberColumn(format="%.4f")})
    rows = event.selection.rows  # positions in ``frame`` as built, whatever the browser's sort
    chosen = int(frame.index[rows[0]]) if rows else None
    if chosen != st.session_state.get(f"{key}-opened"):
        st.session_state[f"{key}-opened"] = chosen
        if chosen is not None:
            on_open(chosen)
