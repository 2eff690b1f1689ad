"""A run's progress and stopwatch in one: which stage runs, its epochs or chunks, seconds per stage,
and an estimate of the time left for the whole run.

The pipeline times every stage through :meth:`Progress.run_stage` (those seconds are the ``seconds``
of metrics.json) and reports epochs and chunks as they finish. Listeners registered with
``listen`` hear every change: the command line prints it to stderr, an app run writes it to
``progress.json`` in its run folder, where the Training page reads it.

Time left: each stage starts with an expected duration from the data's size and the
``STAGE_COSTS`` below (seconds on a 2-core machine; how to refit them: the comment above it). As stages finish, the ratio of their actual
to their expected seconds scales what is left, so after training (most of a run) the estimate for
the remaining stages follows this machine's measured speed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

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


@dataclass
class Progress:
    """What a run has done so far.

    Attributes:
        stage: the stage running now (a key of ``STAGE_TITLES``).
        planned: expected seconds of every stage of the run, by name, in run order.
        seconds: measured seconds of each stage run so far (metrics.json's ``seconds``).
        epoch, epochs: finished epochs and planned epochs; ``history`` their loss and val_loss.
        chunks_done, chunks: chunks of images applied so far, and planned.
        error: one line when the run failed.
    """

    stage: str = "queued"
    planned: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    epoch: int = 0
    epochs: int = 0
    history: dict = field(default_factory=lambda: {"loss": [], "val_loss": []})
    chunks_done: int = 0
    chunks: int = 0
    started: float = field(default_factory=time.time)
    stage_started: float = field(default_factory=time.time)
    error: str | None = None
    _listeners: list = field(default_factory=list, repr=False, compare=False)

    # --- planning and reporting ------------------------------------------------------------------

    def plan(self, n_train: int, n_analysed: int, pixels: int, epochs: int, stages,
             network_pixels: int | None = None) -> None:
        """Expected seconds of ``stages`` for a run training ``epochs`` over ``n_train`` images and
        analysing ``n_analysed`` images of ``pixels`` values each; the network sees
        ``network_pixels`` of them (fewer where images are averaged down; default all)."""
        self.epochs = epochs
        for name in stages:
            if name == "train":
                seen = pixels if network_pixels is None else network_pixels
                self.planned[name] = 3.0 + epochs * n_train * seen * TRAIN_SECONDS_PER_PIXEL_IMAGE
            else:
                fixed, per_image, per_pixel = STAGE_COSTS.get(name, (0.5, 0.0, 0.0))
                self.planned[name] = fixed + (per_image + per_pixel * pixels) * n_analysed
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

    def speed_factor(self) -> float:
        """Measured over planned seconds of the planned stages finished so far (1 before any)."""
        finished = [name for name in self.seconds if name in self.planned and name != self.stage]
        planned = sum(self.planned[name] for name in finished)
        if not finished or planned <= 0:
            return 1.0
        return max(0.2, min(5.0, sum(self.seconds[name] for name in finished) / planned))

    def seconds_left(self, now: float | None = None) -> float | None:
        """Estimated seconds until the run ends; None while queued, 0 when finished."""
        if self.finished:
            return 0.0
        if self.stage == "queued" or not self.planned:
            return None
        now = time.time() if now is None else now
        factor = self.speed_factor()
        left = 0.0
        for name, planned in self.planned.items():
            if name == self.stage:
                left += self._stage_left(planned * factor, now - self.stage_started)
            elif name not in self.seconds:
                left += planned * factor
        return left

    def _stage_left(self, expected: float, in_stage: float) -> float:
        done = self.stage_fraction()
        if done is not None and done > 0:  # training and applying report their own pace
            return in_stage * (1 - done) / done
        return max(expected - in_stage, 0.1 * expected)

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
        left = self.seconds_left(now)
        if left is None:
            return 0.0
        spent = (time.time() if now is None else now) - self.started
        return min(0.99, spent / max(spent + left, 1e-9))

    def describe(self) -> str:
        """One line for a progress bar: the stage, its epoch or chunk count, the time left."""
        text = STAGE_TITLES.get(self.stage, self.stage)
        if self.stage == "train" and self.epochs:
            text += f": epoch {min(self.epoch + 1, self.epochs)} of {self.epochs}"
        elif self.stage == "apply" and self.chunks:
            text += f": chunk {self.chunks_done} of {self.chunks}"
        left = self.seconds_left()
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
