"""How honest is the Training page's "time left"? (issue 22)

    python bench/progress_estimates.py                     # digits, MNIST and the 10,000 photos
    python bench/progress_estimates.py --data digits       # one of them
    python bench/progress_estimates.py --traces DIR        # keep each run's recorded states in DIR
    python bench/progress_estimates.py --replay DIR        # the same table from kept states, estimated again

Each data set runs the way the app runs it: a fresh worker process (``core.run.jobs.RunQueue``, its
start and imports included, as after pressing Run in a freshly started app), the run handed to it
through ``RunStore.start``, and the page's view of it read as the Training page reads it
(``TrainingJob.progress``, polled every 0.2 s). MNIST is the app's "MNIST" choice without the
download: an npz holding ``x_train`` (60,000) and ``x_test`` (10,000), built in a temporary folder
from ../shared/data. Each run uses a fresh runs folder and a fresh cache folder (no speed measured
on earlier runs), unless ``--keep-calibration``.

Reported per data set: the run's wall time from the submission to the end, and at 25 %, 50 % and
75 % of it the time left the page showed against the time that actually remained (error = shown /
actual - 1; the target is within 30 %); and the longest a shown "about N s left" stayed unchanged,
as a share of N (it must stay under 1: no estimate stays longer than it promised).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
POINTS = (0.25, 0.5, 0.75)
DATA = ("digits", "mnist", "photos")


def data_spec(name: str, folder: Path) -> str:
    """The data spec the app would hand to the worker for ``name``."""
    if name == "digits":
        return "digits"
    if name == "photos":
        return str(SHARED / "cifar10_train_10k.zip")
    import numpy as np

    path = folder / "mnist.npz"
    with np.load(SHARED / "mnist_train.npz") as train, np.load(SHARED / "mnist_test.npz") as test:
        np.savez(path, x_train=train["x_train"], y_train=train["y_train"], x_test=test["x_test"],
                 y_test=test["y_test"])
    return str(path)


def record(spec: str, runs: Path, interval: float = 0.2) -> list[dict]:
    """Run ``spec`` at the app's default settings in a fresh worker; the page's view every ``interval`` s."""
    from core.data.load import load_train_and_analysis_sets
    from core.run.config import RunConfig
    from core.run.store import RunStore, run_key

    config = RunConfig(data=spec)
    train, analysed = load_train_and_analysis_sets(spec)  # the app has them in memory before Run
    fingerprint = analysed.fingerprint()
    key = run_key(config, fingerprint if train is analysed else train.fingerprint(), fingerprint)
    store = RunStore(runs)
    submitted = time.time()
    job = store.start(key, config)
    if hasattr(job, "expect"):
        job.expect(len(train), len(analysed), analysed.image_shape)
    states = []
    while job.running:
        now = time.time()
        progress = job.progress
        states.append({"t": now - submitted, "now": now, "left": progress.seconds_left(now=now),
                       "text": progress.describe(now=now), "stage": progress.stage, "epoch": progress.epoch,
                       "epochs": progress.epochs, "state": progress.to_dict()})
        time.sleep(interval)
    progress = job.progress
    if progress.stage != "done":
        raise RuntimeError(f"{spec}: the run ended as {progress.stage}: {progress.error}")
    end = time.time() - submitted
    return [{**state, "actual": end - state["t"]} for state in states] + [{"t": end, "end": True}]


def replayed(states: list[dict]) -> list[dict]:
    """Recorded states with their time left and text estimated again by this version of
    ``core.run.progress`` (to compare estimators on the same runs)."""
    from core.run.progress import Progress

    again = []
    for state in states:
        if "state" in state:
            progress = Progress.from_dict(state["state"])
            state = {**state, "left": progress.seconds_left(now=state["now"]), "text": progress.describe(now=state["now"])}
        again.append(state)
    return again


def summarise(name: str, states: list[dict]) -> dict:
    """The shown time left at 25/50/75 % of the wall time against the time actually left, and the
    longest-lived shown text as a share of what it promised."""
    end = states[-1]["t"]
    shown = states[:-1]
    row = {"data": name, "wall_s": round(end, 1)}
    for point in POINTS:
        state = max((s for s in shown if s["t"] <= point * end), key=lambda s: s["t"])
        left = state["left"]
        row[f"{point:.0%}"] = {"stage": state["stage"], "shown_s": None if left is None else round(left, 1),
                               "actual_s": round(state["actual"], 1),
                               "error": None if left is None else round(left / state["actual"] - 1, 3)}
    worst, since, text, promised = 0.0, None, None, 0.0
    for state in shown + [states[-1]]:
        current = state.get("text")
        if current != text:
            if text is not None and "left" in text and promised > 0:
                worst = max(worst, (state["t"] - since) / max(promised, 1.0))
            text, since, promised = current, state["t"], state.get("left") or 0.0
    row["longest_unchanged_share"] = round(worst, 2)
    return row


def run_one(name: str, keep_calibration: bool) -> dict:
    """One data set in its own process (a fresh worker and fresh imports, as in a fresh app)."""
    with tempfile.TemporaryDirectory() as folder:
        environment = dict(os.environ)
        if not keep_calibration:
            environment["XDG_CACHE_HOME"] = str(Path(folder) / "cache")
            # the seed network's implementation choice is cached there too: keep this machine's
            cached = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "latent-explorer"
            if cached.is_dir():
                (Path(folder) / "cache" / "latent-explorer").mkdir(parents=True)
                for path in cached.glob("seed-network-speed*.json"):
                    (Path(folder) / "cache" / "latent-explorer" / path.name).write_bytes(path.read_bytes())
        done = subprocess.run([sys.executable, __file__, "--one", name, "--folder", folder], cwd=ROOT,
                              env=environment, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise RuntimeError(f"{name}: {done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=DATA, action="append", help="data sets (default: all three)")
    parser.add_argument("--traces", type=Path, help="keep each run's recorded states in this folder")
    parser.add_argument("--keep-calibration", action="store_true",
                        help="use this machine's measured stage speeds from earlier runs")
    parser.add_argument("--replay", type=Path, help="estimate again the states kept by --traces in this folder")
    parser.add_argument("--one", choices=DATA, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        states = record(data_spec(args.one, args.folder), args.folder / "runs")
        print(json.dumps(states))
        return 0
    rows = []
    for name in args.data or DATA:
        if args.replay:
            if (args.replay / f"{name}.json").exists():
                rows.append(summarise(name, replayed(json.loads((args.replay / f"{name}.json").read_text()))))
            continue
        states = run_one(name, args.keep_calibration)
        if args.traces:
            args.traces.mkdir(parents=True, exist_ok=True)
            (args.traces / f"{name}.json").write_text(json.dumps(states))
        rows.append(summarise(name, states))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print("| data | wall time | at 25 %: shown / actual (error) | at 50 % | at 75 % | longest unchanged / promised |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        cells = []
        for point in POINTS:
            cell = row[f"{point:.0%}"]
            error = "no estimate" if cell["error"] is None else f"{cell['error']:+.0%}"
            cells.append(f"{cell['shown_s']} s / {cell['actual_s']} s ({error}, {cell['stage']})")
        print(f"| {row['data']} | {row['wall_s']} s | " + " | ".join(cells) + f" | {row['longest_unchanged_share']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
