"""The shared sidebar: dataset, run settings and the one Run button."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core import settings
from core.errors import UserInputError
from core.methods.checks import MAX_CLUSTERS
from core.model.presets import MAX_EPOCHS, PRESETS
from core.run import uploads, warmup
from core.run.config import METHODS, RunConfig, default_method
from ui import cached, filters, keys, link, state
from ui.state import Selection, current_key, selected

BUILT_IN = {
    "Built-in digits (offline)": "digits",
    "MNIST (downloads once)": "mnist",
    "Fashion-MNIST (downloads once)": "fashion-mnist",
}
UPLOAD = "Upload .npz or .zip"
LOCAL_PATH = "Local path"
PUBLIC_MODE_SECRET = "public_mode"


def public_mode() -> bool:
    """True when local paths are disabled (a public deployment): $LATENT_EXPLORER_PUBLIC=1, or
    ``public_mode = true`` in ``.streamlit/secrets.toml`` (the Secrets box of Community Cloud)."""
    if settings.public_mode_from_environment():
        return True
    try:
        return str(st.secrets.get(PUBLIC_MODE_SECRET, "")).lower() in ("1", "true", "yes")
    except Exception:  # no secrets file: Streamlit raises its own error types here
        return False


def apply_link() -> str | None:
    """Read a shared link into the session on its first run (before the sidebar is drawn); returns
    the page it names, if any."""
    return link.apply_once(BUILT_IN, UPLOAD, LOCAL_PATH, public_mode())


def render() -> bool:
    """Draw the sidebar, store the Selection in the session, and return whether Run was pressed."""
    with st.sidebar:
        st.header("Dataset")
        options = [*BUILT_IN, UPLOAD] + ([] if public_mode() else [LOCAL_PATH])
        source = remembered(st.selectbox, "Images", keys.SOURCE, options[0], options=options)
        data_spec, source_error = _data_spec(source)
        embeddings, embeddings_error = _embeddings_spec()
        source_error = source_error or embeddings_error
        n_images = None
        if data_spec is not None and source_error is None:
            try:  # loaded once per process (cached); a bad file is said once, on the page, and Run waits
                n_images = len(cached.load_data(data_spec, embeddings).analysis)
            except UserInputError as error:
                source_error = str(error)

        st.header("Run settings")
        preset = remembered(st.selectbox, "Autoencoder preset", keys.PRESET, "default",
                            options=sorted(PRESETS, key=lambda name: name != "default"),
                            help="; ".join(f"**{p.name}**: {p.description}" for p in PRESETS.values()))
        recipe = PRESETS[preset]
        method = remembered(st.selectbox, "Analysis", keys.method_key(preset), default_method(preset),
                            options=list(METHODS), format_func=lambda name: f"{name} method",
                            help="; ".join(f"**{name}**: {method.description}" for name, method in METHODS.items()))
        automatic = None if recipe.adapts_to_data else recipe.epochs  # None: the preset adapts to the data
        epochs = remembered(st.number_input, "Epochs", keys.epochs_key(preset), automatic, min_value=1,
                            max_value=MAX_EPOCHS, placeholder="automatic",
                            help=f"Empty = automatic: {recipe.epochs}, or more on small datasets.")
        batch_size = remembered(st.number_input, "Batch size", keys.batch_key(preset),
                                recipe.batch_size if automatic else None, min_value=1, max_value=8192,
                                placeholder="automatic",
                                help=f"Empty = automatic: {recipe.batch_size}, or smaller on small datasets.")
        clusters = remembered(st.number_input, "Clusters (k)", keys.CLUSTERS, 10, min_value=1, max_value=MAX_CLUSTERS,
                              help="Changing k re-clusters the stored latent vectors: no retraining.")
        contamination = remembered(st.number_input, "Anomaly contamination", keys.CONTAMINATION, 0.01,
                                   min_value=0.001, max_value=0.499, step=0.005, format="%.3f",
                                   help="Expected share of anomalies: sets the flagging threshold.")
        seed = remembered(st.number_input, "Seed", keys.SEED, 0, min_value=0, max_value=2**31 - 1)
        config = RunConfig(data=data_spec, preset=preset, epochs=None if epochs is None else int(epochs),
                           batch_size=None if batch_size is None else int(batch_size),
                           clusters=int(clusters), contamination=float(contamination), seed=int(seed),
                           method=method, embeddings=embeddings)
        state.remember(Selection(config=config, source_error=source_error,
                                 data_param=link.data_param(source, data_spec, BUILT_IN)))
        pressed = st.button("Run", type="primary", width="stretch",
                            disabled=data_spec is None or source_error is not None,
                            help="Fix the data first: see the message on the page." if source_error else None)
    link.settle_once(n_images)
    return pressed


def open_run(config: RunConfig) -> None:
    """A button callback: select a stored run's data and settings in the sidebar."""
    params = link.settings_params(config, link.data_param_of_spec(config.data, BUILT_IN))
    if link.apply(params, BUILT_IN, UPLOAD, LOCAL_PATH, public_mode()):
        st.session_state[keys.RUNS_MESSAGE] = "This run's data cannot be opened here (a local path in public mode)."


