"""Labels a person makes for the analysed images of a run: name clusters, fix single images.

A :class:`LabelBook` holds one label per image (``""`` = none yet) and where it came from:
``"cluster"`` (the image took its cluster's name), ``"manual"`` (a person chose or confirmed it) or
``"predicted"`` (a labeller's guess a person accepted, ``core.labels.teach``: it never teaches).
Naming a cluster or accepting predictions never overwrites a manual label. Marking an image as an anomaly gives it the
reserved label ``ANOMALY``; marking it as not an anomaly gives it its cluster's name, confirmed.
Marking an image as a copy to drop (the Duplicates page's "keep one, mark the rest") gives it the
reserved label ``DUPLICATE``.

The book is stored as ``labels.csv`` (columns ``LABEL_COLUMNS``, one row per labelled image) in the
run's folder, written atomically; the same file is what a user exports and imports again.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import UserInputError
from core.files import write_atomically

LABEL_COLUMNS = ["index", "id", "label", "source"]
SOURCES = ("cluster", "manual", "predicted")
PREDICTED = "predicted"
ANOMALY = "anomaly"
DUPLICATE = "duplicate"  # a copy of another image (issue 21); like ANOMALY, it never teaches a labeller
RESERVED = (ANOMALY, DUPLICATE)  # labels that say what is wrong with an image, not what it shows
FILE_NAME = "labels.csv"
MAX_LABEL_LENGTH = 80
MAX_IMPORT_BYTES = 50 * 1024 * 1024


def clean_label(text: str) -> str:
    """A label as stored: surrounding spaces and control characters removed, at most 80 characters.

    A leading ``= + - @`` is dropped so the CSV cannot carry a spreadsheet formula.
    """
    text = "".join(character for character in str(text) if character.isprintable()).strip()
    text = text.lstrip("=+-@").strip()
    return text[:MAX_LABEL_LENGTH]


@dataclass
class LabelBook:
    """One label per analysed image.

    Attributes:
        ids: (N,) str, the images' stable ids (``ImageSet.ids``).
        labels: (N,) object array of str; ``""`` where an image has no label yet.
        sources: (N,) object array of str: one of ``SOURCES``, or ``""`` without a label.
    """

    ids: np.ndarray
    labels: np.ndarray
    sources: np.ndarray

    @classmethod
    def empty(cls, ids) -> LabelBook:
        n = len(ids)
        return cls(np.asarray(ids).astype(str), np.full(n, "", dtype=object), np.full(n, "", dtype=object))

    def __len__(self) -> int:
        return len(self.ids)

    def copy(self) -> LabelBook:
        return LabelBook(self.ids, self.labels.copy(), self.sources.copy())

    def differences(self, other: LabelBook) -> int:
        """How many images have another label or source in ``other``."""
        return int(np.sum((self.labels != other.labels) | (self.sources != other.sources)))

    def merged(self, imported: LabelBook, keep_manual: bool) -> LabelBook:
        """``imported``'s labels, except (with ``keep_manual``) where this book has a label a person
        set by hand: those stay."""
        merged = imported.copy()
        if keep_manual:
            mine = self.sources == "manual"
            merged.labels[mine], merged.sources[mine] = self.labels[mine], self.sources[mine]
        return merged

    def manual_conflicts(self, imported: LabelBook) -> int:
        """Labels set by hand here that ``imported`` would change or remove."""
        mine = self.sources == "manual"
        return int(np.sum(mine & ((imported.labels != self.labels) | (imported.sources != "manual"))))

    # --- naming clusters -------------------------------------------------------------------------

    def name_cluster(self, clusters: np.ndarray, cluster: int, name: str) -> int:
        """Give every image of ``cluster`` (not labelled by hand) the label ``name``; an empty name
        removes the cluster's labels. Returns how many images changed."""
        name = clean_label(name)
        members = (np.asarray(clusters) == cluster) & (self.sources != "manual")
        changed = int(np.sum(members & (self.labels != name)))
        self.labels[members] = name
        self.sources[members] = "cluster" if name else ""
        return changed

    def cluster_names(self, clusters: np.ndarray, n_clusters: int) -> list[str]:
        """Each cluster's name: the most common cluster-given label among its members, or ``""``."""
        clusters = np.asarray(clusters)
        names = []
        for cluster in range(n_clusters):
            given = self.labels[(clusters == cluster) & (self.sources == "cluster")]
            names.append(Counter(given).most_common(1)[0][0] if len(given) else "")
        return names

    # --- fixing single images --------------------------------------------------------------------

    def assign(self, indices, label: str) -> None:
        """Give the images at ``indices`` the label (by hand); an empty label removes theirs."""
        indices = self._checked(indices)
        label = clean_label(label)
        self.labels[indices] = label
        self.sources[indices] = "manual" if label else ""

    def confirm(self, indices) -> None:
        """Mark the current labels of the images at ``indices`` as checked by a person."""
        indices = self._checked(indices)
        labelled = indices[self.labels[indices] != ""]
        self.sources[labelled] = "manual"

    def accept_predictions(self, indices, predicted) -> int:
        """Give the images at ``indices`` their ``predicted`` labels (same length), source
        ``predicted``, except those labelled by hand. Returns how many images changed."""
        indices, predicted = np.asarray(indices, dtype=np.int64), np.asarray(predicted, dtype=object)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise UserInputError(f"image index out of range 0..{len(self) - 1}")
        open_ = self.sources[indices] != "manual"
        indices, predicted = indices[open_], np.array([clean_label(text) for text in predicted[open_]], dtype=object)
        changed = int(np.sum((self.labels[indices] != predicted) | (self.sources[indices] != PREDICTED)))
        self.labels[indices], self.sources[indices] = predicted, np.where(predicted != "", PREDICTED, "")
        return changed

    def mark_anomaly(self, indices) -> None:
        self.assign(indices, ANOMALY)

    def keep_one(self, keep: int, others) -> None:
        """Of a group of copies: mark ``others`` as ``DUPLICATE`` (by hand), and take that label off the
        image kept (``keep``) if it had it."""
        self.assign(others, DUPLICATE)
        if self.labels[keep] == DUPLICATE:
            self.assign([keep], "")

    def mark_not_anomaly(self, indices, clusters: np.ndarray, n_clusters: int) -> None:
        """Give the images at ``indices`` their cluster's name, confirmed; without a cluster name the
        image is left without a label (it is no longer marked as an anomaly)."""
        indices = self._checked(indices)
        names = np.asarray(self.cluster_names(clusters, n_clusters) + [""], dtype=object)
        chosen = names[np.asarray(clusters)[indices]]
        self.labels[indices] = chosen
        self.sources[indices] = np.where(chosen != "", "manual", "")

    def _checked(self, indices) -> np.ndarray:
        indices = np.unique(np.asarray(list(indices), dtype=np.int64))
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise UserInputError(f"image index out of range 0..{len(self) - 1}")
        return indices

    # --- progress and evaluation -----------------------------------------------------------------

    def progress(self) -> dict:
        """Counts: images, labelled, confirmed (manual), anomalies, duplicates, distinct labels."""
        labelled = self.labels != ""
        return {"images": len(self), "labelled": int(labelled.sum()),
                "confirmed": int(np.sum(self.sources == "manual")),
                "anomalies": int(np.sum(self.labels == ANOMALY)),
                "duplicates": int(np.sum(self.labels == DUPLICATE)),
                "names": len(set(self.labels[labelled]) - set(RESERVED))}

    def table(self) -> pd.DataFrame:
        """The labelled images as ``LABEL_COLUMNS``, in index order (what ``labels.csv`` holds)."""
        rows = np.flatnonzero(self.labels != "")
        return pd.DataFrame({"index": rows, "id": self.ids[rows], "label": self.labels[rows].astype(str),
                             "source": self.sources[rows].astype(str)}, columns=LABEL_COLUMNS)

    def to_csv(self) -> str:
        return self.table().to_csv(index=False)


