"""The Labels page's session glue: every change saved with undo, changes of many images confirmed
first, and imports that ask before replacing labels made by hand."""

from __future__ import annotations

import streamlit as st

from core import labels
from core.errors import UserInputError
from core.labels import LabelBook
from ui import keys

MESSAGE = "labels-message"
UNDO = "labels-undo"
PENDING_IMPORT = "labels-pending-import"
PENDING_ACTION = "labels-pending-action"
BULK = 100  # a change of more images than this asks first
UNDO_STEPS = 20


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


def wants_confirmation(name: str, count: int) -> bool:
    """True, and the question asked on the next run, when ``count`` images is a bulk change."""
    if count <= BULK:
        return False
    st.session_state[PENDING_ACTION] = (name, count)
    return True


def pending_action() -> str | None:
    """The bulk action awaiting an answer, shown with Yes / Cancel; returns its name once confirmed."""
    pending = st.session_state.get(PENDING_ACTION)
    if pending is None:
        return None
    name, count = pending
    st.warning(f"**{name}** changes the labels of {n_images(count)} at once. Go ahead? (Undo can take it back.)")
    yes, cancel = st.columns([1, 6])
    if cancel.button("Cancel", key="bulk-cancel"):
        st.session_state.pop(PENDING_ACTION)
        st.rerun()
    if yes.button(f"Yes, change {count:,}", type="primary", key="bulk-yes"):
        st.session_state.pop(PENDING_ACTION)
        return name
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