def share(page: str, url_path: str) -> None:
    """Put the current view in the address bar, and a "Copy link" control at the sidebar's foot."""
    chosen = state.selection()  # while the sidebar's data is bad, the view the pages still show
    colour = st.session_state.get(keys.MAP_COLOUR, st.session_state.get(keys.remembered(keys.MAP_COLOUR)))
    params = link.view_params(link.settings_params(chosen.config, chosen.data_param), page, colour, selected(),
                              filters.current())
    link.write(params)
    with st.sidebar, st.popover("Copy link", icon=":material/link:", width="stretch"):
        st.code(link.share_url(params, url_path), language=None, wrap_lines=True)
        st.caption("This link opens this page with the same data, settings, colouring, filter and selection: "
                   "from the stored run, or by training the same settings with the same seed.")


def remembered(widget, label: str, key: str, default, **kwargs):
    """A widget whose value survives runs that do not draw it (Streamlit drops such widget state).

    The value is mirrored in a plain session key and handed back to the widget when it returns.
    A value that is not among ``options`` (say, from a link) falls back to ``default``.
    """
    mirror = keys.remembered(key)
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(mirror, default)
    if "options" in kwargs and st.session_state[key] not in list(kwargs["options"]):
        st.session_state[key] = default  # e.g. a colour by label from a link, for data without labels
    value = widget(label, key=key, **kwargs)
    st.session_state[mirror] = value
    return value


def _data_spec(source: str) -> tuple[str | None, str | None]:
    """(data spec, error) for the chosen source; spec None until an upload or path is given."""
    if source in BUILT_IN:
        return BUILT_IN[source], None
    if source == UPLOAD:
        upload = st.file_uploader("An .npz, or a .zip of images", type=["npz", "zip"], key=keys.UPLOAD)
        kept = _kept_upload(upload, keys.LINKED_UPLOAD)
        return (None if kept is None else str(kept)), None
    text = st.text_input("Path to an .npz, .zip or folder on this machine", key=keys.LOCAL_PATH)
    return _local_path(text, Path.exists, "Nothing at '{text}' on the machine running this app: enter the path of an "
                       ".npz file, a .zip of images, or a folder of images or of .npz files.")


def _local_path(text: str, found, missing: str) -> tuple[str | None, str | None]:
    """(path, error) for a path typed in the sidebar: (None, None) while empty; ``missing`` (with
    ``{text}``) when ``found(path)`` is False."""
    text = text.strip()
    if not text:
        return None, None
    path = Path(text).expanduser()
    return (str(path), None) if found(path) else (None, missing.format(text=text))


