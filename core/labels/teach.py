"""One round of teaching: a run folder and the labels a person gave -> a predicted label and a
confidence for every analysed image, the images to label next, and how right it is.

What teaches (:func:`read_labels`): every row of the labels file with a label, except rows whose
source is ``predicted`` (the tool's own guesses, accepted on the Labels page) and the labels
``anomaly`` and ``duplicate`` (they say that an image is odd, not what it shows). A row with source
``cluster`` (a name given to a whole cluster) counts ``CLUSTER_WEIGHT`` of a label a person chose
(docs/benchmarks.md, issue 20, measured it). The run's model, latent vectors, manifold and
representation are reused as they are: only the labeller is fitted.

The command line (``python -m core teach``) and the app's worker process both call
:func:`teach_folder`, which writes ``suggestions.csv``, ``predictions.csv`` (with two labels or more)
and ``metrics.json`` into its output folder.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import UserInputError
from core.files import write_atomically, write_text
from core.labels.book import ANOMALY, DUPLICATE, PREDICTED, SOURCES, read_text_table
from core.labels.suggest import first_suggestions, uncertain_suggestions
from core.methods.labellers import UNLABELLED
from core.methods.registry import (
    CLUSTERS_AND_SPREADING,
    LABELLERS,
    LOGISTIC_ON_REPRESENTATION,
    SPREADING_IN_MANIFOLD,
    stack_inputs,
)

CLUSTER_WEIGHT = 0.1  # how much a cluster-given name counts against a label a person chose
NOT_TAUGHT = (ANOMALY, DUPLICATE)  # labels that say an image is odd, not what it shows
SUGGESTIONS = 20
STAGE_TITLES = {"read": "Reading the run", "fit": "Fitting the labeller", "compare": "Comparing the labellers",
                "suggest": "Choosing the images to label next", "write": "Writing the predictions"}
PREDICTION_COLUMNS = ["index", "id", "predicted_label", "confidence", "taught"]


@dataclass
class TaughtLabels:
    """The labels that teach, one per image.

    Attributes: ``positions`` (n,) int64 the images' rows in the run, ascending; ``labels`` (n,) str
    as the file spells them; ``weights`` (n,) float, 1 for a person's label, ``CLUSTER_WEIGHT`` for a
    cluster's name; ``left_out`` rows of the file with a label that do not teach, by reason."""

    positions: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    left_out: dict = field(default_factory=dict)

    @classmethod
    def none(cls) -> TaughtLabels:
        return cls(np.zeros(0, np.int64), np.zeros(0, dtype=str), np.zeros(0))

    @property
    def names(self) -> list[str]:
        """The distinct labels, sorted."""
        return sorted(set(self.labels.tolist()))


def read_labels(data: bytes, ids: np.ndarray, name: str = "the labels file") -> TaughtLabels:
    """The labels that teach in CSV ``data`` (columns ``id`` and ``label`` at least, optionally
    ``source``: labels.csv fits), for the images with (N,) ``ids``. Raises UserInputError with one
    line that names the problem and the first offending row (row 2 is the first after the header)."""
    frame = read_text_table(data, name)
    missing = [column for column in ("id", "label") if column not in frame.columns]
    if missing:
        raise UserInputError(f"{name} needs the columns id and label; it has "
                             f"{','.join(map(str, frame.columns)) or 'none'}")
    frame = frame[frame["label"].str.strip() != ""]
    source = frame["source"] if "source" in frame.columns else pd.Series("", index=frame.index)
    unknown = ~source.isin([*SOURCES, ""])
    if unknown.any():
        row = unknown.idxmax()
        raise UserInputError(f"{name} row {row + 2}: source must be {', '.join(SOURCES)} or empty, "
                             f"not '{source[row]}'")
    position_of = pd.Series(np.arange(len(ids)), index=pd.Index(np.asarray(ids).astype(str)))
    positions = position_of.reindex(frame["id"].to_numpy())
    if positions.isna().any():
        row = frame.index[int(np.flatnonzero(positions.isna().to_numpy())[0])]
        raise UserInputError(f"{name} row {row + 2}: id '{frame['id'][row]}' is not an image of this run")
    frame = frame.assign(position=positions.to_numpy().astype(np.int64), source=source)
    distinct = frame.drop_duplicates(["id", "label"])
    twice = distinct["id"].duplicated(keep=False)
    if twice.any():
        first, second = distinct.index[twice.to_numpy()][:2]
        raise UserInputError(f"{name} rows {first + 2} and {second + 2}: id '{distinct['id'][first]}' has two "
                             f"labels, '{distinct['label'][first]}' and '{distinct['label'][second]}'")
    predicted, odd = distinct["source"] == PREDICTED, distinct["label"].isin(NOT_TAUGHT)
    left_out = {reason: int(count) for reason, count in (("predicted", (predicted & ~odd).sum()),
                                                          ("anomaly or duplicate", odd.sum())) if count}
    teaching = distinct[~predicted & ~odd].sort_values("position")
    return TaughtLabels(teaching["position"].to_numpy(), teaching["label"].to_numpy().astype(str),
                        np.where(teaching["source"] == "cluster", CLUSTER_WEIGHT, 1.0), left_out)


