"""App speed benchmark (issue 5): first paint, page switches after a run, and a restart.

    python bench/app_speed.py                 # default settings on the built-in digits, 5 rounds
    python bench/app_speed.py --epochs 3      # smoke: a shorter training, same measurements
    python bench/app_speed.py --profile restart --profile views/clusters.py   # plus cProfiles (stderr)

The app is driven with Streamlit's AppTest, as tests/test_app.py does, on the built-in digits with
the sidebar's default settings. Each measurement runs in its own subprocess, so imports are cold
where the issue asks for a fresh process; the runs folder is a temporary folder, handed to every
subprocess through $LATENT_EXPLORER_RUNS and deleted at the end.

Measurements:
- first paint: wall seconds of the first ``AppTest.from_file("app.py").run()`` in a fresh process
  (median of --paints processes), and whether its script thread imported TensorFlow, Keras or scikit-learn.
- digits run: in that session, after the first paint and the background imports it starts
  (core/warmup.py starts the worker process, which imports them; a user reads the first page
  meanwhile), seconds from pressing Run to the job
  done: training, map, manifold and clusters at the default settings.
- page switch: one session presses Run, waits for the background training to finish, visits every
  page once (a first visit may fill caches), then visits every page --rounds more times; the
  seconds of each ``switch_page(...).run()`` (the whole script run, sidebar included).
- restart: a fresh process on the same runs folder opens the app with the same settings and goes
  to the Latent map page; seconds from the process's first line until the stored run's results
  are drawn (median of --restarts processes), checking that nothing trained.

Targets: first paint <= 3 s without TensorFlow; page switch <= 0.3 s of script time (median of
the later visits); restart load <= 3 s. Times are wall-clock on whatever machine runs this; another
heavy job on the same cores inflates them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START = time.perf_counter()  # the restart worker counts from here: before Streamlit is imported

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
sys.path.insert(0, str(ROOT))
RUNS_DIR_ENV = "LATENT_EXPLORER_RUNS"  # core.settings.RUNS_DIR, not imported here to keep imports cold
VIEWS = ["views/data.py", "views/training.py", "views/latent_map.py", "views/clusters.py", "views/anomalies.py",
         "views/labels.py", "views/runs.py", "views/export.py"]
RESULTS_VIEW = "views/latent_map.py"  # the page a restart opens to see the stored run's results
FIRST_PAINT_TARGET = 3.0
SWITCH_TARGET = 0.3
RESTART_TARGET = 3.0
DIGITS_TARGET = 10.0


def check_page(app, what: str) -> None:
    if app.exception:
        raise RuntimeError(f"{what}: {app.exception}")
    if app.error:
        raise RuntimeError(f"{what}: {[e.value for e in app.error]}")


def timed_run(app, view: str | None = None) -> float:
    """Seconds of one script run (after switching to ``view``), checked for errors."""
    start = time.perf_counter()
    (app.switch_page(view) if view else app).run()
    seconds = time.perf_counter() - start
    check_page(app, view or "first run")
    return seconds


class FirstImports:
    """A meta-path finder that records the thread first importing each slow package (no thread of
    the server should: runs train in the worker process, which does those imports)."""

    SLOW = ("tensorflow", "keras", "sklearn")

    def __init__(self):
        self.threads: dict[str, str] = {}

    def find_spec(self, name, path=None, target=None):
        importing = sys._getframe(2).f_code.co_name == "_find_and_load_unlocked"  # not importlib.util.find_spec
        if importing and name in self.SLOW:
            import threading

            self.threads.setdefault(name, threading.current_thread().name)
        return None


def first_paint(args) -> dict:
    """The first script run of a fresh process, and which slow packages its script thread imported."""
    imports = FirstImports()
    sys.meta_path.insert(0, imports)
    start = time.perf_counter()
    from streamlit.testing.v1 import AppTest
    import_seconds = time.perf_counter() - start
    app = AppTest.from_file(APP, default_timeout=120)
    seconds = profiled(args, "first_paint", lambda: timed_run(app))
    metrics = [m.value for m in app.metric]
    if "1,797" not in metrics:
        raise RuntimeError(f"the first paint does not show the digits: metrics {metrics}")
    by_script = sorted(imports.threads)  # runs train in a worker process: the server imports none of them
    return {"seconds": seconds, "import_seconds": import_seconds, "imported_by_script": by_script}


def page_switch(args) -> dict:
    """Train once with default settings, then time every page switch."""
    from streamlit.testing.v1 import AppTest

    from core.run import warmup
    from ui import cached

    app = AppTest.from_file(APP, default_timeout=600)
    timed_run(app)
    start = time.perf_counter()
    started = warmup.start()  # the first paint started it; as a user reading the first page would,
    if started is not None:   # wait for the worker process's imports to finish
        started.result(timeout=600)
    else:
        from core.run.jobs import QUEUE

        QUEUE.warm_up().result(timeout=600)
    warm_up_seconds = time.perf_counter() - start
    if args.epochs:
        app.number_input(key="epochs-default").set_value(args.epochs).run()
    start = time.perf_counter()
    next(b for b in app.button if b.label == "Run").click().run()  # starts the run, opens the Training page
    check_page(app, "Run")
    store = cached.store()
    jobs = list(store._jobs.values())
    if not jobs:
        raise RuntimeError("pressing Run started no training")
    for job in jobs:
        job.wait(timeout=1800)
        if job.progress.stage != "done":
            raise RuntimeError(f"training failed: {job.error}")
    train_seconds = time.perf_counter() - start
    print(f"trained in {train_seconds:.1f} s", file=sys.stderr, flush=True)
    first = {view: profiled(args, view, lambda v=view: timed_run(app, v)) for view in VIEWS}
    print("first visits: " + ", ".join(f"{v} {s:.2f}" for v, s in first.items()), file=sys.stderr, flush=True)
    later: dict[str, list[float]] = {view: [] for view in VIEWS}
    for _ in range(args.rounds):
        for view in VIEWS:
            later[view].append(timed_run(app, view))
    if not app.get("download_button"):  # the last page, Export, shows the stored run's files
        raise RuntimeError("the Export page shows no downloads after the run")
    return {"train_seconds": train_seconds, "warm_up_seconds": warm_up_seconds, "first": first, "later": later,
            "trainings": store.trainings}


def profiled(args, what: str, measure):
    """``measure()``, under cProfile when --profile names ``what``; the profile goes to stderr."""
    if what not in args.profile:
        return measure()
    import cProfile
    import io
    import pstats
    import threading

    profiler = cProfile.Profile()

    def start_in_script_thread(*_) -> None:  # AppTest runs the script in a new thread: profile that one
        sys.setprofile(None)
        if threading.current_thread().name == "ScriptRunner.scriptThread":
            threading.setprofile(None)
            profiler.enable()

    threading.setprofile(start_in_script_thread)
    try:
        value = measure()
    finally:
        threading.setprofile(None)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
    print(f"PROFILE of {what} ({value:.2f} s under the profiler):\n{text.getvalue()}", file=sys.stderr, flush=True)
    return value


def restart(args) -> dict:
    """A fresh process on a runs folder holding the finished run: seconds until its results show."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(APP, default_timeout=300)
    paint = timed_run(app)
    if args.epochs:  # the same settings as the trained run
        app.number_input(key="epochs-default").set_value(args.epochs).run()
    page = profiled(args, "restart", lambda: timed_run(app, RESULTS_VIEW))
    shown = time.perf_counter() - START
    from ui import cached

    store = cached.store()
    if not app.get("plotly_chart") or any("No results" in info.value for info in app.info):
        raise RuntimeError(f"the restart does not show the stored run: {[info.value for info in app.info]}")
    return {"seconds": shown, "paint_seconds": paint, "page_seconds": page, "trainings": store.trainings,
            "jobs": len(store._jobs)}


