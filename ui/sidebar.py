"""The shared sidebar: dataset, run settings and the one Run button."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import streamlit as st

from core import cache
from core.analysis import MAX_CLUSTERS
from core.errors import UserInputError
from core.model import MAX_EPOCHS, PRESETS
from core.pipeline import METHODS, RunConfig, check_settings, write_atomically
from ui.state import SELECTION, Selection, current_key

BUILT_IN = {
    "Built-in digits (offline)": "digits",
    "MNIST (downloads once)": "mnist",
    "Fashion-MNIST (downloads once)": "fashion-mnist",
}
UPLOAD = "Upload .npz or .zip"
LOCAL_PATH = "Local path"
PUBLIC_MODE_ENV = "LATENT_EXPLORER_PUBLIC"


def public_mode() -> bool:
    """True when local paths are disabled (a public deployment): $LATENT_EXPLORER_PUBLIC=1."""
    return os.environ.get(PUBLIC_MODE_ENV, "").lower() in ("1", "true", "yes")


def render() -> bool:
    """Draw the sidebar, store the Selection in the session, and return whether Run was pressed."""
    with st.sidebar:
        st.header("Dataset")
        options = [*BUILT_IN, UPLOAD] + ([] if public_mode() else [LOCAL_PATH])
        source = remembered(st.selectbox, "Images", "source", options[0], options=options)
        data_spec, source_error = _data_spec(source)

        st.header("Run settings")
        preset = remembered(st.selectbox, "Autoencoder preset", "preset", "default",
                            options=sorted(PRESETS, key=lambda name: name != "default"),
                            help="; ".join(f"**{p.name}**: {p.description}" for p in PRESETS.values()))
        recipe = PRESETS[preset]
        method = remembered(st.selectbox, "Analysis", f"method-{preset}", "seed" if preset == "seed" else "default",
                            options=list(METHODS), format_func=lambda name: f"{name} method",
                            help="; ".join(f"**{name}**: {text}" for name, text in METHODS.items()))
        epochs = remembered(st.number_input, "Epochs", f"epochs-{preset}", recipe.epochs,
                            min_value=1, max_value=MAX_EPOCHS)
        batch_size = remembered(st.number_input, "Batch size", f"batch-{preset}", recipe.batch_size,
                                min_value=1, max_value=8192)
        clusters = remembered(st.number_input, "Clusters (k)", "clusters", 10, min_value=1, max_value=MAX_CLUSTERS,
                              help="Changing k re-clusters the stored latent vectors: no retraining.")
        contamination = remembered(st.number_input, "Anomaly contamination", "contamination", 0.01,
                                   min_value=0.001, max_value=0.499, step=0.005, format="%.3f",
                                   help="Expected share of anomalies: sets the flagging threshold.")
        seed = remembered(st.number_input, "Seed", "seed", 0, min_value=0, max_value=2**31 - 1)
        config = RunConfig(data=data_spec, preset=preset, epochs=int(epochs), batch_size=int(batch_size),
                           clusters=int(clusters), contamination=float(contamination), seed=int(seed),
                           method=method)
        st.session_state[SELECTION] = Selection(config=config, source_error=source_error)
        return st.button("Run", type="primary", width="stretch", disabled=data_spec is None)


def remembered(widget, label: str, key: str, default, **kwargs):
    """A widget whose value survives runs that do not draw it (Streamlit drops such widget state).

    The value is mirrored in a plain session key and handed back to the widget when it returns.
    """
    mirror = f"remembered-{key}"
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(mirror, default)
    value = widget(label, key=key, **kwargs)
    st.session_state[mirror] = value
    return value


def _data_spec(source: str) -> tuple[str | None, str | None]:
    """(data spec, error) for the chosen source; spec None until an upload or path is given."""
    if source in BUILT_IN:
        return BUILT_IN[source], None
    if source == UPLOAD:
        upload = st.file_uploader("An .npz, or a .zip of images", type=["npz", "zip"], key="upload")
        if upload is None:
            return None, None
        return str(_save_upload(upload.name, upload.getvalue())), None
    path = st.text_input("Path to an .npz, .zip or folder on this machine", key="local_path").strip()
    return (path or None), None


def _save_upload(name: str, data: bytes) -> Path:
    """Keep an upload in the runs folder under its content hash, so its runs survive restarts."""
    suffix = Path(name).suffix.lower()
    path = cache.runs_dir() / "uploads" / f"{hashlib.sha256(data).hexdigest()[:20]}{suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda temporary: Path(temporary).write_bytes(data), suffix=suffix)
    return path


def start_run() -> None:
    """Start training the selected run in the background and open the Training page.

    Bad input shows one ``st.error`` and starts nothing; earlier runs are untouched.
    """
    chosen = st.session_state[SELECTION]
    try:
        bundle = cache.load_data(chosen.config.data)
        check_settings(chosen.config, len(bundle.analysis))
    except UserInputError as error:
        st.error(str(error))
        return
    key = current_key(bundle)
    if not cache.store().has(key):
        cache.store().start(key, chosen.config, bundle.train, bundle.analysis)
    st.switch_page("views/training.py")
