"""The Labels page's "Let it label the rest": the labels made so far teach a labeller in the worker
process (``core.run.jobs.TeachingJob``, never the server's thread), then every image has a predicted
label and a confidence (a map coloured by either), predictions above a confidence can be accepted
(source ``predicted``, with undo), a "Label these next" gallery asks for the images most worth a
label, with the one label picker under each, and a chart follows accuracy round by round when the
data has true labels."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.labels.book import RESERVED
from core.labels.teach import STAGE_TITLES, read_round
from core.run.jobs import TEACH_FOLDER, TeachingJob
from ui import figures, gallery, keys, labelling

NEXT_SUBMITTED = "teach-next-submitted"
COLOURS = ("predicted label", "confidence")


def start(key: str, folder, seed: int) -> None:
    """Ask the worker for a round of teaching on run ``key`` (its folder's labels.csv teaches)."""
    st.session_state.setdefault(keys.TEACHING, {})[key] = TeachingJob(folder, seed=seed)


@st.fragment(run_every=0.5)
def _follow(job: TeachingJob) -> None:
    """The running round's stage on a progress bar; the page reruns once it has ended."""
    if not job.running:
        st.rerun()
    stage = job.stage()
    stages = list(STAGE_TITLES)
    done = stages.index(stage) if stage in stages else 0
    st.progress(done / len(stages), text=f"{STAGE_TITLES[stage]}…" if stage in STAGE_TITLES
                else "Waiting for the worker process…")


def section(key: str, folder, book, result, bundle, seed: int, truth) -> None:
    """The whole "Let it label the rest" section for run ``key`` (its ``folder``, label ``book``,
    ``result`` and data ``bundle``); ``truth`` (N,) str the true labels, or None."""
    st.subheader("3. Let it label the rest")
    st.caption("Your labels (not anomaly, duplicate or accepted predictions) teach a labeller: every image gets a "
               "predicted label and a confidence, and the images most worth labelling next are shown. With no "
               "labels yet, it suggests one typical image per cluster first.")
    job = st.session_state.get(keys.TEACHING, {}).get(key)
    if st.button("Let it label the rest", type="primary", icon=":material/school:", disabled=bool(job and job.running),
                 key="teach-start"):
        start(key, folder, seed)
        st.rerun()
    if job is not None and job.running:
        _follow(job)
        return
    if job is not None and job.failed:
        st.error(f"Teaching failed: {job.error}")
    predictions, suggestions, rounds = read_round(folder / TEACH_FOLDER)
    if suggestions is None:
        return
    if predictions is None:
        st.info("No predictions yet: label images with at least two different labels (the suggestions below are "
                "a good start), then teach again.")
    else:
        _predictions(key, folder, book, result, predictions, rounds[-1] if rounds else {})
    _label_next(key, folder, book, bundle, suggestions, len(rounds), seed)
    if truth is not None and any(entry.get("accuracy") is not None for entry in rounds):
        st.plotly_chart(figures.accuracy_by_labels(
            [entry["n_taught"] for entry in rounds],
            {"every image": [entry.get("accuracy") for entry in rounds],
             "images nobody labelled": [entry.get("accuracy_untaught") for entry in rounds]},
            "Accuracy against the true labels, round by round"), width="stretch", key="teach-accuracy")


def _predictions(key: str, folder, book, result, predictions, last: dict) -> None:
    accuracy = last.get("accuracy_untaught")
    st.success(f"Round with {last.get('n_taught', 0):,} labels ({last.get('labeller', '')}): every image has a "
               "predicted label" + ("" if accuracy is None else f"; accuracy on the images nobody labelled "
                                    f"{accuracy:.1%}") + f"; {last.get('seconds', 0):.1f} s.")
    colour = st.radio("Colour the map by", COLOURS, horizontal=True, key=keys.TEACH_COLOUR)
    table = result.table.assign(**{COLOURS[0]: predictions["predicted_label"].to_numpy(),
                                   COLOURS[1]: predictions["confidence"].to_numpy()})
    st.plotly_chart(figures.latent_map(table, colour, "Predicted label of every image" if colour == COLOURS[0]
                                        else "Confidence of each predicted label", categorical=colour == COLOURS[0]),
                    width="stretch", key="teach-map")
    threshold = st.slider("Accept predictions above a confidence", 0.5, 1.0, 0.9, 0.01, key=keys.TEACH_ACCEPT)
    open_ = (predictions["taught"].to_numpy() == 0) & (book.sources != "manual")
    chosen = np.flatnonzero(open_ & (predictions["confidence"].to_numpy() >= threshold))
    st.caption(f"{labelling.n_images(len(chosen))} above {threshold:.2f} without a label set by hand; accepted, "
               "they keep source predicted (they never teach) and Undo takes them back.")
    if st.button(f"Accept {len(chosen):,} predictions", disabled=not len(chosen), key="teach-accept-button"):
        before = book.copy()
        changed = book.accept_predictions(chosen, predictions["predicted_label"].to_numpy()[chosen])
        labelling.save_change(key, folder, before, book,
                              f"Accepted {changed:,} predictions above {threshold:.2f}.")
        st.rerun()


def _remember_next(pickers: dict[int, str]) -> None:
    """The "teach again" button's callback: the labels picked under the suggested images."""
    st.session_state[NEXT_SUBMITTED] = {index: labelling.picked_label(picker) for index, picker in pickers.items()}


def _label_next(key: str, folder, book, bundle, suggestions, round_number: int, seed: int) -> None:
    st.markdown("**Label these next**")
    submitted = st.session_state.pop(NEXT_SUBMITTED, None)
    picked = {index: label for index, label in (submitted or {}).items() if label}
    if picked:
        before = book.copy()
        for label in set(picked.values()):
            book.assign([index for index, given in picked.items() if given == label], label)
        labelling.save_change(key, folder, before, book, f"Labelled {len(picked):,} suggested images; teaching again.")
        start(key, folder, seed)
        st.rerun()
    shown = np.asarray([i for i in suggestions["index"].to_numpy() if book.sources[i] != "manual"], dtype=np.int64)
    if not len(shown):
        st.caption("Every suggested image has a label now: teach again for new suggestions.")
        return
    existing = sorted(set(book.labels) - {"", *RESERVED})
    pickers = {int(index): f"teach-next-{round_number}-{index}" for index in shown}
    with st.form("teach-next", border=False):
        gallery.show_images(bundle.analysis.read(shown).images, [str(bundle.analysis.ids[i]) for i in shown],
                            columns=5, below=lambda position: labelling.label_picker(
                                existing, pickers[int(shown[position])], stacked=True))
        st.form_submit_button("Save these labels and teach again", type="primary", on_click=_remember_next,
                              args=(pickers,))
    if submitted is not None and not picked:
        st.warning("Pick or type a label under some of the images first.")
