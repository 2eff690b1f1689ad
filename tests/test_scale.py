"""Collections past memory: a folder of .npz shards read in batches, fit on a sample and applied
everywhere, with no engine, a local Dask cluster (--workers 2) or an existing one (--scheduler)."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from core.data import load_image_set
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


def test_an_existing_dask_cluster_on_loopback_runs_the_apply_stage(shards, one_process, tmp_path):
    """A scheduler and a worker started as a user would (`dask scheduler`, `dask worker`), the CLI
    pointed at it with --scheduler; both stopped afterwards."""
    scheduler_file = tmp_path / "scheduler.json"
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                   "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                  cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        processes.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                           "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
                                          cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        out = tmp_path / "out"
        done = run_cli("--data", shards, "--fit-sample", "1200", "--epochs", "15", "--scheduler", address,
                       "--out", out)
        assert done.returncode == 0, done.stderr[-3000:]
        assert_same_results(results(out), results(one_process))
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_an_unreachable_scheduler_is_one_line(shards, tmp_path):
    done = run_cli("--data", shards, "--scheduler", "tcp://127.0.0.1:9", "--out", tmp_path / "out", timeout=300)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "could not reach the Dask scheduler" in lines[0], done.stderr
