"""The run folder: what a run writes (the command line's ``--out``, the app's ``runs/<key>/``).

results.csv and results.parquet (the table), metrics.json, model.keras, embedding.npz (latent,
manifold, sample, pixel manifold), duplicates.npz (the copies, and the images' digests and
appearance that a search for images like a new one needs: ``core.similar.duplicates.Duplicates``),
comparison.parquet, and run.json last with the sha256 of the
others. Every file is written atomically, so a folder without a valid run.json is an unfinished
run; a folder whose files do not match their recorded hashes is treated as absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import UserInputError
from core.files import sha256, write_atomically, write_npz, write_text
from core.run.config import RunConfig
from core.run.results import RunResult
from core.similar.duplicates import Duplicates

FORMAT_VERSION = 4
ARTIFACTS = ("model.keras", "embedding.npz", "duplicates.npz", "results.parquet", "comparison.parquet", "metrics.json")
OPTIONAL_ARTIFACTS = ("representation.npz",)  # the fitted representation, where the network learns from one


def save_run(result: RunResult, out_dir, key: str | None = None) -> Path:
    """Write a run folder: results.csv and results.parquet (the table), metrics.json, model.keras,
    embedding.npz (latent, manifold, sample, pixel manifold, and the representation of every analysed
    image as float16 where the network learns from one), duplicates.npz, comparison.parquet,
    representation.npz (the fitted representation, written by the model's save), and run.json last
    with the sha256 of the others. Every file is written atomically, so a folder without a valid
    run.json is an unfinished run."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(out_dir / "results.csv", lambda path: result.table.to_csv(path, index=False))
    write_atomically(out_dir / "results.parquet", lambda path: result.table.to_parquet(path, index=False),
                     suffix=".parquet")
    write_atomically(out_dir / "comparison.parquet", lambda path: result.comparison.to_parquet(path, index=False),
                     suffix=".parquet")
    write_text(out_dir / "metrics.json", json.dumps(result.metrics, indent=2))
    if result.model is not None:
        write_atomically(out_dir / "model.keras", result.model.save, suffix=".keras")
    arrays = {"latent": result.latent, "manifold": result.manifold, "sample": result.sample,
              "pixel_manifold": result.pixel_manifold}
    if result.representation is not None:
        arrays["representation"] = np.asarray(result.representation, dtype=np.float16)
    write_npz(out_dir / "embedding.npz", arrays)
    write_npz(out_dir / "duplicates.npz", result.duplicates.to_arrays())
    present = [*ARTIFACTS, *(name for name in OPTIONAL_ARTIFACTS if (out_dir / name).is_file())]
    record = {"format": FORMAT_VERSION, "key": key, "config": result.config.to_dict(),
              "data": result.metrics["data"], "history": result.metrics["history"],
              "seconds": result.metrics["seconds"],
              "sha256": {name: sha256(out_dir / name) for name in present}}
    write_text(out_dir / "run.json", json.dumps(record, indent=2))
    return out_dir


def read_record(folder: Path, key: str | None = None) -> dict | None:
    """run.json of a complete, unaltered run folder (every artifact matches its recorded sha256),
    or None. With ``key``, also None unless the folder holds that run."""
    folder = Path(folder)
    try:
        record = json.loads((folder / "run.json").read_text())
        if record.get("format") != FORMAT_VERSION or (key is not None and record.get("key") != key):
            return None
        if not set(ARTIFACTS) <= set(record["sha256"]) <= {*ARTIFACTS, *OPTIONAL_ARTIFACTS} or not {
                "config", "history", "seconds", "data"} <= set(record):
            return None
        for name, digest in record["sha256"].items():
            if sha256(folder / name) != digest:
                return None
        return record
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def read_run(folder: Path, record: dict | None = None) -> RunResult:
    """The RunResult of a run folder, without loading its model (``model`` None). Raises
    UserInputError when the folder is not a complete run."""
    folder = Path(folder)
    record = record or read_record(folder)
    if record is None:
        raise UserInputError(f"'{folder}' holds no complete run (its run.json is missing or its files changed)")
    try:
        config = RunConfig(**record["config"])
        table = pd.read_parquet(folder / "results.parquet")
        comparison = pd.read_parquet(folder / "comparison.parquet")
        metrics = json.loads((folder / "metrics.json").read_text())
        with np.load(folder / "embedding.npz", allow_pickle=False) as arrays:
            latent, manifold = arrays["latent"], arrays["manifold"]
            sample, pixel_manifold = arrays["sample"], arrays["pixel_manifold"]
            representation = arrays["representation"].astype(np.float32) if "representation" in arrays else None
        with np.load(folder / "duplicates.npz", allow_pickle=False) as arrays:
            duplicates = Duplicates.from_arrays(arrays)
    except Exception as error:  # changed on disk after its hashes were checked
        raise UserInputError(f"the run in '{folder.name}' could not be read ({type(error).__name__}); "
                             "run it again") from error
    return RunResult(config=config, model=None, table=table, latent=latent, manifold=manifold, sample=sample,
                     comparison=comparison, pixel_manifold=pixel_manifold, metrics=metrics,
                     representation=representation, duplicates=duplicates)

