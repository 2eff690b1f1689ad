"""Quality benchmark: the default pipeline on every task and seed, and every method side by side.

    python bench/quality.py                          # every task, seeds 0, 1, 2 (digits: 0-9), about an hour
    python bench/quality.py --tasks mnist,inject     # some tasks
    python bench/quality.py --seeds 0 --quick        # a smoke version on small subsets

Tasks (reference data in ../shared/data; labels only evaluate, never train):

- digits: the 1,797 built-in 8x8 digits, trained and analysed (the app's first screen), on seeds
  0 to 9 (or ``--seeds``), each also with its pixels changed by at most 1e-6 (seeded uniform noise,
  clipped to [0, 1]): the first screen must not depend on the last bits of a machine's arithmetic.
- mnist: train on the 60,000 MNIST training images, analyse the 10,000 test images.
- fashion: train on the 10,000 Fashion-MNIST test images and analyse them.
- photos: the 10,000 CIFAR-10 photos of cifar10_train_10k.zip, trained on and analysed; also the
  share of each photo's 5 nearest others in the latent space (the up-close view's "most similar
  images") that show the same kind of thing (chance: 0.1).
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
from core.methods.neighbours import nearest_neighbors  # noqa: E402
from core.methods.registry import RAW_PIXEL_KMEANS  # noqa: E402
from core.run import RunConfig, run_pipeline  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
N_INJECTED = 100
PERTURBATION = 1e-6
TARGETS = {  # task -> (metric, target on the mean)
    "digits": [("accuracy", 0.95)],
    "mnist": [("accuracy", 0.98), ("nmi", 0.95)],
    "fashion": [("accuracy", 0.65)],
    "photos": [("accuracy", 0.32), ("over raw-pixel KMeans", 0.10)],
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


def scores_of(task: str, result, analysed: ImageSet) -> dict[str, float]:
    metrics = result.metrics
    if task == "inject":
        return dict(metrics["anomaly"]["anomaly_score"])
    scores = {"accuracy": metrics["clustering"]["accuracy"], "nmi": metrics["clustering"]["nmi"]}
    raw = next(row for row in metrics["comparison"]["clustering"] if row["method"] == RAW_PIXEL_KMEANS)
    scores["raw-pixel KMeans"] = raw["accuracy"]
    scores["over raw-pixel KMeans"] = scores["accuracy"] - raw["accuracy"]
    if task == "photos":
        scores["nearest 5 alike, latent"] = neighbours_alike(result.latent, analysed.labels)
        if result.representation is not None:
            scores["nearest 5 alike, representation"] = neighbours_alike(result.representation, analysed.labels)
    return scores


def neighbours_alike(features: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Share of each image's ``k`` nearest other images (in (N, d) ``features``) with its label."""
    indices, _ = nearest_neighbors(np.ascontiguousarray(features, dtype=np.float32), k + 1)
    return float(np.mean(labels[indices[:, 1:]] == labels[:, None]))


def perturbed(image_set: ImageSet, seed: int) -> ImageSet:
    """The images with every pixel moved by a seeded uniform change of at most ``PERTURBATION``."""
    noise = np.random.default_rng(10_000 + seed).uniform(-PERTURBATION, PERTURBATION, image_set.images.shape)
    images = np.clip(image_set.images + noise.astype(np.float32), 0, 1).astype(np.float32)
    return ImageSet(images, image_set.labels, image_set.ids, image_set.name)


def digits_stability(seeds: list[int]) -> list[tuple[int, float, float]]:
    """(seed, accuracy, accuracy with the pixels perturbed) for the built-in digits."""
    digits, rows = load_image_set("digits"), []
    for seed in seeds:
        clean = run_pipeline(RunConfig(seed=seed), digits, digits).metrics["clustering"]["accuracy"]
        moved = perturbed(digits, seed)
        changed = run_pipeline(RunConfig(seed=seed), moved, moved).metrics["clustering"]["accuracy"]
        rows.append((seed, clean, changed))
        print(f"  digits    seed {seed}: accuracy {clean:.3f}, perturbed {changed:.3f}", flush=True)
    return rows


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
    parser.add_argument("--digit-seeds", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--quick", action="store_true", help="small subsets: a smoke run")
    args = parser.parse_args(argv)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    rows, tables, stability = [], [], []
    for task in args.tasks.split(","):
        if task == "digits":
            stability = digits_stability([int(seed) for seed in args.digit_seeds.split(",")])
            rows += [("digits", seed, {"accuracy": clean}, 0.0) for seed, clean, _ in stability]
            continue
        for seed in seeds if task != "one-class" else seeds[:1]:
            if task == "one-class":
                scores, seconds = one_class(seed, args.quick)
                details = {}
            else:
                train, analysed = task_sets(task, args.quick)
                start = time.perf_counter()
                result = run_pipeline(RunConfig(seed=seed), train_set=train, analysis_set=analysed)
                seconds, scores = time.perf_counter() - start, scores_of(task, result, analysed)
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
    if stability:
        changes = [abs(clean - changed) for _, clean, changed in stability]
        print("\n| digits seed | accuracy | pixels changed by at most 1e-6 | change |\n| --- | --- | --- | --- |")
        for (seed, clean, changed), change in zip(stability, changes):
            print(f"| {seed} | {clean:.3f} | {changed:.3f} | {change:.3f} |")
        lowest = min(min(clean, changed) for _, clean, changed in stability)
        print(f"\ndigits: lowest {lowest:.3f} (target >= 0.93: {'met' if lowest >= 0.93 else '**missed**'}), "
              f"largest change {max(changes):.3f} (target <= 0.01: {'met' if max(changes) <= 0.01 else '**missed**'})")
    for task, table, compared in tables:
        print(f"\n{task}, seed {seeds[0]}, every method side by side on {compared:,} images:\n\n{table}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
