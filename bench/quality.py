"""Quality benchmark (issue 4): every method on every task, with wall times.

    python bench/quality.py            # the full protocol (long on 2 cores: about half an hour)
    python bench/quality.py --quick    # a smoke version on small subsets

Tasks (reference data in ../shared/data; labels only evaluate, never train):

- mnist: train on the 60,000 MNIST training images, cluster the 10,000 test images (accuracy, NMI).
- fashion: train on the 10,000 Fashion-MNIST test images and cluster them (accuracy, NMI).
- inject: the 10,000 MNIST test images plus 100 Fashion-MNIST images, trained on those same
  10,100 images; the anomaly score must rank the Fashion images first (AUROC, average precision).
- one-class: for each digit, train on the MNIST training images of that digit and score the
  whole MNIST test set (anomaly = any other digit); AUROC per digit and its mean.

Methods:

- raw KMeans / raw IsolationForest: on the flattened pixels (one-class: the forest is fitted on
  the training digit's pixels and scores the test set).
- seed: the seed preset (the 2018 tutorial network, 3 epochs) with KMeans and IsolationForest on
  its latent (one-class: the forest is fitted on the training latent).
- default: the default pipeline (``run_pipeline`` with default settings); one-class scores with
  the default anomaly score only (no map or clusters are needed there).

Seconds are wall time per task and method, training included. UMAP's first call in a process
compiles numba code (tens of seconds): it lands in the first default row; the "umap warm-up"
line reports it separately.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import analysis  # noqa: E402
from core.data import ImageSet, concatenate, load_image_set  # noqa: E402
from core.pipeline import RunConfig, anomaly_scores, run_pipeline, train_model  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEED = 0
N_INJECTED = 100


def load_sets(quick: bool):
    train = load_image_set(DATA / "mnist_train.npz")
    test = load_image_set(DATA / "mnist_test.npz")
    fashion = load_image_set(DATA / "fashion_mnist_ood.npz")
    if quick:
        rng = np.random.default_rng(SEED)
        train = train.subset(np.sort(rng.permutation(len(train))[:6000]))
        test = test.subset(np.arange(2000))
        fashion = fashion.subset(np.arange(2000))
    return train, test, fashion


def flat(image_set: ImageSet) -> np.ndarray:
    return image_set.images.reshape(len(image_set), -1)


class Table:
    def __init__(self):
        self.rows = []

    def add(self, task, method, scores: dict, seconds: float):
        text = ", ".join(f"{name} {value:.3f}" for name, value in scores.items())
        self.rows.append((task, method, text, f"{seconds:.1f}"))
        print(f"  {task:<10} {method:<26} {text:<44} {seconds:7.1f} s", flush=True)

    def markdown(self) -> str:
        lines = ["| task | method | scores | seconds |", "| --- | --- | --- | --- |"]
        lines += [f"| {task} | {method} | {scores} | {seconds} |" for task, method, scores, seconds in self.rows]
        return "\n".join(lines)


def timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def clustering_rows(table: Table, task: str, train: ImageSet, analysed: ImageSet):
    def short(scores):
        return {"accuracy": scores["accuracy"], "nmi": scores["nmi"]}

    labels, seconds = timed(lambda: analysis.fit_kmeans(flat(analysed), 10, seed=SEED).labels_)
    table.add(task, "raw KMeans", short(analysis.clustering_scores(analysed.labels, labels)), seconds)
    for preset in ("seed", "default"):
        config = RunConfig(preset=preset, seed=SEED)
        result, seconds = timed(lambda config=config: run_pipeline(config, train_set=train, analysis_set=analysed))
        method = "seed + KMeans" if preset == "seed" else "default pipeline"
        table.add(task, method, short(result.metrics["clustering"]), seconds)
        print(f"    stages: {result.metrics['seconds']}", flush=True)


def injection_rows(table: Table, test: ImageSet, fashion: ImageSet):
    injected = fashion.subset(np.arange(N_INJECTED))
    injected = ImageSet(injected.images, None, np.char.add("fashion-", injected.ids), "fashion",
                        anomaly_flags=np.ones(N_INJECTED, dtype=bool))
    analysed = concatenate(ImageSet(test.images, None, test.ids, "mnist"), injected, name="mnist + fashion")
    flags = analysed.anomaly_flags
    scores, seconds = timed(lambda: analysis.isolation_forest_scores(flat(analysed), seed=SEED))
    table.add("inject", "raw IsolationForest", analysis.anomaly_detection_scores(flags, scores), seconds)
    for preset in ("seed", "default"):
        config = RunConfig(preset=preset, seed=SEED)
        result, seconds = timed(lambda config=config: run_pipeline(config, analysis_set=analysed))
        method = "seed + IsolationForest" if preset == "seed" else "default pipeline"
        table.add("inject", method, result.metrics["anomaly"]["anomaly_score"], seconds)
        if preset == "default":
            table.add("inject", "  (reconstruction error)", result.metrics["anomaly"]["reconstruction_error"], 0.0)


def one_class_rows(table: Table, train: ImageSet, test: ImageSet, digits):
    aurocs = {"raw IsolationForest": [], "seed + IsolationForest": [], "default anomaly score": []}
    seconds = dict.fromkeys(aurocs, 0.0)
    for digit in digits:
        normal = train.subset(np.flatnonzero(train.labels == digit))
        is_anomaly = test.labels != digit

        def raw(normal=normal):
            from sklearn.ensemble import IsolationForest

            forest = IsolationForest(n_estimators=200, random_state=SEED).fit(flat(normal))
            return -forest.score_samples(flat(test))

        def seed(normal=normal):
            from sklearn.ensemble import IsolationForest

            model = train_model(RunConfig(preset="seed", seed=SEED), normal)
            forest = IsolationForest(n_estimators=200, random_state=SEED).fit(model.transform(normal))
            return -forest.score_samples(model.transform(test))

        def default(normal=normal):
            config = RunConfig(preset="default", seed=SEED)
            model = train_model(config, normal)
            latent = model.transform(test)
            return anomaly_scores(model, test, latent, model.inverse_transform(latent), seed=SEED, train_set=normal)

        for method, function in zip(aurocs, (raw, seed, default)):
            scores, spent = timed(function)
            aurocs[method].append(analysis.anomaly_detection_scores(is_anomaly, scores)["auroc"])
            seconds[method] += spent
        print(f"    digit {digit}: " + ", ".join(f"{m} {a[-1]:.3f}" for m, a in aurocs.items()), flush=True)
    for method, values in aurocs.items():
        per_digit = " ".join(f"{value:.3f}" for value in values)
        table.add("one-class", method, {"mean auroc": float(np.mean(values))}, seconds[method])
        table.rows[-1] = (*table.rows[-1][:2], f"{table.rows[-1][2]} (per digit: {per_digit})", table.rows[-1][3])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small subsets and three digits: a smoke run")
    parser.add_argument("--tasks", default="mnist,fashion,inject,one-class", help="comma-separated tasks to run")
    args = parser.parse_args(argv)
    tasks = args.tasks.split(",")
    train, test, fashion = load_sets(args.quick)
    print(f"quality benchmark, seed {SEED}{', quick' if args.quick else ''}: train {len(train)}, test {len(test)}, "
          f"fashion {len(fashion)}", flush=True)
    _, warm_up = timed(lambda: analysis.map_2d(np.random.default_rng(0).normal(size=(300, 10)), seed=SEED))
    print(f"  umap warm-up (numba compilation, paid once per process): {warm_up:.1f} s", flush=True)

    table = Table()
    if "mnist" in tasks:
        clustering_rows(table, "mnist", train, test)
    if "fashion" in tasks:
        clustering_rows(table, "fashion", fashion, fashion)
    if "inject" in tasks:
        injection_rows(table, test, fashion)
    if "one-class" in tasks:
        one_class_rows(table, train, test, digits=(0, 1, 8) if args.quick else range(10))
    print()
    print(table.markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
