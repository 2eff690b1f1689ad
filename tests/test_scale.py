"""Collections past memory: a folder of .npz shards read in batches, fit on a sample and applied
everywhere, with no engine, a local Dask cluster (--workers 2) or an existing one (--scheduler)."""

import contextlib
import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from core.data import load_image_set
from core.run.engines import pinned_packages, version_problems
from tests.conftest import ROOT, shared_file

COLUMNS = ["cluster", "anomaly_score", "reconstruction_error", "map_x", "map_y"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """3,000 MNIST test digits as three shards of 1,000 (the last in a sub-folder), with labels."""
    folder = tmp_path_factory.mktemp("shards")
    with np.load(shared_file("mnist_test.npz")) as arrays:
        images, labels = arrays["x_test"][:3000], arrays["y_test"][:3000]
    (folder / "more").mkdir()
    for number, path in enumerate([folder / "a.npz", folder / "b.npz", folder / "more" / "c.npz"]):
        part = slice(1000 * number, 1000 * (number + 1))
        np.savez(path, x=images[part], y=labels[part])
    return folder


def run_cli(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "core", "run", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def results(folder):
    return pd.read_csv(folder / "results.csv", dtype={"id": str})


@pytest.fixture(scope="module")
def one_process(shards, tmp_path_factory):
    """The run with no engine flag: fit on 1,200 images, the other 1,800 applied in this process."""
    out = tmp_path_factory.mktemp("one") / "out"
    done = run_cli("--data", shards, "--fit-sample", "1200", "--epochs", "15", "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def assert_same_results(got: pd.DataFrame, expected: pd.DataFrame):
    np.testing.assert_array_equal(got["id"], expected["id"])
    np.testing.assert_array_equal(got["duplicate_group"], expected["duplicate_group"])
    np.testing.assert_array_equal(got["label"], expected["label"])
    np.testing.assert_array_equal(got["cluster"], expected["cluster"])
    np.testing.assert_allclose(got[COLUMNS[1:]].to_numpy(), expected[COLUMNS[1:]].to_numpy(), rtol=1e-5, atol=1e-5)


def test_a_sharded_folder_is_read_in_batches_and_named_by_shard_and_row(shards, one_process):
    source = load_image_set(shards)
    assert len(source) == 3000 and source.image_shape == (28, 28, 1)
    table = results(one_process)
    assert list(table.columns) == ["index", *COLUMNS, "label", "id", "duplicate_group"]
    assert table["id"].iloc[[0, 999, 1000, 2999]].tolist() == ["a.npz:0", "a.npz:999", "b.npz:0", "more/c.npz:999"]
    metrics = json.loads((one_process / "metrics.json").read_text())
    assert metrics["data"]["fit_sample"] == 1200 and metrics["seconds"]["apply"] > 0
    assert metrics["clustering"]["accuracy"] > 0.45  # 15 epochs on 1,200 images; chance is about 0.1
    assert len(pd.read_parquet(one_process / "results.parquet")) == 3000


def test_two_local_dask_workers_give_the_results_of_one_process(shards, one_process, tmp_path):
    out = tmp_path / "out"
    done = run_cli("--data", shards, "--fit-sample", "1200", "--epochs", "15", "--workers", "2", "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_results(results(out), results(one_process))


@contextlib.contextmanager
def dask_cluster(folder, worker_path: str | None = None):
    """A scheduler and one worker started as a user would (`dask scheduler`, `dask worker`), in
    ``folder`` and with an environment that holds neither this repository nor PYTHONPATH (except
    ``worker_path`` for the worker); yields the scheduler's address, stops both afterwards."""
    scheduler_file = folder / "scheduler.json"
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    processes = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                   "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                  cwd=folder, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        worker_environment = environment if worker_path is None else {**environment, "PYTHONPATH": worker_path}
        processes.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                           "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
                                          cwd=folder, env=worker_environment, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_an_existing_dask_cluster_without_this_repository_runs_the_apply_stage(shards, one_process, tmp_path):
    """The workers' working folder and Python path hold no copy of this project: the run sends its
    own code, and the results are those of one process."""
    with dask_cluster(tmp_path) as address:
        out = tmp_path / "out"
        done = run_cli("--data", shards, "--fit-sample", "1200", "--epochs", "15", "--scheduler", address,
                       "--out", out)
        assert done.returncode == 0, done.stderr[-3000:]
        assert_same_results(results(out), results(one_process))


def test_workers_with_another_version_of_a_pinned_package_are_refused_before_fitting(shards, tmp_path):
    """A worker whose environment reports pynndescent 0.0.1 (a distribution's metadata first on its
    path): one line naming the worker, the package and both versions, status 2, and no training."""
    fake = tmp_path / "fake"
    (fake / "pynndescent-0.0.1.dist-info").mkdir(parents=True)
    (fake / "pynndescent-0.0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pynndescent\nVersion: 0.0.1\n")
    with dask_cluster(tmp_path, worker_path=str(fake)) as address:
        done = run_cli("--data", shards, "--scheduler", address, "--out", tmp_path / "out", timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "pynndescent 0.0.1 (here " in lines[0] and address.split(":")[1] in lines[0]
    assert "Training" not in done.stderr and not (tmp_path / "out").exists()


def test_version_problems_name_each_worker_with_what_it_lacks_or_has_otherwise():
    here = {"numpy": "2.4.6", "umap-learn": "0.5.12"}
    problems = version_problems(here, {"tcp://a:1": here, "tcp://b:2": {"numpy": "1.26.4", "umap-learn": None}})
    assert problems == ["tcp://b:2 lacks umap-learn and has numpy 1.26.4 (here 2.4.6)"]
    assert "streamlit" not in pinned_packages() and {"tensorflow", "scikit-learn", "distributed"} <= set(pinned_packages())


def test_an_unreachable_scheduler_is_one_line(shards, tmp_path):
    done = run_cli("--data", shards, "--scheduler", "tcp://127.0.0.1:9", "--out", tmp_path / "out", timeout=300)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "could not reach the Dask scheduler" in lines[0], done.stderr
