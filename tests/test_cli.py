"""The command line, end to end, as other tools call it: `python -m core run ... --out DIR`."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from core.analysis import clustering_accuracy
from core.data import load_image_set
from tests.conftest import ROOT

COLUMNS = ["index", "cluster", "anomaly_score", "reconstruction_error", "map_x", "map_y"]


def run_cli(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "core", "run", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_run_on_digits_writes_well_formed_results(tmp_path):
    out = tmp_path / "out"
    done = run_cli("--data", "digits", "--preset", "seed", "--epochs", "2", "--clusters", "10", "--seed", "1",
                   "--out", out)
    assert done.returncode == 0, done.stderr

    table = pd.read_csv(out / "results.csv")
    digits = load_image_set("digits")
    assert list(table.columns) == COLUMNS + ["label"]
    assert len(table) == 1797
    np.testing.assert_array_equal(table["index"], np.arange(1797))
    np.testing.assert_array_equal(table["label"], digits.labels)
    assert set(table["cluster"]) == set(range(10))
    assert table[COLUMNS].notna().all().all() and np.isfinite(table[COLUMNS[2:]].to_numpy()).all()
    assert (table["reconstruction_error"] >= 0).all()

    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]["loss"]) == 2
    assert {"train", "encode", "cluster", "anomaly", "map", "total"} <= set(metrics["seconds"])
    assert metrics["clustering"]["accuracy"] == pytest.approx(clustering_accuracy(digits.labels, table["cluster"]))
    assert (out / "model.keras").stat().st_size > 0
    assert "accuracy" in done.stdout  # the summary table


def test_cli_on_an_npz_of_mnist_with_outliers_finds_groups_and_outliers(tmp_path, mnist_2000, fashion_20):
    """The issue's acceptance run: default settings, judged by an independent computation."""
    images = np.concatenate([mnist_2000.images, fashion_20.images])[..., 0]
    np.savez(tmp_path / "some.npz", x=(images * 255).round().astype(np.uint8))
    done = run_cli("--data", tmp_path / "some.npz", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr

    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(table.columns) == COLUMNS  # no labels in this npz
    is_outlier = np.r_[np.zeros(2000, bool), np.ones(20, bool)]
    accuracy = clustering_accuracy(mnist_2000.labels, table["cluster"][:2000])
    auroc = roc_auc_score(is_outlier, table["anomaly_score"])
    print(f"default pipeline on 2,000 MNIST + 20 Fashion: accuracy {accuracy:.3f}, outlier AUROC {auroc:.3f}")
    assert accuracy >= 0.5
    assert auroc >= 0.85


@pytest.mark.parametrize("make_args, message", [
    (lambda tmp: ["--data", tmp / "missing.npz"], "no such dataset"),
    (lambda tmp: ["--data", _write(tmp / "corrupt.npz", b"garbage")], "not a readable"),
    (lambda tmp: ["--data", _write_npz(tmp / "twenty.npz", 20), "--clusters", "50"], "cannot make 50 clusters"),
    (lambda tmp: ["--data", "digits", "--clusters", "5000"], "from 1 to 100"),
    (lambda tmp: ["--data", "digits", "--epochs", "0"], "epochs"),
    (lambda tmp: ["--data", "digits", "--clusters", "ten"], "invalid int"),
])
def test_cli_bad_input_exits_non_zero_with_one_line(tmp_path, make_args, message):
    done = run_cli(*make_args(tmp_path), "--out", tmp_path / "out", timeout=300)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0], done.stderr
    assert not (tmp_path / "out" / "results.csv").exists()


def _write_npz(path, n_images: int):
    np.savez(path, x=load_image_set("digits").images[:n_images])
    return path


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
