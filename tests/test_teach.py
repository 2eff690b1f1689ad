"""Labels that teach: `python -m core teach` end to end on a digits run (outputs, no labels, bad
input), and the registry's labellers (fit with unlabelled rows; one batch or several alike)."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.labels.teach import PREDICTION_COLUMNS
from core.methods.labellers import UNLABELLED
from core.methods.registry import CLUSTERS_AND_SPREADING, LABELLERS, SELF_TRAINED_CNN, MethodSettings, stack_inputs
from core.run.folder import read_run
from tests.conftest import ROOT

TAUGHT = 40


def core_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A run folder of the built-in digits (1 epoch of the default preset: seconds) and its table."""
    folder = tmp_path_factory.mktemp("teach") / "run"
    done = core_cli("run", "--data", "digits", "--epochs", "1", "--seed", "0", "--quiet",
                    "--out", folder)
    assert done.returncode == 0, done.stderr
    return folder, pd.read_csv(folder / "results.csv", dtype={"id": str, "label": str})


def labels_file(path, table, rows, extra=()):
    """labels.csv of the Labels page's shape: the true label of ``rows`` (source manual), then ``extra``."""
    frame = pd.DataFrame({"index": rows, "id": table["id"][rows].to_numpy(), "label": table["label"][rows].to_numpy(),
                          "source": "manual"})
    frame = pd.concat([frame, pd.DataFrame(list(extra), columns=["index", "id", "label", "source"])])
    frame.to_csv(path, index=False)
    return path


def test_teach_writes_predictions_suggestions_and_metrics(digits_run, tmp_path):
    folder, table = digits_run
    taught = np.random.default_rng(0).choice(len(table), TAUGHT, replace=False)
    left_out = [(int(i), table["id"][i], label, source) for i, label, source in
                [(taught[0] + 1, "7", "predicted"), (taught[1] + 1, "anomaly", "manual"), (taught[2] + 1, "", "")]
                if i not in taught]
    labels = labels_file(tmp_path / "labels.csv", table, taught, left_out)
    done = core_cli("teach", "--run", folder, "--out", tmp_path / "out", "--labels", labels, "--suggest", 15)
    assert done.returncode == 0, done.stderr

    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv", dtype={"id": str, "predicted_label": str})
    assert list(predictions.columns) == PREDICTION_COLUMNS and len(predictions) == len(table)
    assert predictions["id"].tolist() == table["id"].tolist() and predictions["index"].tolist() == list(range(len(table)))
    assert set(predictions["predicted_label"]) <= set(table["label"][taught])
    assert predictions["confidence"].between(0, 1).all()
    assert set(np.flatnonzero(predictions["taught"] == 1)) == set(taught)  # not the predicted, anomaly, empty rows
    assert (predictions["predicted_label"][taught] == table["label"][taught]).all()

    suggestions = pd.read_csv(tmp_path / "out" / "suggestions.csv", dtype={"id": str})
    assert list(suggestions.columns) == ["index", "id"] and len(suggestions) == 15
    assert not set(suggestions["index"]) & set(taught) and suggestions["index"].is_unique
    assert (table["id"][suggestions["index"]].to_numpy() == suggestions["id"].to_numpy()).all()

    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["n_taught"] == TAUGHT and metrics["seconds"]["total"] > 0
    right = predictions["predicted_label"] == table["label"]
    assert metrics["accuracy"] == pytest.approx(right.mean())
    assert metrics["accuracy_untaught"] == pytest.approx(right[predictions["taught"] == 0].mean())
    assert metrics["accuracy_untaught"] > 0.6  # 40 labels of 10 digits: a tenth is chance
    compared = metrics["comparison"]["labelling"]
    assert {row["method"] for row in compared} >= {metrics["labeller"]} and len(compared) >= 3
    assert [row["accuracy"] for row in compared] == sorted((row["accuracy"] for row in compared), reverse=True)


def test_teach_without_two_labels_only_suggests(digits_run, tmp_path):
    folder, table = digits_run
    done = core_cli("teach", "--run", folder, "--out", tmp_path / "none")
    assert done.returncode == 0 and len(done.stderr.strip().splitlines()) == 1 and "no predictions" in done.stderr
    first = pd.read_csv(tmp_path / "none" / "suggestions.csv")
    assert len(first) == 20 and first["index"].is_unique and not (tmp_path / "none" / "predictions.csv").exists()
    assert len(set(table["cluster"][first["index"]])) == table["cluster"].nunique()  # a typical image per cluster

    ones = np.flatnonzero(table["label"] == "1")[:5]
    done = core_cli("teach", "--run", folder, "--out", tmp_path / "one", "--labels",
                    labels_file(tmp_path / "one.csv", table, ones), "--suggest", 7)
    assert done.returncode == 0 and "'1'" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    suggested = pd.read_csv(tmp_path / "one" / "suggestions.csv")
    assert len(suggested) == 7 and not set(suggested["index"]) & set(ones)
    assert json.loads((tmp_path / "one" / "metrics.json").read_text())["n_taught"] == 5


