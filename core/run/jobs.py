"""The app's training: runs handed to one worker process, one at a time, and followed as they go.

The app trains in a worker process (:class:`RunQueue`, running ``python -m core.run.worker``), never
in the server's own: the server stays responsive, Keras' process-wide state is the worker's alone,
and a run's progress reaches the pages through ``progress.json`` in its folder. Runs take turns in
that one worker (several at once would share 2 cores and the memory), and two sessions asking for
the same run share its :class:`TrainingJob`. The Labels page's rounds of teaching
(:class:`TeachingJob`) take their turns in the same worker, which keeps its imports warm for them.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserInputError
from core.files import write_text
from core.run.config import RunConfig
from core.run.progress import MachineSpeeds, Progress, expected_left

PROGRESS_FILE = "progress.json"


def expected_progress(config: RunConfig, n_train: int, n_analysed: int, image_shape) -> Progress:
    """The plan a run of ``config`` will make, known before the worker starts it: ``n_train`` training
    and ``n_analysed`` analysed images of ``image_shape`` (H, W, C). It carries the time left while
    the run waits (the stages are those of ``core.run.stages.run_pipeline``)."""
    from core.model.presets import design_for, training_plan
    from core.run.stages import STAGES

    n_fit_train, n_fit = min(n_train, config.fit_sample), min(n_analysed, config.fit_sample)
    plan = training_plan(config.preset, config.epochs, config.batch_size, n_fit_train, image_shape=image_shape)
    design = design_for(config.preset, image_shape, n_fit_train)
    pixels = int(math.prod(image_shape))
    progress = Progress()
    progress.plan(n_fit_train, n_analysed, pixels, plan.epochs,
                  [name for name in STAGES if name != "apply" or n_fit < n_analysed],
                  network_pixels=pixels // design.downsample**2 if design else pixels)
    return progress


class _WorkerJob:
    """What a request handed to the worker process shares: its ``future``, running or done, and its
    error as one line."""

    future: Future

    @property
    def running(self) -> bool:
        return not self.future.done()

    @property
    def failed(self) -> bool:
        return self.future.done() and self.error is not None

    @property
    def error(self) -> str | None:
        """One line when the request failed: the user's mistake as said, anything else with its type."""
        if not self.future.done():
            return None
        error = self.future.exception()
        if error is None:
            return None
        if isinstance(error, UserInputError):
            return str(error)
        if isinstance(error, WorkerStopped):
            return f"the training process stopped unexpectedly ({error}; out of memory?); press Run to try again"
        return str(error)


@dataclass
class TrainingJob(_WorkerJob):
    """One run trained by the worker process; its progress is read from the run folder."""

    store: object  # the RunStore that started it (its root, folder(key) and trainings count)
    key: str
    config: RunConfig

    def __post_init__(self):
        self.folder = self.store.folder(self.key)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / PROGRESS_FILE).unlink(missing_ok=True)
        self.submitted = time.time()
        self.expected: Progress | None = None
        self.future: Future = QUEUE.submit(str(self.store.root), self.key, self.config)
        self.future.add_done_callback(self._count)
        self._cached: tuple[float, Progress] | None = None

    def expect(self, n_train: int, n_analysed: int, image_shape) -> None:
        """Tell the job its data's size, so that it has an estimate while it waits for the worker."""
        self.expected = expected_progress(self.config, n_train, n_analysed, image_shape)

    def _count(self, future: Future) -> None:
        if not future.cancelled() and future.exception() is None and future.result():
            self.store.trainings += 1
            with contextlib.suppress(OSError, ValueError, TypeError):  # this machine's speed, for later estimates
                finished = Progress.from_dict(json.loads((self.folder / PROGRESS_FILE).read_text()))
                MachineSpeeds.load().learn(finished).save()

    @property
    def progress(self) -> Progress:
        """The run's progress as its worker last wrote it; before it starts, "queued" with the wait
        for the worker (its start-up, the runs ahead) and the expected plan (see :meth:`expect`).
        Its ``started`` is when the run was asked for, so the bar counts the wait too."""
        path = self.folder / PROGRESS_FILE
        try:
            changed = path.stat().st_mtime
            if self._cached is None or self._cached[0] != changed:
                self._cached = (changed, Progress.from_dict(json.loads(path.read_text())))
            progress = self._cached[1]
        except (OSError, ValueError, TypeError):
            progress = Progress(stage="queued")
            if self.expected is not None:
                progress.planned, progress.speeds, progress.epochs = (dict(self.expected.planned),
                                                                      dict(self.expected.speeds), self.expected.epochs)
            now = time.time()
            progress.waiting = now - self.submitted + self._wait_left(now)
        if not progress.planned and self.expected is not None:  # the worker is loading the images
            progress.planned, progress.speeds = dict(self.expected.planned), dict(self.expected.speeds)
        progress.started = self.submitted
        if self.future.done():
            progress.finish(self.error)
        return progress

    def _wait_left(self, now: float) -> float:
        """Seconds until the worker can start this run: its start-up, then the runs queued before."""
        ahead = [job for job in self.store.running_jobs() if job is not self and job.submitted < self.submitted]
        return QUEUE.start_left(now) + sum(job.progress.seconds_left(now) or 0.0 for job in ahead)

    def wait(self, timeout: float | None = None) -> Progress:
        with contextlib.suppress(TimeoutError):
            self.future.exception(timeout=timeout)
        return self.progress


