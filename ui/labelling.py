"""The Labels page's session glue: ONE label picker, every change saved with undo, changes of many
images confirmed first, and imports that ask before replacing labels made by hand."""

from __future__ import annotations

import streamlit as st

from core import labels
from core.errors import UserInputError
from core.labels import LabelBook
from core.labels.book import MAX_LABEL_LENGTH
from ui import keys

MESSAGE = "labels-message"
UNDO = "labels-undo"
PENDING_IMPORT = "labels-pending-import"
PENDING_ACTION = "labels-pending-action"
SUBMITTED = "labels-submitted"
BULK = 100  # a change of more images than this asks first
UNDO_STEPS = 20


def label_picker(existing: list[str], key: str, where=None, stacked: bool = False) -> str | None:
    """Choose a label: one in use, or a new one typed (the typed one wins). The one way the app asks
    for a label, wherever it does (moving images, "label these next", "keep one, mark the rest").

    Draws, side by side in ``where`` (a container or column; default the page), or one above the
    other with ``stacked`` (for a narrow gallery cell), a box of the labels ``existing`` and a text
    box for a new label, keyed ``key`` and ``key + "-new"``. Inside an
    ``st.form`` nothing reruns until the form is submitted, and Enter in the text box submits it
    (as its first button). Returns the label as it will be stored (``core.labels.clean_label``), or
    None when neither is given; in a callback (a form's ``on_click``), read it with
    :func:`picked_label`.
    """
    where = where or st
    left, right = (where, where) if stacked else where.columns(2)
    if st.session_state.get(key) not in existing:
        st.session_state[key] = None
    left.selectbox("Label in use", existing, index=None, key=key, placeholder="choose a label")
    right.text_input("or a new label", key=key + "-new", placeholder="type a new label", max_chars=MAX_LABEL_LENGTH)
    return picked_label(key)


def picked_label(key: str) -> str | None:
    """The label :func:`label_picker` ``key`` holds now: the typed one, else the one chosen, else None."""
    typed = labels.clean_label(st.session_state.get(key + "-new") or "")
    chosen = st.session_state.get(key)
    return typed or (labels.clean_label(chosen) if chosen else None) or None


def forget_picked(key: str) -> None:
    """Empty :func:`label_picker` ``key`` (after its label was used), in a callback."""
    st.session_state[key + "-new"] = ""


def submitted_action() -> tuple[str, str | None] | None:
    """The (action, label) a form's button submitted in this script run (see :func:`submit`), once;
    None for none, or for "Select ticked" (done: the ticks are the selection)."""
    submitted = st.session_state.pop(SUBMITTED, None)
    return None if submitted is None or submitted[0] == SELECT else submitted


def submit(action: str, picker: str, ticks: list[str], shown) -> None:
    """A form button's callback: the boxes ``ticks`` of the images ``shown`` (their indices) decide
    the selection (ticked ones in, unticked ones out, images on other pages kept), and ``action``
    with the label of picker ``picker`` runs in the script run that follows."""
    from ui import state

    ticked = {int(index) for index, box in zip(shown, ticks) if st.session_state.get(box)}
    state.set_selected((set(state.selected()) - {int(index) for index in shown}) | ticked)
    st.session_state[SUBMITTED] = (action, picked_label(picker))
    if action == "Move to label" and picked_label(picker):
        forget_picked(picker)


SELECT = "Select ticked"
ACTIONS = {  # the bulk form's buttons -> their help (the first is what Enter in the label box does)
    "Move to label": "Give the ticked images the label chosen or typed (Enter in the text box does it too).",
    "Mark anomaly": "Give the ticked images the label 'anomaly'.",
    "Not an anomaly": "Give the images their cluster's name, confirmed.",
    "Confirm": "Keep their labels, marked as checked by a person.",
    SELECT: "Make the ticked images the selection (shown on the maps, kept in the link); no label changes.",
}


def bulk_form(images, shown, files: list[str], given: list[str], selected, existing: list[str]) -> None:
    """The Labels page's gallery as one form: the images ``shown`` (indices, with their (N, H, W, C)
    ``images``, ``files`` and labels ``given`` here) with tick boxes, ticked for those ``selected``;
    the label picker over ``existing`` labels; and one button per action. Ticking reruns nothing;
    a button's press makes the ticks the selection and hands its action to
    :func:`submitted_action`."""
    from ui import gallery

    with st.form("labels-gallery", border=False):
        names = [name.rsplit("/", 1)[-1] for name in files]
        boxes = gallery.pick_images(images, shown, names, given,
                                    [None if name == file else file for name, file in zip(names, files)],
                                    chosen=selected) if len(shown) else []
        st.caption("Tick images, then act on them below: nothing happens until a button is pressed. Under each "
                   "image, the label it has here; hover a box for the whole path." if len(shown)
                   else "No images here yet.")
        label_picker(existing, keys.LABELS_TARGET)
        for column, (name, tip) in zip(st.columns(len(ACTIONS)), ACTIONS.items()):
            column.form_submit_button(name, help=tip, type="primary" if name == "Move to label" else "secondary",
                                      on_click=submit, args=(name, keys.LABELS_TARGET, boxes, shown),
                                      width="stretch")


