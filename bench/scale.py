"""Scale benchmark: 100,000 to 1,000,000 images from shards on disk, with 1 and 2 Dask workers.

    python bench/scale.py                                # 100k, 300k and 1M images, 1 and 2 workers
    python bench/scale.py --sizes 100000 --workers 2     # one run
    python bench/scale.py --quick                        # 20,000 images, a smoke run

Data: the 60,000 MNIST training digits, each copy shifted by a random offset of up to 3 pixels
(seeded), written by this bench as uncompressed .npz shards of 50,000 images under
``--folder`` (default: a temporary folder, kept between sizes). Each run is the command line as a
user runs it: ``python -m core run --data FOLDER --workers W --out OUT``, default settings (fit on a
seeded sample of 60,000, the rest applied in chunks of 10,000 on the workers). Printed per run: the
wall time, images per second of each stage (fit stages on the 60,000 of the fit sample, apply
on the rest, compare on its 10,000), and the peak resident memory of the driver and each worker.
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
DATA = ROOT.parent / "shared" / "data"
SHARD = 50_000


def write_shards(folder: Path, n_images: int, seed: int = 0) -> Path:
    """``n_images`` shifted MNIST training digits as shards of ``SHARD`` under ``folder/<n_images>``."""
    target = folder / str(n_images)
    if (target / "done").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    with np.load(DATA / "mnist_train.npz") as arrays:
        digits, labels = arrays["x_train"], arrays["y_train"]
    rng = np.random.default_rng(seed)
    for number, start in enumerate(range(0, n_images, SHARD)):
        count = min(SHARD, n_images - start)
        source = np.arange(start, start + count) % len(digits)
        shifts = rng.integers(-3, 4, size=(count, 2))
        shifted = np.zeros((count, 28, 28), dtype=np.uint8)
        for row, (index, (dy, dx)) in enumerate(zip(source, shifts)):
            image = np.roll(digits[index], (dy, dx), axis=(0, 1))
            if dy > 0:
                image[:dy] = 0
            elif dy < 0:
                image[dy:] = 0
            if dx > 0:
                image[:, :dx] = 0
            elif dx < 0:
                image[:, dx:] = 0
            shifted[row] = image
        np.savez(target / f"shard-{number:03d}.npz", x=shifted, y=labels[source])
    (target / "done").write_text("")
    return target


def run(folder: Path, workers: int, out: Path, extra: list[str]) -> dict:
    command = [sys.executable, "-m", "core", "run", "--data", str(folder), "--workers", str(workers),
               "--out", str(out), "--quiet", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    metrics = json.loads((out / "metrics.json").read_text())
    return {"wall": wall, "metrics": metrics}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--folder", help="where the shards are written (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="20,000 images, fit sample 5,000")
    args = parser.parse_args(argv)
    sizes = [20_000] if args.quick else [int(size) for size in args.sizes.split(",")]
    extra = ["--fit-sample", "5000"] if args.quick else []
    folder = Path(args.folder or tempfile.mkdtemp(prefix="scale-"))
    rows = []
    for n_images in sizes:
        shards = write_shards(folder, n_images)
        for workers in [int(w) for w in args.workers.split(",")]:
            result = run(shards, workers, folder / f"out-{n_images}-{workers}", extra)
            metrics, seconds = result["metrics"], result["metrics"]["seconds"]
            fit, applied = metrics["data"]["fit_sample"], n_images - metrics["data"]["fit_sample"]
            rows.append((n_images, workers, result["wall"], seconds, fit, applied, metrics["memory"],
                         metrics.get("clustering", {}).get("accuracy")))
            print(f"{n_images:,} images, {workers} worker(s): {result['wall']:.0f} s, memory {metrics['memory']}",
                  file=sys.stderr, flush=True)
    print("| images | workers | wall s | fit stages (train, encode, map, cluster, anomaly) s | apply s | apply "
          "images/s | compare s | driver peak RSS MB | worker peak RSS MB | accuracy |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n_images, workers, wall, seconds, _fit, applied, memory, accuracy in rows:
        fit_stages = ", ".join(f"{seconds.get(name, 0):.0f}" for name in ("train", "encode", "map", "cluster",
                                                                             "anomaly"))
        apply_seconds = seconds.get("apply", 0.0)
        rate = f"{applied / apply_seconds:,.0f}" if apply_seconds else "-"
        print(f"| {n_images:,} | {workers} | {wall:.0f} | {fit_stages} | {apply_seconds:.0f} | {rate} | "
              f"{seconds.get('compare', 0):.0f} | {memory['peak_rss_mb']:,.0f} | "
              f"{', '.join(f'{value:,.0f}' for value in memory['worker_peak_rss_mb'])} | "
              f"{'' if accuracy is None else f'{accuracy:.3f}'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
