"""Filters of the images the maps, galleries and tables show: cluster, true label, label made here,
anomaly score range and "file name contains". One bar of controls, shared by the pages (its values
live in the session and in the link: ui/link.py), and one :class:`ImageFilter` that applies it.

Filters belong to their run, as the selection does: once the data or the run settings change,
they are cleared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from ui import keys, state

NO_LABEL = "(no label)"
WIDGETS = (keys.FILTER_CLUSTERS, keys.FILTER_LABELS, keys.FILTER_GIVEN, keys.FILTER_SCORE, keys.FILTER_NAME)
FILTER_RUN = "filter-run"  # the run key the filters belong to (None: the current run's)


@dataclass(frozen=True)
class ImageFilter:
    """Which images to show; an empty part keeps every image.

    Attributes:
        clusters: cluster numbers to keep.
        labels: true labels (the data's, as text) to keep.
        given: labels made here to keep (``NO_LABEL`` for images without one).
        score: (lowest, highest) anomaly score kept, both included; None keeps every score.
        name: text the file name (``id``) must contain, ignoring case.
    """

    clusters: tuple[int, ...] = ()
    labels: tuple[str, ...] = ()
    given: tuple[str, ...] = ()
    score: tuple[float, float] | None = None
    name: str = ""

    @property
    def active(self) -> bool:
        return bool(self.clusters or self.labels or self.given or self.score is not None or self.name)

    def mask(self, table: pd.DataFrame, given: np.ndarray | None = None) -> np.ndarray:
        """(N,) booleans: the rows of a results table (every image, in order) the filter keeps;
        ``given`` (N,) the labels made here ("" for none)."""
        keep = np.ones(len(table), dtype=bool)
        if self.clusters:
            keep &= table["cluster"].isin(self.clusters).to_numpy()
        if self.labels and "label" in table:
            keep &= table["label"].astype(str).isin(self.labels).to_numpy()
        if self.given and given is not None:
            keep &= np.isin(np.where(given == "", NO_LABEL, given), self.given)
        if self.score is not None:
            scores = table["anomaly_score"].to_numpy()
            keep &= (scores >= self.score[0]) & (scores <= self.score[1])
        if self.name:
            keep &= table["id"].astype(str).str.contains(self.name, case=False, regex=False).to_numpy()
        return keep

    def describe(self) -> str:
        """The filter in words, e.g. "cluster 2, 5 · score 1.2 to 3.4 · name contains 'cat'"."""
        parts = []
        if self.clusters:
            parts.append("cluster " + ", ".join(map(str, self.clusters)))
        if self.labels:
            parts.append("true label " + ", ".join(self.labels))
        if self.given:
            parts.append("label here " + ", ".join(self.given))
        if self.score is not None:
            parts.append(f"score {self.score[0]:.3g} to {self.score[1]:.3g}")
        if self.name:
            parts.append(f"name contains '{self.name}'")
        return " · ".join(parts)


def current() -> ImageFilter:
    """The filter of the session (as the bar last set it, or a link)."""
    _belongs_to_current_run()
    value = st.session_state.get
    score = value(keys.remembered(keys.FILTER_SCORE))
    return ImageFilter(clusters=tuple(int(c) for c in value(keys.remembered(keys.FILTER_CLUSTERS)) or ()),
                       labels=tuple(value(keys.remembered(keys.FILTER_LABELS)) or ()),
                       given=tuple(value(keys.remembered(keys.FILTER_GIVEN)) or ()),
                       score=None if score is None else (float(score[0]), float(score[1])),
                       name=(value(keys.remembered(keys.FILTER_NAME)) or "").strip())


def seed(values: dict) -> None:
    """Put filter values (widget key -> value, as ui/link.py reads them) into the session, before
    the bar is drawn; they belong to the run the session shows next."""
    for key in WIDGETS:
        st.session_state.pop(key, None)
        st.session_state[keys.remembered(key)] = values.get(key)
    st.session_state[FILTER_RUN] = None


def clear() -> None:
    """A button callback: every image again."""
    seed({})


def bar(table: pd.DataFrame, given: np.ndarray | None = None) -> ImageFilter:
    """Draw the filter controls in one row (cluster, true label when the data has labels, label made
    here when there are any, score range, name) with a line saying how many images they keep;
    returns the filter. ``table`` is the run's results table, ``given`` (N,) the labels made here."""
    _belongs_to_current_run()
    truths = sorted(table["label"].astype(str).unique(), key=lambda v: (len(v), v)) if "label" in table else []
    made = sorted(set(given) - {""}) + [NO_LABEL] if given is not None and (given != "").any() else []
    scores = table["anomaly_score"].to_numpy()
    low, high = float(np.floor(scores.min() * 100) / 100), float(np.ceil(scores.max() * 100) / 100)
    shown = [name for name, present in [("clusters", True), ("labels", truths), ("given", made)] if present]
    columns = st.columns([2] * len(shown) + [3, 2], vertical_alignment="bottom")
    place = dict(zip(shown, columns))
    _multiselect(place["clusters"], "Clusters", keys.FILTER_CLUSTERS, sorted(table["cluster"].unique().tolist()))
    if truths:
        _multiselect(place["labels"], "True labels", keys.FILTER_LABELS, truths)
    if made:
        _multiselect(place["given"], "Labels made here", keys.FILTER_GIVEN, made)
    _score_slider(columns[-2], low, high)
    _remembered(keys.FILTER_NAME, "")
    columns[-1].text_input("File name contains", key=keys.FILTER_NAME, placeholder="e.g. cat/",
                           on_change=_mirror, args=(keys.FILTER_NAME,))
    chosen = current()
    if chosen.active:
        kept = int(chosen.mask(table, given).sum())
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.caption(f"Showing {kept:,} of {len(table):,} images: {chosen.describe()}.")
        right.button("Clear filters", on_click=clear, key="filters-clear", width="stretch")
    return chosen


def _multiselect(column, label: str, key: str, options: list) -> None:
    _remembered(key, [])
    st.session_state[key] = [value for value in st.session_state[key] if value in options]  # of this run
    st.session_state[keys.remembered(key)] = st.session_state[key]
    column.multiselect(label, options, key=key, placeholder="all", on_change=_mirror, args=(key,))


def _score_slider(column, low: float, high: float) -> None:
    chosen = st.session_state.get(keys.remembered(keys.FILTER_SCORE))
    if high <= low:
        return
    value = (low, high) if chosen is None else (max(low, min(chosen[0], high)), min(high, max(chosen[1], low)))
    st.session_state[keys.FILTER_SCORE] = value
    column.slider("Anomaly score", low, high, key=keys.FILTER_SCORE, step=max((high - low) / 200, 0.001),
                  format="%.2f", on_change=_mirror_score, args=(low, high))


def _mirror_score(low: float, high: float) -> None:
    value = st.session_state[keys.FILTER_SCORE]
    whole = value[0] <= low and value[1] >= high
    st.session_state[keys.remembered(keys.FILTER_SCORE)] = None if whole else tuple(value)


def _remembered(key: str, default) -> None:
    """Give widget ``key`` its remembered value (widgets lose theirs on pages that do not draw them)."""
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(keys.remembered(key)) or default


def _mirror(key: str) -> None:
    st.session_state[keys.remembered(key)] = st.session_state[key]


def _belongs_to_current_run() -> None:
    """Clear the filters once the run they were set for is no longer the one shown."""
    run = state.current_run_key()
    owner = st.session_state.get(FILTER_RUN)
    if owner is None:
        st.session_state[FILTER_RUN] = run
    elif owner != run:
        seed({})
        st.session_state[FILTER_RUN] = run