def n_images(count: int) -> str:
    return f"{count:,} image" + ("" if count == 1 else "s")


def save_change(key: str, folder, before: LabelBook, after: LabelBook, message: str) -> None:
    """Save ``after`` as the run's labels and remember ``before`` for :func:`undo_button`."""
    steps = st.session_state.setdefault(UNDO, {}).setdefault(key, [])
    steps.append((before, message))
    del steps[:-UNDO_STEPS]
    labels.save(after, folder)
    st.session_state[MESSAGE] = ("success", message)


def show_message() -> None:
    kind, text = st.session_state.pop(MESSAGE, (None, None))
    if kind:
        getattr(st, kind)(text)


def undo_button(key: str, folder) -> None:
    """Undo the session's last change to this run's labels (up to ``UNDO_STEPS`` back)."""
    steps = st.session_state.get(UNDO, {}).get(key, [])
    label = f"Undo: {steps[-1][1]}" if steps else "Undo"
    if st.button(label[:90], icon=":material/undo:", disabled=not steps, help="Put the labels back as they were "
                 "before the last change made in this session."):
        before, message = steps.pop()
        labels.save(before, folder)
        st.session_state[MESSAGE] = ("info", f"Undone: {message}")
        st.rerun()


def wants_confirmation(name: str, count: int, label: str | None = None) -> bool:
    """True, and the question asked on the next run, when ``count`` images is a bulk change."""
    if count <= BULK:
        return False
    st.session_state[PENDING_ACTION] = (name, count, label)
    return True


def pending_action() -> tuple[str, str | None] | None:
    """The bulk action awaiting an answer, shown with Yes / Cancel; returns (its name, its label)
    once confirmed."""
    pending = st.session_state.get(PENDING_ACTION)
    if pending is None:
        return None
    name, count, label = pending
    st.warning(f"**{name}** changes the labels of {n_images(count)} at once. Go ahead? (Undo can take it back.)")
    yes, cancel = st.columns([1, 6])
    if cancel.button("Cancel", key="bulk-cancel"):
        st.session_state.pop(PENDING_ACTION)
        st.rerun()
    if yes.button(f"Yes, change {count:,}", type="primary", key="bulk-yes"):
        st.session_state.pop(PENDING_ACTION)
        return name, label
    return None


def import_file(key: str, folder, ids) -> None:
    """The uploader's on_change: read the file; ask first when it would change labels made by hand."""
    upload = st.session_state.get(keys.LABELS_UPLOAD)
    if upload is None:
        return
    try:
        imported = labels.read_csv(upload.getvalue(), ids)
    except UserInputError as error:
        st.session_state[MESSAGE] = ("error", str(error))
        return
    current = labels.load(folder, ids)
    conflicts = current.manual_conflicts(imported)
    if conflicts:
        st.session_state[PENDING_IMPORT] = (key, imported, upload.name, conflicts)
    else:
        _apply_import(key, folder, current, imported, upload.name)


def _apply_import(key: str, folder, current: LabelBook, imported: LabelBook, name: str) -> None:
    st.session_state[keys.LABELS_TARGET] = None  # the imported labels may not hold the chosen one
    forget_picked(keys.LABELS_TARGET)
    save_change(key, folder, current, imported, f"Imported {imported.progress()['labelled']:,} labels from {name}.")


def pending_import(key: str, folder, ids) -> None:
    """When an import would change labels made by hand here: keep them, or take the file's."""
    pending = st.session_state.get(PENDING_IMPORT)
    if pending is None or pending[0] != key:
        return
    _, imported, name, conflicts = pending
    st.warning(f"{name} would change {n_images(conflicts)} labelled by hand here. Keep those, or take the file's?")
    keep, replace, cancel = st.columns([2, 2, 3])
    choice = None
    if keep.button(f"Keep my {conflicts:,}", type="primary", key="import-keep"):
        choice = True
    if replace.button("Take the file's labels", key="import-replace"):
        choice = False
    if cancel.button("Cancel the import", key="import-cancel"):
        st.session_state.pop(PENDING_IMPORT)
        st.rerun()
    if choice is not None:
        st.session_state.pop(PENDING_IMPORT)
        current = labels.load(folder, ids)
        _apply_import(key, folder, current, current.merged(imported, keep_manual=choice), name)
        st.rerun()