def agreement(labels: np.ndarray, truth: np.ndarray) -> dict | None:
    """How the labels made here agree with true labels, over images labelled here (not anomalies or
    duplicates).

    Returns None when nothing is labelled, else: ``images`` compared, ``same_name`` (share whose label
    is spelled like the true one, case-insensitive), ``mapped`` (share right when each label stands
    for its most common true label: naming-independent), ``ari``.
    """
    from sklearn.metrics import adjusted_rand_score

    labels, truth = np.asarray(labels).astype(str), np.asarray(truth).astype(str)
    compared = (labels != "") & ~np.isin(labels, RESERVED)
    if not compared.any():
        return None
    given, true = labels[compared], truth[compared]
    frame = pd.DataFrame({"given": given, "true": true})
    majority = frame.groupby("given")["true"].agg(lambda values: values.value_counts().index[0])
    return {"images": int(compared.sum()),
            "same_name": float(np.mean(np.char.lower(given) == np.char.lower(true))),
            "mapped": float(np.mean(majority.loc[given].to_numpy() == true)),
            "ari": float(adjusted_rand_score(true, given))}


def cluster_only_labels(book: LabelBook, clusters: np.ndarray, n_clusters: int) -> np.ndarray:
    """(N,) the labels naming the clusters alone would give: each image its cluster's name."""
    names = np.asarray(book.cluster_names(clusters, n_clusters) + [""], dtype=object)
    return names[np.asarray(clusters)]


