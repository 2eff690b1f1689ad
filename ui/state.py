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
    """The choices the pages show: the sidebar's, or, while its data cannot be used (a file that does
    not load, no file chosen yet), the last ones that could: their pages stay as they were."""
    chosen = st.session_state[keys.SELECTION]
    if chosen.ready:
        return chosen
    return st.session_state.get(keys.GOOD_SELECTION) or chosen


def remember(chosen: Selection) -> None:
    """The sidebar's choices for this script run; kept as the good ones when their data loaded."""
    st.session_state[keys.SELECTION] = chosen
    if chosen.ready:
        st.session_state[keys.GOOD_SELECTION] = chosen


def current_run_key() -> str | None:
    """The key of the run the pages show (stored or not), None while no data is chosen."""
    shown = selection()
    if not shown.ready:
        return None
    try:
        return current_key(cached.load_data(shown.config.data, shown.config.embeddings))
    except UserInputError:
        return None


def selected() -> tuple[int, ...]:
    """The images selected on a map or ticked in a gallery: sorted indices into the run's images
    (shared by the pages, and part of the link). A selection belongs to its run: once the data or
    the run settings change, it is dropped."""
    indices = tuple(st.session_state.get(keys.SELECTED, ()))
    if not indices:
        return ()
    owner, current = st.session_state.get(keys.SELECTED_RUN), current_run_key()
    if owner is None:  # set without its run (a test, an older session): the current run's
        st.session_state[keys.SELECTED_RUN] = current
    elif owner != current:
        set_selected(())
        return ()
    return indices


def set_selected(indices) -> None:
    """Make ``indices`` the selection of the current run; the image last added to it is the focus."""
    before = set(st.session_state.get(keys.SELECTED, ()))
    chosen = tuple(sorted({int(i) for i in indices}))
    st.session_state[keys.SELECTED] = chosen
    st.session_state[keys.SELECTED_RUN] = current_run_key() if chosen else None
    added = sorted(set(chosen) - before)
    if added:
        st.session_state[keys.FOCUS] = added[-1]
    elif st.session_state.get(keys.FOCUS) not in chosen:
        st.session_state[keys.FOCUS] = chosen[0] if chosen else None


def focus() -> int | None:
    """The image last clicked or added to the selection (None without a selection)."""
    return st.session_state.get(keys.FOCUS) if selected() else None


def data_or_stop() -> cached.DataBundle:
    """The images the pages show, or one message in the page and a stop. While the sidebar's data
    cannot be used, its one line is said above the earlier data's page."""
    chosen, shown = st.session_state[keys.SELECTION], selection()
    meanwhile = "" if shown is chosen else f" The pages show the earlier data meanwhile ({_data_name(shown)})."
    if chosen.source_error:
        st.error(chosen.source_error + meanwhile)
    elif chosen.config.data is None:
        st.info("Choose a dataset in the sidebar: upload a file or enter a path." + meanwhile)
    if not shown.ready:
        st.stop()
    try:
        return cached.load_data(shown.config.data, shown.config.embeddings)
    except UserInputError as error:
        st.error(str(error))
        st.stop()


def _data_name(shown: Selection) -> str:
    try:
        return cached.load_data(shown.config.data, shown.config.embeddings).analysis.name
    except UserInputError:
        return str(shown.config.data)


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
    """Draw a latent map whose clicks, box and lasso selections become the shared selection; returns it.

    The figure's points need the image index as ``customdata[0]``. A selection made elsewhere (a
    link, ticked images, the other map, the Clear button) is drawn highlighted. A selection made on
    this map is left to plotly: the figure sent stays the same, so the chart keeps its own state
    and shift-click adds to it (Streamlit gives a chart a new identity, and an empty selection,
    whenever its figure changes).
    """
    import hashlib

    from ui import figures

    shown = selected()
    signature = hashlib.sha1(figure.to_json().encode()).hexdigest()
    drawn = st.session_state.get(f"{key}-drawn")  # (signature, the selection drawn highlighted)
    if drawn is None or drawn[0] != signature or shown != st.session_state.get(f"{key}-reported"):
        drawn = st.session_state[f"{key}-drawn"] = (signature, shown)

    def take_selection() -> None:
        event = st.session_state.get(key)
        points = event["selection"]["points"] if event else []
        set_selected(int(point["customdata"][0]) for point in points if point.get("customdata"))
        st.session_state[f"{key}-reported"] = selected()

    st.plotly_chart(figures.highlight(figure, drawn[1]), width="stretch", on_select=take_selection,
                    selection_mode=("points", "box", "lasso"), key=key)
    return selected()
