"""A run: a config in, results out, in stages that fit on a sample and apply to every image.

- ``config``: :class:`RunConfig` and the analyses it can use; ``stages``: :func:`run_pipeline`;
- ``comparison``: every method side by side; ``results``: the table and metrics;
- ``folder``: the run folder's format; ``lookup``: images like a given one in a stored run;
  ``store``: runs on disk by key; ``engines``: where chunks
  are applied (this process or Dask); ``jobs`` and ``worker``: the app's training process;
- ``progress``: stages, epochs and the time left; ``warmup``: imports before the first Run;
  ``uploads``: files the app's users uploaded.
"""

from core.run.config import FIT_SAMPLE, METHODS, RunConfig
from core.run.folder import read_record, read_run, save_run
from core.run.results import ModelSummary, RunResult
from core.run.stages import run_pipeline

__all__ = ["FIT_SAMPLE", "METHODS", "ModelSummary", "RunConfig", "RunResult", "read_record", "read_run", "run_pipeline",
           "save_run"]
