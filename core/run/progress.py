"""A run's progress and stopwatch in one: which stage runs, its epochs or chunks, seconds per stage,
and an estimate of the time left for the whole run.

The pipeline times every stage through :meth:`Progress.run_stage` (those seconds are the ``seconds``
of metrics.json) and reports epochs and chunks as they finish. Listeners registered with
``listen`` hear every change: the command line prints it to stderr, an app run writes it to
``progress.json`` in its run folder, where the Training page reads it.

Time left, from what was measured wherever there is a measurement:

- each stage starts with an expected duration: a rough cost from the data's size (``STAGE_COSTS``,
  seconds on a 2-core machine) times this machine's **measured speed** for that stage on its
  earlier runs (:class:`MachineSpeeds`, kept in the cache folder and updated after every app run);
- training follows its own pace once epochs end (seconds per epoch, the first epoch's start-up
  left out once there are two), applying follows its chunks;
- the stages still to come are scaled by how this run's finished stages (and the running one,
  where it reports its pace or has overrun) compare with their expectations;
- a stage that overruns its expectation is given a share of the time it has run so far again
  (:func:`expected_left`): its time left grows instead of freezing at "about 20 s left";
- before the worker starts the run (``queued``), the wait for the worker process (its start-up is
  measured too) is added to the whole run's expectation.

Training that stops early (fewer epochs than ``epochs``, the cap) ends its stage sooner: the time
left then drops, it never jumps up.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

STAGE_TITLES = {
    "queued": "Waiting for the training process",
    "load": "Loading the images",
    "train": "Training the autoencoder",
    "encode": "Encoding the images",
    "map": "Fitting the 2-D map and the clustering manifold (UMAP)",
    "cluster": "Clustering",
    "anomaly": "Scoring anomalies",
    "apply": "Applying to every image",
    "duplicates": "Finding exact and near copies",
    "compare": "Comparing every clusterer and anomaly score",
    "write": "Writing the results",
    "done": "Done",
    "failed": "Failed",
}

# Expected seconds per stage on 2 cores, as (fixed, per analysed image, per analysed image and
# pixel); training itself is estimated from its epochs, images and the pixels the network sees.
# Fitted to bench/speed.py's default runs on the digits, MNIST and the 10,000 photos (a 2-core
# AVX-512 machine; docs/benchmarks.md). Rough on purpose: the measured speed of the finished stages
# rescales them (see the module docstring). To refit: run `python bench/speed.py`, take each workload's
# `seconds` per stage from its metrics.json, and solve for (fixed, per image, per image and pixel) by
# least squares over the digits, MNIST and photos rows.
STAGE_COSTS = {
    "load": (0.5, 2e-5, 0.0),
    "encode": (0.1, 1.2e-4, 0.0),
    "map": (0.8, 4.2e-4, 0.0),
    "cluster": (0.3, 0.0, 1.1e-6),  # the self-trained CNN, on the images themselves
    "anomaly": (0.1, 5e-5, 0.0),
    "apply": (0.0, 4e-4, 0.0),
    "duplicates": (0.2, 2e-4, 0.0),  # depends on how many copies there are; a guess, not fitted
    "compare": (1.0, 6e-4, 8e-7),  # the raw-pixel baselines work on the pixels
    "write": (0.3, 2e-5, 0.0),
}
TRAIN_SECONDS_PER_PIXEL_IMAGE = 2.5e-7  # dense default network, per pixel of each image seen
TRAIN_START_SECONDS = 3.0  # building the network and tracing its first steps, before the first epoch ends
WORKER_START_SECONDS = 15.0  # the worker process's imports, until measured on this machine
OVERRUN_SHARE = 0.3  # a step past its expectation is given this share of its time so far again
PRIOR_SHARE = 0.1  # how much of a run's expected seconds its own measurements must outweigh to rescale it


def expected_left(expected: float, spent: float) -> float:
    """Seconds left of a step expected to take ``expected`` seconds, ``spent`` seconds in: what is
    left of the expectation, and once the step nears or passes it, ``OVERRUN_SHARE`` of the time it
    has taken so far, which grows with it."""
    return max(expected - spent, OVERRUN_SHARE * spent, 0.0)


@dataclass
class Progress:
    """What a run has done so far.

    Attributes:
        stage: the stage running now (a key of ``STAGE_TITLES``).
        planned: expected seconds of every stage of the run, by name, in run order.
        speeds: the machine's measured speed per stage that ``planned`` includes (measured over
            rough seconds, see :class:`MachineSpeeds`; 1 where none was measured).
        seconds: measured seconds of each stage run so far (metrics.json's ``seconds``).
        epoch, epochs: finished epochs and planned epochs (with early stopping: the cap);
            ``history`` their loss and val_loss; ``epoch_ended`` the wall time each ended.
        chunks_done, chunks: chunks of images applied so far, and planned.
        waiting: while queued, the expected seconds from ``started`` until the worker begins the run.
        error: one line when the run failed.
    """

    stage: str = "queued"
    planned: dict = field(default_factory=dict)
    speeds: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    epoch: int = 0
    epochs: int = 0
    history: dict = field(default_factory=lambda: {"loss": [], "val_loss": []})
    epoch_ended: list = field(default_factory=list)
    chunks_done: int = 0
    chunks: int = 0
    started: float = field(default_factory=time.time)
    stage_started: float = field(default_factory=time.time)
    waiting: float = 0.0
    error: str | None = None
    _listeners: list = field(default_factory=list, repr=False, compare=False)

    # --- planning and reporting ------------------------------------------------------------------

    def plan(self, n_train: int, n_analysed: int, pixels: int, epochs: int, stages,
             network_pixels: int | None = None, speeds: dict | None = None) -> None:
        """Expected seconds of ``stages`` for a run training ``epochs`` over ``n_train`` images and
        analysing ``n_analysed`` images of ``pixels`` values each; the network sees
        ``network_pixels`` of them (fewer where images are averaged down; default all). ``speeds``:
        measured over rough seconds per stage (default: this machine's, :class:`MachineSpeeds`)."""
        self.epochs = epochs
        self.speeds = dict(MachineSpeeds.load().stages if speeds is None else speeds)
        for name in stages:
            self.planned[name] = rough_seconds(name, n_train, n_analysed, pixels, epochs, network_pixels) \
                * self.speeds.get(name, 1.0)
        self._changed()

    def listen(self, listener: Callable[[Progress, str], None]) -> None:
        """Call ``listener(progress, event)`` on every change; event is "stage", "epoch", "chunk" or "end"."""
        self._listeners.append(listener)

    @contextmanager
    def run_stage(self, name: str):
        """Time the stage ``name``; its seconds add to any earlier seconds of the same name."""
        self.stage, self.stage_started = name, time.time()
        self._changed("stage")
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)

    def add_seconds(self, name: str, seconds: float) -> None:
        """Add seconds measured elsewhere (a worker's) to stage ``name``."""
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 3)

    def epoch_end(self, epoch: int, logs: dict) -> None:
        self.epoch = epoch + 1
        self.epoch_ended.append(time.time())
        for name in ("loss", "val_loss"):
            if name in logs:
                self.history[name].append(float(logs[name]))
        self._changed("epoch")

    def chunk_done(self, done: int, total: int) -> None:
        self.chunks_done, self.chunks = done, total
        self._changed("chunk")

    def finish(self, error: str | None = None) -> None:
        self.stage, self.error = ("failed", error) if error else ("done", None)
        self._changed("end")

    def _changed(self, event: str = "plan") -> None:
        for listener in self._listeners:
            listener(self, event)

    # --- reading ---------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.stage in ("done", "failed")

    def speed_factor(self, now: float | None = None) -> float:
        """How this run's measured seconds compare with its expectations so far (1 before any): the
        finished planned stages, and the running one where it reports its pace (training after an
        epoch, applying after a chunk) or has run past its expectation; drawn towards 1 by
        ``PRIOR_SHARE`` of the run's expected seconds, so that one short stage does not rescale
        the rest."""
        finished = [name for name in self.seconds if name in self.planned and name != self.stage]
        measured = sum(self.seconds[name] for name in finished)
        expected = sum(self.planned[name] for name in finished)
        prior = max(PRIOR_SHARE * sum(self.planned.values()), 1e-9)
        if self.stage in self.planned and now is not None:
            spent, planned = now - self.stage_started, self.planned[self.stage]
            projected = self._paced_stage_seconds(now)
            if projected is not None:
                measured, expected = measured + projected, expected + planned
            elif spent > planned * (measured + prior) / (expected + prior):
                measured, expected = measured + spent, expected + planned
        return max(0.2, min(5.0, (measured + prior) / (expected + prior)))

    def seconds_left(self, now: float | None = None) -> float | None:
        """Estimated seconds until the run ends; None while nothing is planned, 0 when finished."""
        if self.finished:
            return 0.0
        if not self.planned:
            return None
        now = time.time() if now is None else now
        factor = self.speed_factor(now)
        if self.stage == "queued":
            return expected_left(self.waiting, now - self.started) + factor * sum(self.planned.values())
        left = self._stage_left(now, factor)
        for name, planned in self.planned.items():
            if name != self.stage and name not in self.seconds:
                left += planned * factor
        return left

    def _stage_left(self, now: float, factor: float) -> float:
        """Seconds left of the running stage: by its own pace where it reports one, else its
        expectation (scaled by the finished stages' speed) with :func:`expected_left`."""
        spent = now - self.stage_started
        projected = self._paced_stage_seconds(now)
        if projected is not None:
            return max(projected - spent, 0.0)
        finished = self.speed_factor(None)  # the finished stages' factor, without this stage's own time
        return expected_left(self.planned.get(self.stage, 0.0) * finished, spent)

    def _paced_stage_seconds(self, now: float) -> float | None:
        """The running stage's whole expected seconds from its own pace, where it has one: training
        after an epoch, applying after a chunk (None otherwise)."""
        spent = now - self.stage_started
        if self.stage == "train" and self.epochs and self.epoch_ended:
            ended = [moment - self.stage_started for moment in self.epoch_ended[-self.epoch:]]
            if len(ended) >= 2:  # the first epoch also builds the network: its pace comes from the others
                per_epoch = (ended[-1] - ended[0]) / (len(ended) - 1)
            else:
                per_epoch = max(ended[0] - TRAIN_START_SECONDS * self.speeds.get("train", 1.0),
                                self._planned_epoch_seconds())
            current = expected_left(per_epoch, spent - ended[-1])
            return spent + current + max(self.epochs - self.epoch - 1, 0) * per_epoch
        if self.stage == "apply" and self.chunks and self.chunks_done:
            per_chunk = spent / self.chunks_done
            return spent + per_chunk * (self.chunks - self.chunks_done)
        return None

    def _planned_epoch_seconds(self) -> float:
        start = TRAIN_START_SECONDS * self.speeds.get("train", 1.0)
        return max(self.planned.get("train", 0.0) - start, 0.0) / max(self.epochs, 1)

    def stage_fraction(self) -> float | None:
        """Share of the current stage done, where it reports one (training by epochs, apply by chunks)."""
        if self.stage == "train" and self.epochs:
            return min(1.0, self.epoch / self.epochs)
        if self.stage == "apply" and self.chunks:
            return self.chunks_done / self.chunks
        return None

    def fraction(self, now: float | None = None) -> float:
        """Share of the whole run done, 0 to 1, by time spent against time left."""
        if self.finished:
            return 1.0
        now = time.time() if now is None else now
        left = self.seconds_left(now)
        if left is None:
            return 0.0
        spent = now - self.started
        return min(0.99, spent / max(spent + left, 1e-9))

    def describe(self, now: float | None = None) -> str:
        """One line for a progress bar: the stage, its epoch or chunk count, the time left."""
        text = STAGE_TITLES.get(self.stage, self.stage)
        if self.stage == "train" and self.epochs:
            text += f": epoch {min(self.epoch + 1, self.epochs)} of {self.epochs}"
        elif self.stage == "apply" and self.chunks:
            text += f": chunk {self.chunks_done} of {self.chunks}"
        left = self.seconds_left(now)
        if left is not None and not self.finished:
            text += f" · about {format_seconds(left)} left"
        return text

    def to_dict(self) -> dict:
        state = asdict(self)
        state.pop("_listeners")
        return state

    @classmethod
    def from_dict(cls, state: dict) -> Progress:
        known = {name: value for name, value in state.items()
                 if name in cls.__dataclass_fields__ and name != "_listeners"}
        return cls(**known)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def rough_seconds(stage: str, n_train: int, n_analysed: int, pixels: int, epochs: int,
                  network_pixels: int | None = None) -> float:
    """A stage's seconds on a 2-core machine from the data's size alone (``STAGE_COSTS``), before
    this machine's measured speed scales it."""
    if stage == "train":
        seen = pixels if network_pixels is None else network_pixels
        return TRAIN_START_SECONDS + epochs * n_train * seen * TRAIN_SECONDS_PER_PIXEL_IMAGE
    fixed, per_image, per_pixel = STAGE_COSTS.get(stage, (0.5, 0.0, 0.0))
    return fixed + (per_image + per_pixel * pixels) * n_analysed


