"""Teaching bench: a simulated person labels the suggested images with their true labels, 20 at a time.

    python bench/teach.py                                  # digits (its run is made under --folder)
    python bench/teach.py --tasks digits mnist fashion photos
    python bench/teach.py --tasks mnist --cnn              # also the self-trained CNN (minutes a round)

Each task is a run folder under ``--folder`` (/tmp/teach-bench), made once by ``python -m core run``
and reused: digits (the 1,797 built-in digits), mnist (trained on the 60,000 MNIST training images,
the 10,000 test images analysed), fashion (the 10,000 Fashion-MNIST images of
fashion_mnist_ood.npz) and photos (the 10,000 shared CIFAR-10 photos). Labels only play the person:
the labellers see the labels of the images taught, never the others'.

Rounds: the person labels the images a round suggests (the first round: no labels yet), then the
next round teaches with every label so far; at 20, 50, 100 and 200 labels the default labeller's
accuracy on the images nobody taught is printed, beside the same labeller taught the same number
of images chosen at random (seeded), every labeller on the suggested labels (the round's
comparison) and the round's seconds (``teach``, the run folder already read).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
TASKS = {"digits": ["--data", "digits"],
         "mnist": ["--data", str(DATA / "mnist_test.npz"), "--train-data", str(DATA / "mnist_train.npz")],
         "fashion": ["--data", str(DATA / "fashion_mnist_ood.npz")],
         "photos": ["--data", str(DATA / "cifar10_train_10k.zip")]}
CHECKPOINTS = (20, 50, 100, 200)
BATCH = 20


def run_folder(task: str, folder: Path, seed: int) -> Path:
    out = folder / task
    if not (out / "run.json").exists():
        subprocess.run([sys.executable, "-m", "core", "run", *TASKS[task], "--out", str(out), "--seed", str(seed),
                        "--quiet"], cwd=ROOT, check=True)
    return out


def taught_by(positions: np.ndarray, truth: np.ndarray):
    from core.labels.teach import TaughtLabels

    positions = np.sort(np.asarray(positions, dtype=np.int64))
    return TaughtLabels(positions, truth[positions], np.ones(len(positions)))


def simulate(run, truth: np.ndarray, compare: str, seed: int) -> list[dict]:
    """One row per checkpoint: labels, accuracy (suggested), accuracy (random), comparison, seconds."""
    from core.labels.teach import teach

    rows, positions = [], np.zeros(0, dtype=np.int64)
    random_order = np.random.default_rng(seed).permutation(len(truth))
    round_seconds = []
    while True:
        started = time.perf_counter()
        teaching = teach(run, taught_by(positions, truth), n_suggest=BATCH, seed=seed, compare=compare)
        round_seconds.append(time.perf_counter() - started)
        if len(positions) in CHECKPOINTS:
            randomly = teach(run, taught_by(random_order[:len(positions)], truth), n_suggest=0, seed=seed,
                             compare="none")
            rows.append({"labels": len(positions), "labeller": teaching.metrics.get("labeller", "-"),
                         "suggested": teaching.metrics.get("accuracy_untaught"),
                         "random": randomly.metrics.get("accuracy_untaught"),
                         "comparison": teaching.metrics.get("comparison", {}).get("labelling", []),
                         "seconds": round_seconds[-1], "fit": teaching.metrics["seconds"].get("fit", 0.0)})
        if len(positions) >= CHECKPOINTS[-1]:
            break
        want = min(BATCH, min(c for c in CHECKPOINTS if c > len(positions)) - len(positions))
        positions = np.concatenate([positions, teaching.suggestions["index"].to_numpy()[:want]])
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=["digits"])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/teach-bench"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cnn", action="store_true", help="compare the self-trained CNN too (slow)")
    args = parser.parse_args(argv)

    import warnings

    from core.run.folder import read_run

    warnings.filterwarnings("ignore")
    print("| task | labels | default labeller | suggested | random | every labeller (suggested labels) | "
          "seconds a round |")
    print("| --- | ---: | --- | ---: | ---: | --- | ---: |")
    for task in args.tasks:
        run = read_run(run_folder(task, args.folder, args.seed))
        truth = run.table["label"].astype(str).to_numpy()
        for row in simulate(run, truth, "all" if args.cnn else "quick", args.seed):
            others = ", ".join(f"{entry['method']} {entry['accuracy']:.3f}" for entry in row["comparison"])
            print(f"| {task} | {row['labels']} | {row['labeller']} | {row['suggested']:.3f} | {row['random']:.3f} | "
                  f"{others} | {row['seconds']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