def _kept_upload(upload, linked: str) -> Path | None:
    """An uploader's file, kept in the runs folder and remembered under session key ``linked`` (so it
    stays chosen when the uploader is redrawn empty, or a link names it); else the file remembered,
    said in a caption; None without either."""
    if upload is not None:
        saved = uploads.save(cached.runs_dir(), upload.name, upload.getvalue())
        st.session_state[linked] = uploads.key_of(saved)
        return saved
    kept = uploads.find(cached.runs_dir(), st.session_state.get(linked) or "")
    if kept is not None:
        st.caption(f"Using the earlier upload **{kept.name}**.")
    return kept


def _embeddings_spec() -> tuple[str | None, str | None]:
    """(embeddings file, error): an optional file of vectors, one per image id, uploaded or on this
    machine; (None, None) without one."""
    given = st.session_state.get(keys.LINKED_EMBEDDINGS) or st.session_state.get(keys.EMBEDDINGS_PATH)
    with st.expander("Embeddings (optional)", expanded=bool(given)):
        upload = st.file_uploader("Your own vectors: an .npz (ids, embeddings) or a .parquet (id + numbers)",
                                  type=["npz", "parquet"], key=keys.EMBEDDINGS_UPLOAD,
                                  help="One vector per image from any model (CLIP, DINO, ...), matched by id: the "
                                       "path inside the zip or folder, <shard>:<row>, or the row of an array. The "
                                       "network then learns from them; the pages still show the images.")
        kept = _kept_upload(upload, keys.LINKED_EMBEDDINGS)
        if kept is not None:
            if upload is not None or not st.button("Run without them", key=keys.EMBEDDINGS_FORGET):
                return str(kept), None
            st.session_state[keys.LINKED_EMBEDDINGS] = None
        if public_mode():
            return None, None
        text = st.text_input("…or its path on this machine", key=keys.EMBEDDINGS_PATH)
    return _local_path(text, Path.is_file, "No embeddings file at '{text}' on the machine running this app: enter "
                       "the path of an .npz or .parquet file.")


def start_run() -> None:
    """Start training the selected run in the background and open the Training page.

    Bad input shows one ``st.error`` and starts nothing; earlier runs are untouched.
    """
    if _start():
        st.switch_page("views/training.py")


def start_linked_run() -> None:
    """After a shared link is opened: train its run in the background unless it is stored already."""
    if st.session_state.pop(keys.AUTORUN, False) and st.session_state[keys.SELECTION].ready:
        _start()


def warm_up_unless_stored() -> None:
    """After a script run: when the selected settings have no stored run, start loading TensorFlow,
    scikit-learn and UMAP in the background (core/run/warmup.py), so that pressing Run does not wait."""
    cached.remove_unused_uploads_once(str(cached.runs_dir()), settings.upload_keep_days())
    chosen = st.session_state.get(keys.SELECTION)
    if warmup.started() or chosen is None or not chosen.ready:
        return
    try:
        bundle = cached.load_data(chosen.config.data, chosen.config.embeddings)
    except UserInputError:
        return
    if not cached.store().has(current_key(bundle)):
        warmup.start()


def _start() -> bool:
    """Start the selected run unless it is stored; False (with one error line) for bad input."""
    chosen = st.session_state[keys.SELECTION]
    try:
        bundle = cached.load_data(chosen.config.data, chosen.config.embeddings)
        chosen.config.check(len(bundle.analysis))
        key = current_key(bundle)
        if cached.store().has(key):  # trained before with these model settings: nothing to start
            return True
        chosen.config.check(len(bundle.analysis), len(bundle.train))
    except UserInputError as error:
        st.error(str(error))
        return False
    job = cached.store().start(key, chosen.config)
    if job.expected is None:  # its size, for an estimate while it waits for the worker
        job.expect(len(bundle.train), len(bundle.analysis), bundle.analysis.image_shape)
    return True