def default_labeller(has_representation: bool) -> str:
    """The labeller a round uses: the most accurate within a round's time on each kind of data
    (bench/teach.py, docs/benchmarks.md issue 20): where the run stores a representation (photos),
    label spreading in the clustering manifold (the photos' clusters are right for too few images
    to be named); else the run's clusters named by the labels, mended by label spreading."""
    return SPREADING_IN_MANIFOLD if has_representation else CLUSTERS_AND_SPREADING


def suggesting_labeller(has_representation: bool) -> str:
    """The labeller whose uncertainty chooses the images to label next, when the default predicts:
    on photos (a representation), the logistic regression on it, whose doubts make better questions
    for the spreading than the spreading's own (bench/teach.py: 0.392 against 0.354 after 200
    labels); else the predicting labeller itself."""
    return LOGISTIC_ON_REPRESENTATION if has_representation else CLUSTERS_AND_SPREADING


@dataclass
class Teaching:
    """One round's outcome.

    Attributes: ``suggestions`` (index, id), most useful first; ``predictions`` (``PREDICTION_COLUMNS``,
    one row per analysed image) or None with fewer than two labels; ``metrics`` (metrics.json);
    ``note``: one line saying why there are no predictions, else None."""

    suggestions: pd.DataFrame
    predictions: pd.DataFrame | None
    metrics: dict
    note: str | None = None