# --- files -----------------------------------------------------------------------------------------

def read_text_table(data: bytes | str, name: str = "labels.csv") -> pd.DataFrame:
    """CSV ``data`` (at most ``MAX_IMPORT_BYTES``) with every cell read as text (an id ``7`` stays
    ``7``, an empty cell ``""``). Raises UserInputError naming the file ``name`` when unreadable."""
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_IMPORT_BYTES:
        raise UserInputError(f"{name} is larger than {MAX_IMPORT_BYTES // 2**20} MB")
    try:
        return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise UserInputError(f"{name} is not a readable CSV file ({error})") from None


def read_csv(data: bytes | str, ids: np.ndarray) -> LabelBook:
    """A LabelBook from ``labels.csv`` content for images with ``ids``. Raises UserInputError with one
    line saying what is wrong: other columns, unknown sources, rows for other images."""
    frame = read_text_table(data)
    if list(frame.columns) != LABEL_COLUMNS:
        raise UserInputError(f"labels.csv needs the columns {','.join(LABEL_COLUMNS)}; "
                             f"it has {','.join(map(str, frame.columns)) or 'none'}")
    book = LabelBook.empty(ids)
    if frame.empty:
        return book
    index = pd.to_numeric(frame["index"], errors="coerce")
    bad = index.isna() | (index != index.round()) | (index < 0) | (index >= len(book))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise UserInputError(f"labels.csv row {row + 2}: index '{frame['index'][row]}' is not an image of "
                             f"this data (0..{len(book) - 1})")
    index = index.astype(np.int64).to_numpy()
    if len(np.unique(index)) != len(index):
        raise UserInputError("labels.csv lists an image twice")
    wrong_id = book.ids[index] != frame["id"].to_numpy().astype(str)
    if wrong_id.any():
        row = int(np.flatnonzero(wrong_id)[0])
        raise UserInputError(f"labels.csv row {row + 2}: image {index[row]} has id '{book.ids[index[row]]}' here, "
                             f"not '{frame['id'][row]}': the file belongs to other data")
    unknown = ~frame["source"].isin(SOURCES)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise UserInputError(f"labels.csv row {row + 2}: source must be {', '.join(SOURCES[:-1])} or {SOURCES[-1]}, "
                             f"not '{frame['source'][row]}'")
    labels = np.array([clean_label(text) for text in frame["label"]], dtype=object)
    kept = labels != ""
    book.labels[index[kept]] = labels[kept]
    book.sources[index[kept]] = frame["source"].to_numpy()[kept]
    return book


def save(book: LabelBook, folder) -> Path:
    """Write the book as ``labels.csv`` in ``folder`` (a run's folder), atomically."""
    path = Path(folder) / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    text = book.to_csv()
    write_atomically(path, lambda temporary: Path(temporary).write_text(text), suffix=".csv")
    return path


def load(folder, ids: np.ndarray) -> LabelBook:
    """The book saved in ``folder``, or an empty one when there is none (or it no longer fits)."""
    path = Path(folder) / FILE_NAME
    if not path.exists():
        return LabelBook.empty(ids)
    try:
        return read_csv(path.read_bytes(), ids)
    except (OSError, UserInputError):
        return LabelBook.empty(ids)
