"""Quality benchmark: the default pipeline on every task and seed, and every method side by side.

    python bench/quality.py                          # every task, seeds 0, 1, 2 (about an hour on 2 cores)
    python bench/quality.py --tasks mnist,inject     # some tasks
    python bench/quality.py --seeds 0 --quick        # a smoke version on small subsets

Tasks (reference data in ../shared/data; labels only evaluate, never train):

- digits: the 1,797 built-in 8x8 digits, trained and analysed (the app's first screen).
- mnist: train on the 60,000 MNIST training images, analyse the 10,000 test images.
- fashion: train on the 10,000 Fashion-MNIST test images and analyse them.
- photos: the 10,000 CIFAR-10 photos of cifar10_train_10k.zip, trained on and analysed.
- inject: the 10,000 MNIST test images plus the first 100 Fashion-MNIST images flagged as anomalies,
  trained on those same 10,100 images (AUROC and average precision of the anomaly score).
- one-class: for each digit, train on the MNIST training images of that digit and score the whole
  MNIST test set (anomaly = any other digit); mean AUROC (seed 0 only: ten runs per seed).

Every run is ``run_pipeline`` with default settings (what the app and ``python -m core run`` do),
including its comparison stage: the raw-pixel baselines and the other clusterers and scorers come
from the same run's ``comparison`` (on the fit sample, here every analysed image). Printed: one row
per task and seed, the mean and the worst seed against the targets, and the side-by-side tables of
the first seed's mnist and inject runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data import ImageSet, concatenate, load_image_set  # noqa: E402
from core.run import RunConfig, run_pipeline  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
N_INJECTED = 100
TARGETS = {  # task -> (metric, target on the mean)
    "digits": [("accuracy", 0.95)],
    "mnist": [("accuracy", 0.97), ("nmi", 0.92)],
    "fashion": [("accuracy", 0.65)],
    "photos": [("accuracy", 0.25), ("over raw-pixel KMeans", 0.04)],
    "inject": [("auroc", 0.995), ("average_precision", 0.95)],
    "one-class": [("mean auroc", 0.96)],
}


def task_sets(task: str, quick: bool) -> tuple[ImageSet, ImageSet]:
    """(training images, analysed images) of a task."""
    if task == "digits":
        digits = load_image_set("digits")
        return digits, digits
    if task == "photos":
        photos = load_image_set(DATA / "cifar10_train_10k.zip")
        photos = photos.subset(np.arange(0, len(photos), 5)) if quick else photos
        return photos, photos
    test = load_image_set(DATA / "mnist_test.npz")
    fashion = load_image_set(DATA / "fashion_mnist_ood.npz")
    if quick:
        test, fashion = test.subset(np.arange(2000)), fashion.subset(np.arange(2000))
    if task == "mnist":
        train = load_image_set(DATA / "mnist_train.npz")
        return (train.subset(np.arange(12_000)) if quick else train), test
    if task == "fashion":
        return fashion, fashion
    if task == "inject":
        injected = fashion.subset(np.arange(N_INJECTED))
        injected = ImageSet(injected.images, None, np.char.add("fashion-", injected.ids), "fashion",
                            anomaly_flags=np.ones(N_INJECTED, dtype=bool))
        analysed = concatenate(ImageSet(test.images, None, test.ids, "mnist"), injected, name="mnist + fashion")
        return analysed, analysed
    raise ValueError(task)


def scores_of(task: str, result) -> dict[str, float]:
    metrics = result.metrics
    if task == "inject":
        return dict(metrics["anomaly"]["anomaly_score"])
    scores = {"accuracy": metrics["clustering"]["accuracy"], "nmi": metrics["clustering"]["nmi"]}
    raw = next(row for row in metrics["comparison"]["clustering"] if row["method"] == "raw-pixel KMeans")
    scores["raw-pixel KMeans"] = raw["accuracy"]
    scores["over raw-pixel KMeans"] = scores["accuracy"] - raw["accuracy"]
    return scores


def one_class(seed: int, quick: bool) -> tuple[dict, float]:
    train, test = load_image_set(DATA / "mnist_train.npz"), load_image_set(DATA / "mnist_test.npz")
    if quick:
        test = test.subset(np.arange(2000))
    aurocs, start = [], time.perf_counter()
    for digit in (0, 1, 8) if quick else range(10):
        normal = train.subset(np.flatnonzero(train.labels == digit))
        flagged = ImageSet(test.images, test.labels, test.ids, "mnist test", anomaly_flags=test.labels != digit)
        result = run_pipeline(RunConfig(seed=seed), train_set=normal, analysis_set=flagged)
        aurocs.append(result.metrics["anomaly"]["anomaly_score"]["auroc"])
        print(f"    digit {digit}: AUROC {aurocs[-1]:.3f}", flush=True)
    return {"mean auroc": float(np.mean(aurocs)), "lowest digit": float(min(aurocs))}, time.perf_counter() - start


def side_by_side(result, kind: str) -> str:
    rows = result.metrics["comparison"][kind]
    names = [name for name in rows[0] if name != "method"]
    lines = ["| method | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    lines += ["| " + row["method"] + " | " + " | ".join(f"{row[name]:.3f}" for name in names) + " |" for row in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="digits,mnist,fashion,photos,inject,one-class")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--quick", action="store_true", help="small subsets: a smoke run")
    args = parser.parse_args(argv)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    rows, tables = [], []
    for task in args.tasks.split(","):
        for seed in seeds if task != "one-class" else seeds[:1]:
            if task == "one-class":
                scores, seconds = one_class(seed, args.quick)
                details = {}
            else:
                train, analysed = task_sets(task, args.quick)
                start = time.perf_counter()
                result = run_pipeline(RunConfig(seed=seed), train_set=train, analysis_set=analysed)
                seconds, scores = time.perf_counter() - start, scores_of(task, result)
                details = {name: value for name, value in result.metrics["seconds"].items() if " " not in name}
                if seed == seeds[0] and task in ("mnist", "inject"):
                    kind = "anomaly" if task == "inject" else "clustering"
                    tables.append((task, side_by_side(result, kind), len(result.comparison)))
            rows.append((task, seed, scores, seconds))
            print(f"  {task:<9} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
                  + f" ({seconds:.0f} s; stages {details})", flush=True)

    print("\n| task | seed | scores | seconds |\n| --- | --- | --- | --- |")
    for task, seed, scores, seconds in rows:
        print(f"| {task} | {seed} | " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()) + f" | {seconds:.0f} |")
    print("\n| task | target | mean | worst seed | every seed within 0.02 of the mean | verdict |")
    print("| --- | --- | --- | --- | --- | --- |")
    for task in dict.fromkeys(task for task, *_ in rows):
        for metric, target in TARGETS[task]:
            values = [scores[metric] for name, _, scores, _ in rows if name == task and metric in scores]
            if not values:
                continue
            mean, worst = statistics.mean(values), min(values)
            stable = worst >= mean - 0.02
            verdict = "met" if mean >= target and stable else "**missed**"
            print(f"| {task} | {metric} >= {target} | {mean:.3f} | {worst:.3f} | {'yes' if stable else 'no'} | "
                  f"{verdict} |")
    for task, table, compared in tables:
        print(f"\n{task}, seed {seeds[0]}, every method side by side on {compared:,} images:\n\n{table}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