def teach(run, taught: TaughtLabels, n_suggest: int = SUGGESTIONS, seed: int = 0, labeller: str | None = None,
          compare: str = "quick", pixels=None, progress=None) -> Teaching:
    """A round on ``run`` (a RunResult, ``core.run.folder.read_run``) taught by ``taught``: the
    ``labeller`` (a ``LABELLERS`` name; default :func:`default_labeller`) predicts every image, and,
    when the run's data has true labels, every labeller is compared on the images nobody taught
    (``compare``: "quick" those that train no network, "all" with the CNN, "none"). ``pixels``: a
    function giving the (N, H*W*C) pixels, for a labeller that reads them. ``progress``: a
    ``core.run.progress.Progress`` whose stages (``STAGE_TITLES``) the round times."""
    from core.run.progress import Progress

    progress = progress or Progress()
    started = time.perf_counter()
    table = run.table
    n = len(table)
    is_taught = np.zeros(n, dtype=bool)
    is_taught[taught.positions] = True
    features = {"latent": run.latent, "manifold": run.manifold, "cluster": table["cluster"].to_numpy()}
    if run.representation is not None:
        features["representation"] = run.representation
    truth = table["label"].astype(str).to_numpy() if "label" in table.columns else None
    metrics = {"n_taught": len(taught.positions), "n_labels": len(taught.names),
               "taught": {"manual": int(np.sum(taught.weights == 1.0)), "cluster": int(np.sum(taught.weights < 1.0)),
                          "cluster_weight": CLUSTER_WEIGHT, "left_out": taught.left_out}}
    predictions, note = None, None
    if len(taught.names) < 2:
        note = ("no predictions: label images with at least two different labels first" if not len(taught.names)
                else f"no predictions: every taught image has the label '{taught.names[0]}'; "
                     "a second label is needed to tell images apart")
        with progress.run_stage("suggest"):
            suggested = first_suggestions(run.latent, run.manifold, table["cluster"].to_numpy(), is_taught, n_suggest)
    else:
        name = labeller or default_labeller(run.representation is not None)
        classes = np.asarray(taught.names)
        y = np.full(n, UNLABELLED, dtype=np.int64)
        y[taught.positions] = np.searchsorted(classes, taught.labels)
        weights = np.ones(n)
        weights[taught.positions] = taught.weights
        inputs = _Inputs(features, pixels)
        with progress.run_stage("fit"):
            fitted = LABELLERS[name].make(seed=seed, image_shape=_image_shape(run)).fit(
                inputs.of(LABELLERS[name]), y, sample_weight=weights)
        distributions = fitted.label_distributions_
        predicted = classes[fitted.transduction_]
        predicted[taught.positions] = taught.labels
        confidence = distributions.max(axis=1)
        confidence[taught.positions] = 1.0
        metrics["labeller"] = name
        predictions = pd.DataFrame({"index": table["index"].to_numpy(), "id": table["id"].astype(str).to_numpy(),
                                    "predicted_label": predicted, "confidence": np.round(confidence, 4),
                                    "taught": is_taught.astype(np.int64)}, columns=PREDICTION_COLUMNS)
        if truth is not None:
            metrics["accuracy"] = float(np.mean(predicted == truth))
            metrics["accuracy_untaught"] = float(np.mean((predicted == truth)[~is_taught])) if (~is_taught).any() \
                else None
            if compare != "none":
                with progress.run_stage("compare"):
                    rows = [{"method": entry.name, "accuracy": metrics["accuracy_untaught"] if entry.name == name else
                             _untaught_accuracy(entry, inputs, y, weights, classes, truth, is_taught, seed, run)}
                            for entry in LABELLERS.values() if inputs.has(entry) and
                            (compare == "all" or entry.name == name or not entry.base)]  # base: trains a network
                metrics["comparison"] = {"labelling": sorted(rows, key=lambda row: -(row["accuracy"] or 0.0))}
        with progress.run_stage("suggest"):
            asking = suggesting_labeller(run.representation is not None) if labeller is None else None
            if asking is not None and asking != name:
                distributions = LABELLERS[asking].make(seed=seed).fit(inputs.of(LABELLERS[asking]), y,
                                                                      sample_weight=weights).label_distributions_
            suggested = uncertain_suggestions(distributions, run.manifold, is_taught, n_suggest, seed=seed)
    suggestions = pd.DataFrame({"index": table["index"].to_numpy()[suggested],
                                "id": table["id"].astype(str).to_numpy()[suggested]})
    metrics["suggested"] = len(suggestions)
    metrics["seconds"] = {**progress.seconds, "total": round(time.perf_counter() - started, 3)}
    return Teaching(suggestions, predictions, metrics, note)


class _Inputs:
    """The features a labeller may read: those of the run, and the pixels, read once when one asks."""

    def __init__(self, features: dict, pixels):
        self.features, self.pixels = dict(features), pixels

    def has(self, entry) -> bool:
        return all(name in self.features or (name == "pixels" and self.pixels is not None) for name in entry.inputs)

    def of(self, entry) -> np.ndarray:
        if "pixels" in entry.inputs and "pixels" not in self.features:
            if self.pixels is None:
                raise UserInputError(f"{entry.name} reads the images, which this round was not given")
            self.features["pixels"] = self.pixels()
        return stack_inputs(entry, self.features)


def _image_shape(run) -> tuple[int, ...] | None:
    shape = run.metrics.get("data", {}).get("image_shape")
    return tuple(shape) if shape else None


def _untaught_accuracy(entry, inputs: _Inputs, y, weights, classes, truth, is_taught, seed, run) -> float | None:
    labeller = entry.make(seed=seed, image_shape=_image_shape(run)).fit(inputs.of(entry), y, sample_weight=weights)
    right = classes[labeller.transduction_] == truth
    return float(np.mean(right[~is_taught])) if (~is_taught).any() else None