@dataclass
class MachineSpeeds:
    """This machine's measured speed, from its earlier runs: per stage, measured seconds over the
    rough seconds of :func:`rough_seconds` (so 2.0: twice as slow as the rough costs say), and the
    seconds the app's worker process takes to start. Kept in ``speeds.json`` of the cache folder
    (``core.settings.cache_dir``); each run moves a stage's value two thirds of the way (on a log
    scale) to what it measured: the latest runs say most about the machine's load now."""

    stages: dict = field(default_factory=dict)
    worker_start: float = WORKER_START_SECONDS

    FILE = "speeds.json"

    @classmethod
    def path(cls) -> Path:
        from core import settings

        return settings.cache_dir() / cls.FILE

    @classmethod
    def load(cls) -> MachineSpeeds:
        try:
            state = json.loads(cls.path().read_text())
            return cls(stages={str(k): float(v) for k, v in state.get("stages", {}).items() if 0.05 < float(v) < 50},
                       worker_start=float(state.get("worker_start", WORKER_START_SECONDS)))
        except (OSError, ValueError, TypeError, AttributeError):
            return cls()

    def save(self) -> None:
        from core.files import write_text

        try:
            self.path().parent.mkdir(parents=True, exist_ok=True)
            write_text(self.path(), json.dumps({"stages": self.stages, "worker_start": self.worker_start}, indent=1))
        except OSError:  # a read-only home: the next run plans with the rough costs again
            pass

    def learn(self, progress: Progress) -> MachineSpeeds:
        """Move each stage's speed towards what the finished run ``progress`` measured."""
        for name, planned in progress.planned.items():
            rough = planned / progress.speeds.get(name, 1.0)
            if name in progress.seconds and rough > 0:
                measured = progress.seconds[name] / rough
                known = self.stages.get(name)
                self.stages[name] = round(measured if known is None else known ** (1 / 3) * measured ** (2 / 3), 4)
        return self

    def learn_worker_start(self, seconds: float) -> MachineSpeeds:
        self.worker_start = round((self.worker_start + 2 * seconds) / 3, 2)
        return self


def format_seconds(seconds: float) -> str:
    """12 s, 3 min 5 s, 1 h 4 min: a duration as a person reads it."""
    seconds = max(0, math.ceil(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
