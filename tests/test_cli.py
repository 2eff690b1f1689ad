"""The command line, end to end, as other tools call it: `python -m core run ... --out DIR`."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from core.data import load_image_set
from core.evaluation import clustering_accuracy
from core.methods import CLUSTERERS, SCORERS
from tests.conftest import ROOT

COLUMNS = ["index", "cluster", "anomaly_score", "reconstruction_error", "map_x", "map_y"]  # then label, id


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
    assert list(table.columns) == COLUMNS + ["label", "id", "duplicate_group"]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"),
                                  pd.read_csv(out / "results.csv", dtype={"id": str}), check_dtype=False)
    assert len(table) == 1797
    np.testing.assert_array_equal(table["index"], np.arange(1797))
    np.testing.assert_array_equal(table["label"], digits.labels)
    assert set(table["cluster"]) == set(range(10))
    assert table[COLUMNS].notna().all().all() and np.isfinite(table[COLUMNS[2:]].to_numpy()).all()
    assert (table["reconstruction_error"] >= 0).all()

    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]["loss"]) == 2
    assert {"train", "encode", "cluster", "anomaly", "map", "compare", "total"} <= set(metrics["seconds"])
    assert metrics["clustering"]["accuracy"] == pytest.approx(clustering_accuracy(digits.labels, table["cluster"]))
    # labels, no anomaly flags: the clusterers are compared, the scorers are not
    assert set(metrics["comparison"]) == {"clustering"}
    rows = metrics["comparison"]["clustering"]
    assert {row["method"] for row in rows} == set(CLUSTERERS)
    assert [row["accuracy"] for row in rows] == sorted((row["accuracy"] for row in rows), reverse=True)
    seed_way = next(row for row in rows if row["method"] == "KMeans on latent")  # the seed method's own
    assert seed_way["accuracy"] == pytest.approx(metrics["clustering"]["accuracy"])
    assert (out / "model.keras").stat().st_size > 0
    assert "accuracy" in done.stdout  # the summary table


def test_cli_on_an_npz_of_mnist_with_outliers_finds_groups_and_outliers(tmp_path, mnist_2000, fashion_20):
    """The issue's acceptance run: default settings, judged by an independent computation."""
    images = np.concatenate([mnist_2000.images, fashion_20.images])[..., 0]
    is_outlier = np.r_[np.zeros(2000, bool), np.ones(20, bool)]
    np.savez(tmp_path / "some.npz", x=(images * 255).round().astype(np.uint8), anomaly=is_outlier)
    done = run_cli("--data", tmp_path / "some.npz", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "epoch" in done.stderr and "Comparing" in done.stderr  # progress on stderr
    assert "WARNING" not in done.stderr and "I0000" not in done.stderr  # no third-party noise

    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(table.columns) == COLUMNS + ["id", "duplicate_group"]  # no labels in this npz
    np.testing.assert_array_equal(table["id"], np.arange(2020))  # a single array: the index
    # anomaly flags, no labels: the scorers are compared, the clusterers are not
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(metrics["comparison"]) == {"anomaly"}
    assert {row["method"] for row in metrics["comparison"]["anomaly"]} == set(SCORERS)
    default = next(row for row in metrics["comparison"]["anomaly"] if row["method"] == "default score")
    assert default["auroc"] == pytest.approx(roc_auc_score(is_outlier, table["anomaly_score"]))
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
    (lambda tmp: ["--data", "digits", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
    (lambda tmp: ["--data", "digits", "--fit-sample", "5"], "fit sample"),
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


def test_a_zip_in_class_folders_gives_file_ids_and_folder_names_as_labels(tmp_path, mnist_2000):
    import io
    import zipfile

    from PIL import Image

    with zipfile.ZipFile(tmp_path / "pets.zip", "w") as archive:
        for i, image in enumerate(mnist_2000.images[:60]):
            buffer = io.BytesIO()
            Image.fromarray((image[..., 0] * 255).astype(np.uint8)).save(buffer, format="PNG")
            archive.writestr(f"{'cats' if i % 2 else 'dogs'}/{i:03d}.png", buffer.getvalue())
    done = run_cli("--data", tmp_path / "pets.zip", "--preset", "seed", "--epochs", "1", "--clusters", "2",
                   "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "out" / "results.csv", dtype={"label": str, "id": str})
    assert list(table.columns) == COLUMNS + ["label", "id", "duplicate_group"]
    assert table["id"][:3].tolist() == ["cats/001.png", "cats/003.png", "cats/005.png"]  # sorted by path
    assert set(table["label"]) == {"cats", "dogs"}
    assert (table["label"] == table["id"].str.split("/").str[0]).all()
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["data"]["analysed"] == "pets.zip"