@pytest.mark.parametrize("make, expected", [
    (lambda run, tmp: ("--run", tmp / "nowhere"), "no run folder"),
    (lambda run, tmp: ("--run", damaged(run, tmp)), "no complete run"),
    (lambda run, tmp: ("--run", run, "--labels", written(tmp, "name,label\n3,a\n")), "columns id and label"),
    (lambda run, tmp: ("--run", run, "--labels", written(tmp, "id,label\n3,a\n4,b\n999999,a\n")), "row 4: id '999999'"),
    (lambda run, tmp: ("--run", run, "--labels", written(tmp, "id,label\n3,a\n4,b\n3,b\n")), "rows 2 and 4: id '3'"),
    (lambda run, tmp: ("--run", run, "--labels", tmp / "missing.csv"), "cannot read the labels file"),
])
def test_teach_refuses_bad_input_in_one_line(digits_run, tmp_path, make, expected):
    folder, _ = digits_run
    done = core_cli("teach", "--out", tmp_path / "out", *make(folder, tmp_path))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert expected in done.stderr


def written(tmp, text):
    (tmp / "labels.csv").write_text(text)
    return tmp / "labels.csv"


def damaged(run, tmp):
    copy = tmp / "damaged"
    shutil.copytree(run, copy)
    (copy / "embedding.npz").write_bytes(b"not an npz")
    return copy


def test_labellers_fit_with_unlabelled_rows_and_predict_alike_in_batches(digits_run):
    folder, table = digits_run
    run = read_run(folder)
    truth = table["label"].astype(int).to_numpy()
    y = np.full(len(truth), UNLABELLED)
    taught = np.random.default_rng(1).choice(len(truth), 60, replace=False)
    y[taught] = truth[taught]
    features = {"latent": run.latent, "manifold": run.manifold, "cluster": run.table["cluster"].to_numpy(),
                "representation": run.pixel_manifold}  # digits store none: any (N, r) features stand in
    tested = []
    for entry in LABELLERS.values():
        if not all(name in features for name in entry.inputs):
            continue
        X = stack_inputs(entry, features)
        labeller = entry.make(seed=0).fit(X, y)
        assert list(labeller.classes_) == sorted(set(truth[taught]))
        assert labeller.label_distributions_.shape == (len(truth), len(labeller.classes_))
        np.testing.assert_allclose(labeller.label_distributions_.sum(axis=1), 1, atol=1e-6)
        assert np.mean(labeller.transduction_[y == UNLABELLED] == truth[y == UNLABELLED]) > 0.5, entry.name
        whole = labeller.predict_proba(X[:300])
        np.testing.assert_allclose(np.vstack([labeller.predict_proba(X[s:min(s + 70, 300)]) for s in range(0, 300, 70)]), whole,
                                   atol=1e-6, err_msg=entry.name)
        assert (labeller.predict(X[:300]) == labeller.classes_[whole.argmax(axis=1)]).all()
        tested.append(entry.name)
    assert CLUSTERS_AND_SPREADING in tested and len(tested) == len(LABELLERS) - 1  # the CNN: below
    with pytest.raises(ValueError, match="two distinct labels"):
        LABELLERS[SELF_TRAINED_CNN].factory(MethodSettings(seed=0, image_shape=(8, 8, 1))).fit(
            np.zeros((10, 64)), np.where(np.arange(10) < 3, 1, UNLABELLED))


def test_self_trained_labeller_learns_the_digits_from_their_pixels():
    from core.data.load import load_image_set

    digits = load_image_set("digits")
    pixels = digits.read(np.arange(600)).images.reshape(600, -1)
    truth = digits.labels[:600]
    y = np.full(600, UNLABELLED)
    y[:100] = truth[:100]
    labeller = LABELLERS[SELF_TRAINED_CNN].factory(MethodSettings(seed=0, image_shape=(8, 8, 1)))
    labeller.min_steps = 60
    labeller.fit(pixels, y)
    assert np.mean(labeller.transduction_[100:] == truth[100:]) > 0.5
    np.testing.assert_allclose(np.vstack([labeller.predict_proba(pixels[s:s + 250]) for s in range(0, 600, 250)]),
                               labeller.label_distributions_, atol=1e-5)