TEACH_FOLDER = "teach"  # a run folder's subfolder where the app's rounds of teaching write


class TeachingJob(_WorkerJob):
    """One round of teaching (``core.labels.teach.teach_folder``) in the worker process: the labels
    saved in run folder ``folder`` (labels.csv, if any) teach, and the round writes suggestions.csv,
    predictions.csv, metrics.json, rounds.json and its progress.json into ``folder / TEACH_FOLDER``."""

    def __init__(self, folder, seed: int = 0, n_suggest: int = 20):
        from core.labels.book import FILE_NAME

        self.folder = Path(folder)
        self.out = self.folder / TEACH_FOLDER
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / PROGRESS_FILE).unlink(missing_ok=True)
        labels = self.folder / FILE_NAME
        self.future: Future = QUEUE.ask({"teach": {"run": str(self.folder), "out": str(self.out), "seed": int(seed),
                                                   "labels": str(labels) if labels.exists() else None,
                                                   "suggest": int(n_suggest)}})

    def stage(self) -> str | None:
        """The stage the round is in (a key of ``core.labels.teach.STAGE_TITLES``), None before it starts."""
        try:
            return Progress.from_dict(json.loads((self.out / PROGRESS_FILE).read_text())).stage
        except (OSError, ValueError, TypeError):
            return None


class ProgressFile:
    """A progress listener that keeps ``path`` up to date (atomically; at most every 0.3 s, except
    at stage changes and the end)."""

    def __init__(self, path: Path, interval: float = 0.3):
        self.path, self.interval, self.written = Path(path), interval, 0.0

    def __call__(self, progress: Progress, event: str) -> None:
        now = time.monotonic()
        if event in ("stage", "end", "plan", "epoch") or now - self.written >= self.interval:
            write_text(self.path, progress.to_json())
            self.written = now


class WorkerStopped(RuntimeError):
    """The worker process ended during a run (killed, or out of memory)."""


class RunQueue:
    """The app's worker process (``python -m core.run.worker``), fed one run at a time.

    Runs wait their turn in a queue; a thread hands each to the worker over its stdin and reads
    the answer from its stdout. The process starts on first use (or :meth:`warm_up`) and again
    after it died. A plain subprocess rather than multiprocessing, so nothing depends on how the
    app's own main module can be imported again.
    """

    def __init__(self):
        self._requests: queue.Queue = queue.Queue()
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.started_at: float | None = None  # when the current process started
        self.ready = False  # its imports are done

    def start_left(self, now: float) -> float:
        """Expected seconds until the worker process is ready for a run: its start-up as measured on
        this machine before (``MachineSpeeds.worker_start``), growing if it takes longer."""
        if self.ready and self._process is not None and self._process.poll() is None:
            return 0.0
        expected = MachineSpeeds.load().worker_start
        return expected if self.started_at is None else expected_left(expected, now - self.started_at)

    def submit(self, root: str, key: str, config: RunConfig) -> Future:
        """Queue the run ``key`` of ``config`` into runs folder ``root``; the future's result is True
        when it trained (False: it was stored already)."""
        return self.ask({"root": root, "key": key, "config": config.to_dict()})

    def ask(self, request: dict) -> Future:
        """Queue one request for the worker (``core.run.worker``); the future's result is its answer's
        ``trained`` (a round of teaching answers True)."""
        future: Future = Future()
        self._requests.put((future, request))
        self._serve_in_background()
        return future

    def warm_up(self) -> Future:
        """Start the worker process now, so that its imports are done before the first Run; the
        future is done once they are."""
        return self.ask({"ping": True})

    def _serve_in_background(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="run-queue", daemon=True)
                self._thread.start()

    def _started_process(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            self.started_at, self.ready = time.time(), False
            self._process = subprocess.Popen([sys.executable, "-m", "core.run.worker"], cwd=Path(__file__).parents[2],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        return self._process

    def _await_ready(self, process: subprocess.Popen) -> None:
        """Ask a new worker process whether its imports are done: the answer measures its start-up
        (for the next estimates of :meth:`start_left`)."""
        try:
            process.stdin.write(json.dumps({"ping": True}) + "\n")
            process.stdin.flush()
            if process.stdout.readline():
                self.ready = True
                MachineSpeeds.load().learn_worker_start(time.time() - self.started_at).save()
        except OSError:  # it died: the request that follows says so
            pass

    def _serve(self) -> None:
        while True:
            future, request = self._requests.get()
            if not future.set_running_or_notify_cancel():
                continue
            with self._lock:
                process = self._started_process()
            if not self.ready:
                self._await_ready(process)
            try:
                process.stdin.write(json.dumps(request) + "\n")
                process.stdin.flush()
                answer = process.stdout.readline()
            except OSError:
                answer = ""
            if not answer:
                process.wait()
                future.set_exception(WorkerStopped(f"exit status {process.returncode}"))
                continue
            answer = json.loads(answer)
            if "error" not in answer:
                future.set_result(answer["trained"])
            elif answer.get("user_error"):
                future.set_exception(UserInputError(answer["error"]))
            else:
                future.set_exception(RuntimeError(answer["error"]))


QUEUE = RunQueue()

