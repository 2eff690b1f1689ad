"""A view as a link: dataset, run settings, page, map colour and selection in ``st.query_params``.

Parameters (all optional; anything missing keeps its default):

| name | value |
| --- | --- |
| ``data`` | ``digits``, ``mnist``, ``fashion-mnist``, ``upload:<key>`` (an upload kept in the runs folder), or ``path:<path>`` (not in public mode) |
| ``preset``, ``method``, ``epochs``, ``batch``, ``k``, ``contamination``, ``seed`` | the run settings |
| ``page`` | the page, e.g. ``latent_map`` |
| ``colour`` | the latent map's colour, e.g. ``cluster`` |
| ``sel`` | selected image indices as ranges, e.g. ``3-7.12.40`` (refused when the run has no such images) |
| ``clusters`` | the filter's clusters, as ranges, e.g. ``2.5-6`` |
| ``label`` | the filter's true labels, separated by ``|``, e.g. ``cat|dog`` |
| ``given`` | the filter's labels made here, separated by ``|`` (``(no label)`` for images without one) |
| ``score`` | the filter's anomaly score range, lowest ``~`` highest, e.g. ``1.5~4`` |
| ``name`` | the filter's "file name contains" text, e.g. ``airplane/`` |

The first script run of a session reads the link into the session (``apply_once``), and once the
sidebar knows the link's data, checks its selection against the run's images and names every
parameter it could not use in one warning (``settle_once``); every run then writes the current view
back into the URL (``write``), so the address bar is always a shareable link.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

from core.methods.checks import MAX_CLUSTERS
from core.model.presets import MAX_EPOCHS, PRESETS
from core.run import uploads
from core.run.config import METHODS, RunConfig
from ui import filters, keys

MAX_SELECTION_TEXT = 4000
MAX_FILTER_TEXT = 200
FILTER_PARAMS = {"clusters": keys.FILTER_CLUSTERS, "label": keys.FILTER_LABELS, "given": keys.FILTER_GIVEN,
                 "score": keys.FILTER_SCORE, "name": keys.FILTER_NAME}
COLOURS = ("cluster", "label", "anomaly_score", "reconstruction_error")
AUTOMATIC = "automatic"  # epochs or batch size left to the preset


# --- pure encoding -------------------------------------------------------------------------------

def encode_indices(indices) -> str:
    """Sorted unique indices as ranges: [3, 4, 5, 7, 12, 13] -> "3-5.7.12-13"."""
    values = sorted({int(i) for i in indices})
    parts, start = [], None
    for position, value in enumerate(values):
        if start is None:
            start = value
        if position + 1 == len(values) or values[position + 1] != value + 1:
            parts.append(str(start) if start == value else f"{start}-{value}")
            start = None
    return ".".join(parts)


def decode_indices(text: str, limit: int = 10_000_000) -> tuple[int, ...]:
    """The inverse of :func:`encode_indices`; malformed parts are skipped, at most ``limit`` indices."""
    values: set[int] = set()
    for part in str(text).split("."):
        match = re.fullmatch(r"(\d{1,9})(?:-(\d{1,9}))?", part.strip())
        if not match:
            continue
        first, last = int(match[1]), int(match[2] or match[1])
        values.update(range(first, min(last, first + limit) + 1))
        if len(values) >= limit:
            break
    return tuple(sorted(values)[:limit])


def settings_params(config: RunConfig, data_param: str | None) -> dict[str, str]:
    """The URL parameters naming a run config (``data_param`` as from :func:`data_param`)."""
    params = {"data": data_param} if data_param else {}
    params.update(preset=config.preset, method=config.resolved_method(), epochs=_text(config.epochs),
                  batch=_text(config.batch_size), k=str(config.clusters), contamination=f"{config.contamination:g}",
                  seed=str(config.seed))
    if config.embeddings:  # the vectors a user brought: upload:<key> or path:<path>, as data
        params["emb"] = data_param_of_spec(config.embeddings, {})
    return params


def read_settings(params: dict[str, str]) -> tuple[dict, list[str]]:
    """Checked settings from URL parameters: ({name: value}, names that were not understood)."""
    rules = {"preset": lambda v: v if v in PRESETS else None,
             "method": lambda v: v if v in METHODS else None,
             "epochs": lambda v: AUTOMATIC if v == AUTOMATIC else _integer(v, 1, MAX_EPOCHS),
             "batch": lambda v: AUTOMATIC if v == AUTOMATIC else _integer(v, 1, 8192),
             "k": lambda v: _integer(v, 1, MAX_CLUSTERS),
             "contamination": lambda v: _number(v, 0.001, 0.499),
             "seed": lambda v: _integer(v, 0, 2**31 - 1),
             "colour": lambda v: v if v in COLOURS else None}
    settings, ignored = {}, []
    for name, rule in rules.items():
        if name in params:
            value = rule(params[name])
            (ignored.append(name) if value is None else settings.__setitem__(name, value))
    return settings, ignored


def read_filters(params: dict[str, str]) -> tuple[dict, list[str]]:
    """The filter in URL parameters: ({filter widget key: value}, names that were not understood)."""
    values, ignored = {}, []
    for name, key in FILTER_PARAMS.items():
        text = params.get(name)
        if text is None:
            continue
        value = None
        if len(text) <= MAX_FILTER_TEXT:
            if name == "clusters":
                value = list(decode_indices(text, limit=MAX_CLUSTERS)) or None
            elif name in ("label", "given"):
                value = [part for part in text.split("|") if part] or None
            elif name == "score":
                bounds = [_number(part, -1e9, 1e9) for part in text.split("~")]
                value = tuple(bounds) if len(bounds) == 2 and None not in bounds and bounds[0] <= bounds[1] else None
            else:
                value = text.strip() or None
        (ignored.append(name) if value is None else values.__setitem__(key, value))
    return values, ignored


def filter_params(chosen: filters.ImageFilter) -> dict[str, str]:
    """The URL parameters of a filter (none for the parts that keep every image)."""
    params = {}
    if chosen.clusters:
        params["clusters"] = encode_indices(chosen.clusters)
    if chosen.labels:
        params["label"] = "|".join(chosen.labels)
    if chosen.given:
        params["given"] = "|".join(chosen.given)
    if chosen.score is not None:
        params["score"] = f"{chosen.score[0]:.4g}~{chosen.score[1]:.4g}"
    if chosen.name:
        params["name"] = chosen.name
    return params


def _text(setting: int | None) -> str:
    """A run setting as URL text: ``automatic`` for None (the preset decides)."""
    return AUTOMATIC if setting is None else str(setting)


def _integer(text: str, low: int, high: int) -> int | None:
    return int(text) if re.fullmatch(r"\d{1,10}", text) and low <= int(text) <= high else None


def _number(text: str, low: float, high: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


# --- session glue --------------------------------------------------------------------------------

def apply_once(built_in: dict[str, str], upload: str, local_path: str, public: bool) -> str | None:
    """On a session's first run, put the link's settings into the session before any widget is drawn,
    and return the link's ``page`` (None on later runs or without one).

    ``built_in`` maps the source labels of the sidebar to data specs; ``upload`` and ``local_path``
    are the labels of the other two sources. Parameters that are not understood are named in one
    warning and otherwise ignored.
    """
    if st.session_state.get(keys.LINK_APPLIED):
        return None
    st.session_state[keys.LINK_APPLIED] = True
    params = st.query_params.to_dict()
    ignored = apply(params, built_in, upload, local_path, public)
    st.session_state[keys.AUTORUN] = "data" in params and "data" not in ignored
    st.session_state[keys.LINK_IGNORED] = ignored
    return params.get("page")


def settle_once(n_images: int | None) -> None:
    """After the sidebar chose the link's data: make the link's selection the run's when all its
    indices are below ``n_images`` (the run's images; None: no data), and name every parameter the
    link got wrong in one warning. Does nothing after the first script run of a session."""
    ignored = st.session_state.pop(keys.LINK_IGNORED, None)
    if ignored is None:
        return
    linked = st.session_state.pop(keys.LINKED_SELECTION, None)
    if linked:
        if n_images is not None and max(linked) < n_images:
            from ui import state

            state.set_selected(linked)
        else:
            ignored.append("sel")
    if ignored:
        st.warning("This link's " + ", ".join(sorted(set(ignored))) + " could not be used; the defaults are shown"
                   + (" (sel names images this run does not have)." if "sel" in ignored else "."))


def apply(params: dict[str, str], built_in: dict[str, str], upload: str, local_path: str, public: bool) -> list[str]:
    """Put the data, settings, colour and selection of ``params`` into the session's widgets (before
    they are drawn: on a first run, or in a button's callback); returns the names not understood."""
    settings, ignored = read_settings(params)
    data = params.get("data")
    if data is not None:
        by_spec = {spec: label for label, spec in built_in.items()}
        if data in by_spec:
            _seed_widget(keys.SOURCE, by_spec[data])
        elif data.startswith("upload:") and uploads.KEY.match(data.removeprefix("upload:")):
            _seed_widget(keys.SOURCE, upload)
            st.session_state[keys.LINKED_UPLOAD] = data.removeprefix("upload:")
        elif data.startswith("path:") and not public:
            _seed_widget(keys.SOURCE, local_path)
            st.session_state[keys.LOCAL_PATH] = data.removeprefix("path:")
        else:
            ignored.append("data")
    embeddings = params.get("emb")
    if embeddings is not None:
        if embeddings.startswith("upload:") and uploads.KEY.match(embeddings.removeprefix("upload:")):
            st.session_state[keys.LINKED_EMBEDDINGS] = embeddings.removeprefix("upload:")
        elif embeddings.startswith("path:") and not public:
            st.session_state[keys.EMBEDDINGS_PATH] = embeddings.removeprefix("path:")
        else:
            ignored.append("emb")
    preset = settings.get("preset", "default")
    for name, key in [("preset", keys.PRESET), ("method", keys.method_key(preset)), ("epochs", keys.epochs_key(preset)),
                      ("batch", keys.batch_key(preset)), ("k", keys.CLUSTERS), ("contamination", keys.CONTAMINATION),
                      ("seed", keys.SEED), ("colour", keys.MAP_COLOUR)]:
        if name in settings:
            _seed_widget(key, None if settings[name] == AUTOMATIC else settings[name])
    if "sel" in params:
        st.session_state[keys.LINKED_SELECTION] = decode_indices(params["sel"])
    if any(name in params for name in FILTER_PARAMS):
        values, wrong = read_filters(params)
        filters.seed(values)
        ignored.extend(wrong)
    return ignored


def data_param_of_spec(spec: str, built_in: dict[str, str]) -> str:
    """The ``data`` parameter naming a data spec: a built-in name, ``upload:<key>`` or ``path:<path>``."""
    if spec in built_in.values():
        return spec
    key = uploads.key_of(Path(spec))
    return f"upload:{key}" if key else f"path:{spec}"


def _seed_widget(key: str, value) -> None:
    """Set a ``remembered`` widget's value (its key and its mirror) before it is drawn."""
    st.session_state[key] = value
    st.session_state[keys.remembered(key)] = value


def data_param(source: str, data_spec: str | None, built_in: dict[str, str]) -> str | None:
    """The ``data`` parameter for the sidebar's source and spec (None until the spec is known)."""
    if data_spec is None:
        return None
    if source in built_in:
        return data_spec
    return data_param_of_spec(data_spec, built_in)


def view_params(settings: dict[str, str], page: str, colour: str | None, selected,
                chosen_filter: filters.ImageFilter | None = None) -> dict[str, str]:
    """All parameters of a view; the selection is left out when its text would be too long."""
    params = dict(settings)
    params["page"] = page
    if colour:
        params["colour"] = colour
    text = encode_indices(selected or ())
    if text and len(text) <= MAX_SELECTION_TEXT:
        params["sel"] = text
    params.update(filter_params(chosen_filter or filters.ImageFilter()))
    return params


def write(params: dict[str, str]) -> None:
    """Make the address bar show ``params`` (only when they changed: no needless messages)."""
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def share_url(params: dict[str, str], url_path: str) -> str:
    """The full link to the view: the app's address as the browser sees it (``st.context.url``,
    which ends in the current page's ``url_path``), plus ``params``."""
    base = (getattr(st.context, "url", None) or "").split("?", 1)[0].rstrip("/")
    if url_path and base.endswith("/" + url_path):
        base = base[: -len(url_path) - 1]
    return f"{base}/{url_path}?{urlencode(params)}"
