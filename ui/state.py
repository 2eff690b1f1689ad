"""What every page needs to know: the selected data and settings, and the run they name.

The sidebar stores a :class:`Selection` in the session; pages call :func:`data_or_stop` and
:func:`result_or_stop`, which show one clear message and stop the page when there is nothing to
show yet or the input is bad.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.errors import UserInputError
from core.run.config import RunConfig
from core.run.results import RunResult
from core.run.store import run_key
from ui import cached, keys


@dataclass(frozen=True)
class Selection:
    """The sidebar's choices. ``config.data`` is None until a source is chosen (e.g. no upload yet)."""

    config: RunConfig
    source_error: str | None = None
    data_param: str | None = None

    @property
    def ready(self) -> bool:
        return self.config.data is not None and self.source_error is None


def selection() -> Selection:
    return st.session_state[keys.SELECTION]


def selected() -> tuple[int, ...]:
    """The images selected on the latent map or ticked in a gallery: sorted indices (shared by
    the pages, and part of the link)."""
    return tuple(st.session_state.get(keys.SELECTED, ()))


def set_selected(indices) -> None:
    st.session_state[keys.SELECTED] = tuple(sorted({int(i) for i in indices}))


def data_or_stop() -> cached.DataBundle:
    """The selected images, or one message in the page and a stop."""
    chosen = selection()
    if chosen.source_error:
        st.error(chosen.source_error)
        st.stop()
    if chosen.config.data is None:
        st.info("Choose a dataset in the sidebar: upload a file or enter a path.")
        st.stop()
    try:
        return cached.load_data(chosen.config.data)
    except UserInputError as error:
        st.error(str(error))
        st.stop()


def current_key(bundle: cached.DataBundle) -> str:
    return run_key(selection().config, bundle.train_fingerprint, bundle.analysis_fingerprint)


def result_or_stop() -> tuple[cached.DataBundle, str, RunResult]:
    """(data, run key, result) of the selected run, or a hint to press Run and a stop."""
    bundle = data_or_stop()
    key = current_key(bundle)
    config = selection().config
    if not cached.store().has(key):
        job = cached.store().job(key)
        if job is not None and job.running:
            st.info("This run is training: follow it on the **Training** page. This page fills in when it ends.")
            _rerun_when_done(job)
        else:
            st.info("No results for these settings yet: press **Run** in the sidebar.")
        st.stop()
    try:
        return bundle, key, cached.run_result(str(cached.runs_dir()), key, config)
    except UserInputError as error:
        st.error(str(error))
        st.stop()


@st.fragment(run_every=2.0)
def _rerun_when_done(job) -> None:
    """Poll a running job; rerun the whole page once it has finished."""
    if not job.running:
        st.rerun()


MAP_POINTS = 200_000


def map_rows(table):
    """The rows of a results table the map draws: all of them, or a seeded sample of ``MAP_POINTS``
    (a browser draws a few hundred thousand WebGL points smoothly), with a line saying so."""
    if len(table) <= MAP_POINTS:
        return table
    st.caption(f"The map shows a seeded sample of {MAP_POINTS:,} of the {len(table):,} images; every image is in "
               "the clusters, scores and exports.")
    return table.sample(n=MAP_POINTS, random_state=0).sort_index()


def selectable_map(figure, key: str) -> tuple[int, ...]:
    """Draw a latent map whose box / lasso selection becomes the shared selection; returns it.

    The figure's points need the image index as ``customdata[0]``. The shared selection is drawn
    highlighted, so a selection from a link or from ticked images shows on the map too.
    """
    from ui import figures

    def take_selection() -> None:
        event = st.session_state.get(key)
        points = event["selection"]["points"] if event else []
        set_selected(int(point["customdata"][0]) for point in points if point.get("customdata"))

    st.plotly_chart(figures.highlight(figure, selected()), width="stretch", on_select=take_selection,
                    selection_mode=("points", "box", "lasso"), key=key)
    return selected()
