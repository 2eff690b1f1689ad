"""Embeddings bench: the 10,000 shared photos with their learned photo features given as embeddings.

    python bench/embeddings.py                    # quality and seconds on the 10,000 photos
    python bench/embeddings.py --scale 1000000    # a Parquet of a million vectors matched to shards

Quality: ``core.model.representation.PhotoFeatures`` (the content features the default preset
learns from colour photos) is fitted on ../shared/data/cifar10_train_10k.zip; its 100 numbers per
photo are written as a Parquet file (``id``, list column ``embedding``) and given to
``python -m core run --embeddings`` in a subprocess (default preset and method). Printed: the
run's clustering accuracy, NMI and ARI against the photos' folder names, the same for "KMeans on
your embeddings" (KMeans on the same vectors, from the run's comparison), the run's seconds per
stage and its wall time, and the seconds the features took.

``--scale N``: N synthetic 8 x 8 grey images in shards of 100,000 and a Parquet of N 64-number
vectors (in reversed order, row groups of 100,000), matched as a run matches them
(``attach_embeddings``): seconds, the peak memory of this process above what it held before, and
a check that a chunk read by positions gets its own vectors.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHOTOS = ROOT.parent / "shared" / "data" / "cifar10_train_10k.zip"


def quality(folder: Path) -> None:
    import pandas as pd

    from core.data import load_image_set
    from core.model.representation import PhotoFeatures

    photos = load_image_set(PHOTOS)
    start = time.perf_counter()
    features = PhotoFeatures(n_components=100, seed=0).fit(photos.images).transform(photos.images)
    feature_seconds = time.perf_counter() - start
    vectors = folder / "photo features.parquet"
    pd.DataFrame({"id": photos.ids, "embedding": list(features)}).to_parquet(vectors)
    out = folder / "run"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core", "run", "--data", str(PHOTOS), "--embeddings", str(vectors),
                    "--out", str(out), "--quiet"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    compared = {row["method"]: row for row in metrics["comparison"]["clustering"]}
    print(f"photo features: {features.shape[1]} numbers per photo, {feature_seconds:.0f} s to fit and transform")
    print("| clusters | accuracy | NMI | ARI |\n| --- | --- | --- | --- |")
    rows = [(f"the run ({metrics['model']['clusterer']})", metrics["clustering"]),
            *((name, compared[name]) for name in ("KMeans on your embeddings", "KMeans on latent", "raw-pixel KMeans"))]
    for name, scores in rows:
        print(f"| {name} | {scores['accuracy']:.3f} | {scores['nmi']:.3f} | {scores['ari']:.3f} |")
    seconds = metrics["seconds"]
    print(f"run wall time {wall:.0f} s; stages: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items() if " " not in k))
    print(f"network: {metrics['model']['network']}")


def scale(folder: Path, n_vectors: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.data.embeddings import attach_embeddings
    from core.data.folders import open_folder
    from core.run.engines import peak_rss_mb

    shard_size, dimensions = 100_000, 64
    shards = folder / "shards"
    shards.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    ids = []
    for number, start in enumerate(range(0, n_vectors, shard_size)):
        count = min(shard_size, n_vectors - start)
        name = f"part-{number:03d}.npz"
        if not (shards / name).is_file():
            np.savez(shards / name, x=rng.integers(0, 256, (count, 8, 8), dtype=np.uint8))
        ids.extend(f"{name}:{row}" for row in range(count))
    path = folder / "vectors.parquet"
    if not path.is_file():
        schema = pa.schema([("id", pa.string()), ("embedding", pa.list_(pa.float32()))])
        with pq.ParquetWriter(path, schema) as writer:  # written in reversed order, 100,000 rows at a time
            for stop in range(n_vectors, 0, -shard_size):
                rows = np.arange(max(0, stop - shard_size), stop)[::-1]
                values = (rows[:, None] * 0.001 + np.arange(dimensions)).astype(np.float32)
                writer.write_table(pa.table({"id": [ids[r] for r in rows],
                                             "embedding": pa.FixedSizeListArray.from_arrays(values.ravel(),
                                                                                           dimensions)
                                             .cast(pa.list_(pa.float32()))}, schema=schema))
    del ids
    source = open_folder(shards)
    before = peak_rss_mb()
    start = time.perf_counter()
    matched = attach_embeddings(source, path, aligned_dir=folder / "aligned")
    seconds = time.perf_counter() - start
    after = peak_rss_mb()
    positions = np.sort(rng.choice(n_vectors, 10_000, replace=False))
    chunk = matched.read(positions)
    expected = (positions[:, None] * 0.001 + np.arange(dimensions)).astype(np.float32)
    assert np.allclose(chunk.vectors, expected), "a chunk read the wrong vectors"
    size = path.stat().st_size / 2**20
    print(f"{n_vectors:,} vectors of {dimensions} ({size:,.0f} MiB of Parquet) matched to {len(source):,} shard "
          f"images in {seconds:.1f} s; peak memory {before:,.0f} MB before, {after:,.0f} MB after "
          f"(+{after - before:,.0f} MB); a chunk of 10,000 read by positions got its own vectors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, help="match N synthetic vectors to shards instead")
    parser.add_argument("--folder", type=Path, help="where the files go (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.folder or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        if args.scale:
            scale(folder, args.scale)
        else:
            quality(folder)


if __name__ == "__main__":
    main()