def teach_folder(run_dir, out_dir, labels_path=None, n_suggest: int = SUGGESTIONS, seed: int = 0,
                 labeller: str | None = None, compare: str = "quick", progress=None) -> Teaching:
    """Read run folder ``run_dir`` and the labels file ``labels_path`` (or none), teach one round
    (:func:`teach`) and write it into ``out_dir`` (created if needed): suggestions.csv always,
    predictions.csv with two labels or more (an older one removed otherwise), metrics.json. Raises
    UserInputError for a missing or damaged run, a bad labels file or a bad setting."""
    from core.run.folder import read_run
    from core.run.progress import Progress

    progress = progress or Progress()
    started = time.perf_counter()
    if int(n_suggest) < 0:
        raise UserInputError(f"the number of suggestions must be 0 or more, got {n_suggest}")
    if labeller is not None and labeller not in LABELLERS:
        raise UserInputError(f"no labeller '{labeller}'; choose one of: {', '.join(LABELLERS)}")
    run_dir = Path(run_dir).expanduser()
    with progress.run_stage("read"):
        if not run_dir.is_dir():
            raise UserInputError(f"no run folder at '{run_dir}'")
        run = read_run(run_dir)
        taught = TaughtLabels.none()
        if labels_path is not None:
            path = Path(labels_path).expanduser()
            try:
                data = path.read_bytes()
            except OSError as error:
                raise UserInputError(f"cannot read the labels file '{path}' ({error.strerror or error})") from None
            taught = read_labels(data, run.table["id"].astype(str).to_numpy(), name=path.name)
    teaching = teach(run, taught, int(n_suggest), seed, labeller, compare, _pixel_reader(run), progress)
    with progress.run_stage("write"):
        write_teaching(teaching, out_dir, metrics=False)
    teaching.metrics["seconds"] = {**progress.seconds, "total": round(time.perf_counter() - started, 3)}
    write_text(Path(out_dir) / "metrics.json", json.dumps(teaching.metrics, indent=2))
    return teaching


ROUNDS_FILE = "rounds.json"


def record_round(out_dir, metrics: dict) -> list[dict]:
    """Add a round's ``metrics`` (labels taught, labeller, accuracy where the data has true labels)
    to ``out_dir``'s rounds.json, the app's accuracy-against-labels chart; returns every round so far."""
    path = Path(out_dir) / ROUNDS_FILE
    try:
        rounds = json.loads(path.read_text())
    except (OSError, ValueError):
        rounds = []
    rounds.append({"n_taught": metrics["n_taught"], "labeller": metrics.get("labeller"),
                   "accuracy": metrics.get("accuracy"), "accuracy_untaught": metrics.get("accuracy_untaught"),
                   "seconds": metrics["seconds"]["total"]})
    write_text(path, json.dumps(rounds, indent=1))
    return rounds


def read_round(out_dir) -> tuple[pd.DataFrame | None, pd.DataFrame | None, list[dict]]:
    """The last round written into ``out_dir``: (predictions or None, suggestions or None, rounds so far)."""
    out = Path(out_dir)

    def table(name: str) -> pd.DataFrame | None:
        try:
            return pd.read_csv(out / name, dtype={"id": str, "predicted_label": str}, keep_default_na=False)
        except (OSError, ValueError, pd.errors.ParserError):
            return None

    try:
        rounds = json.loads((out / ROUNDS_FILE).read_text())
    except (OSError, ValueError):
        rounds = []
    return table("predictions.csv"), table("suggestions.csv"), rounds


def _pixel_reader(run):
    """A function reading the run's analysed images as (N, H*W*C) pixels from its data source."""

    def read() -> np.ndarray:
        from core.data.load import load_train_and_analysis_sets

        _, analysed = load_train_and_analysis_sets(run.config.data, run.config.train_data)
        return analysed.read(np.arange(len(analysed))).images.reshape(len(analysed), -1)

    return read


def write_teaching(teaching: Teaching, out_dir, metrics: bool = True) -> Path:
    """suggestions.csv, predictions.csv (removed when there are none) and (with ``metrics``)
    metrics.json in ``out_dir``, created if needed."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_atomically(out / "suggestions.csv", lambda path: teaching.suggestions.to_csv(path, index=False),
                     suffix=".csv")
    if teaching.predictions is None:
        (out / "predictions.csv").unlink(missing_ok=True)
    else:
        write_atomically(out / "predictions.csv", lambda path: teaching.predictions.to_csv(path, index=False),
                         suffix=".csv")
    if metrics:
        write_text(out / "metrics.json", json.dumps(teaching.metrics, indent=2))
    return out