WORKERS = {"first_paint": first_paint, "page_switch": page_switch, "restart": restart}


def run_worker(name: str, args, runs: str) -> dict:
    command = [sys.executable, __file__, "--worker", name, "--rounds", str(args.rounds)]
    command += ["--epochs", str(args.epochs)] if args.epochs else []
    command += [item for what in args.profile for item in ("--profile", what)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, RUNS_DIR_ENV: runs})
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    profile = done.stderr.find("PROFILE of ")
    if profile >= 0:
        print(done.stderr[profile:], file=sys.stderr, flush=True)
    result = json.loads(lines[-1][len("RESULT "):])
    result["wall"] = wall
    return result


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def page_name(view: str) -> str:
    return Path(view).stem.replace("_", " ")


def print_table(paints: list[dict], switch: dict, restarts: list[dict]) -> None:
    """One markdown table: measurement | seconds | target | verdict."""
    rows = []
    paint = statistics.median(p["seconds"] for p in paints)
    rows.append((f"first paint (median of {len(paints)} fresh processes: "
                 + ", ".join(f"{p['seconds']:.2f}" for p in paints) + ")",
                 f"{paint:.2f}", f"<= {FIRST_PAINT_TARGET:g} s", verdict(paint <= FIRST_PAINT_TARGET)))
    imported = sorted({name for p in paints for name in p["imported_by_script"]})
    rows.append(("first paint: TensorFlow, Keras or scikit-learn imported by the server (they load in the "
                 "worker process)", "yes: " + ", ".join(imported) if imported else "no", "no", verdict(not imported)))
    rows.append(("first paint: importing streamlit.testing.v1 before it (median)",
                 f"{statistics.median(p['import_seconds'] for p in paints):.2f}", "-", "info"))
    rows.append(("worker process started after the first paint, its imports (TensorFlow, scikit-learn, UMAP) "
                 "waited for",
                 f"{switch['warm_up_seconds']:.1f}", "-", "info"))
    rows.append(("the full run on the built-in digits, after them (Run pressed to job done: training, map, "
                 "clusters)", f"{switch['train_seconds']:.1f}", f"<= {DIGITS_TARGET:g} s",
                 verdict(switch['train_seconds'] <= DIGITS_TARGET)))
    for view in VIEWS:
        rows.append((f"page switch: {page_name(view)}, first visit after the run", f"{switch['first'][view]:.3f}",
                     "-", "info"))
    for view in VIEWS:
        times = switch["later"][view]
        median, worst = statistics.median(times), max(times)
        rows.append((f"page switch: {page_name(view)}, later visits (median of {len(times)}, max {worst:.3f})",
                     f"{median:.3f}", f"<= {SWITCH_TARGET:g} s",
                     verdict(median <= SWITCH_TARGET) + ("" if worst <= SWITCH_TARGET else " (max over)")))
    later = [t for times in switch["later"].values() for t in times]
    rows.append((f"page switch: all later visits (median of {len(later)}, max {max(later):.3f})",
                 f"{statistics.median(later):.3f}", f"<= {SWITCH_TARGET:g} s",
                 verdict(statistics.median(later) <= SWITCH_TARGET)))
    shown = statistics.median(r["seconds"] for r in restarts)
    rows.append((f"restart: process start to the stored run on the {page_name(RESULTS_VIEW)} page (median of "
                 f"{len(restarts)}: " + ", ".join(f"{r['seconds']:.2f}" for r in restarts) + ")",
                 f"{shown:.2f}", f"<= {RESTART_TARGET:g} s", verdict(shown <= RESTART_TARGET)))
    rows.append(("restart: of which the first paint (median)",
                 f"{statistics.median(r['paint_seconds'] for r in restarts):.2f}", "-", "info"))
    rows.append((f"restart: of which the switch to {page_name(RESULTS_VIEW)} (model load, clustering; median)",
                 f"{statistics.median(r['page_seconds'] for r in restarts):.2f}", "-", "info"))
    retrained = sum(r["trainings"] + r["jobs"] for r in restarts)
    rows.append(("restart: trainings and training jobs started", str(retrained), "0", verdict(retrained == 0)))
    print("| measurement | seconds | target | verdict |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="later visits of every page (default 5)")
    parser.add_argument("--paints", type=int, default=3, help="fresh processes for the first paint (default 3)")
    parser.add_argument("--restarts", type=int, default=3, help="fresh processes for the restart (default 3)")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of the default (automatic)")
    parser.add_argument("--profile", metavar="WHAT", action="append", default=[],
                        help="print a cProfile (stderr) of 'first_paint', of the first visit to a page after the run "
                        "(e.g. views/clusters.py), or of the restart's results page ('restart'); repeatable; "
                        "the timings it profiles are inflated")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(WORKERS[args.worker](args)), flush=True)
        return
    settings = "default settings" + (f", {args.epochs} epochs" if args.epochs else "")
    print(f"# app speed: built-in digits, {settings}; {args.rounds} page-switch rounds\n")
    with tempfile.TemporaryDirectory(prefix="app-speed-runs-") as runs:
        paints = []
        for _ in range(args.paints):
            paints.append(run_worker("first_paint", args, runs))
            print(f"first paint: {paints[-1]['seconds']:.2f} s", file=sys.stderr, flush=True)
        switch = run_worker("page_switch", args, runs)
        print(f"page switch: {switch['wall']:.1f} s in all", file=sys.stderr, flush=True)
        restarts = []
        for _ in range(args.restarts):
            restarts.append(run_worker("restart", args, runs))
            print(f"restart: {restarts[-1]['seconds']:.2f} s", file=sys.stderr, flush=True)
    print_table(paints, switch, restarts)


if __name__ == "__main__":
    main()
