"""The staged pipeline: fit on a sample, apply to the rest in chunks, compare; and portable models."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.data import ImageSet, concatenate, load_image_set
from core.methods import CLUSTERERS, SCORERS
from core.methods.registry import KMEANS_ON_EMBEDDINGS
from core.run import RunConfig, run_pipeline, stages
from core.run import folder as run_folder


@pytest.fixture(scope="module")
def digits():
    return load_image_set("digits")


def test_applying_in_chunks_gives_the_results_of_one_batch_and_keeps_the_fit_sample(digits, monkeypatch):
    """Fit on 600 of the 1,797 digits, apply to the other 1,197: in one chunk or in chunks of 250
    positions, every image gets the same results; the 600 keep what the fit gave them."""
    config = RunConfig(data="digits", epochs=20, fit_sample=600)
    one_batch = run_pipeline(config, digits, digits)
    monkeypatch.setattr(stages, "CHUNK_SIZE", 250)
    chunked = run_pipeline(config, digits, digits)

    assert len(one_batch.table) == 1797 and len(one_batch.sample) == 600
    assert one_batch.metrics["data"]["fit_sample"] == 600 and "apply" in one_batch.metrics["seconds"]
    columns = ["cluster", "anomaly_score", "reconstruction_error", "map_x", "map_y"]
    pd.testing.assert_frame_equal(chunked.table[columns], one_batch.table[columns], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(chunked.latent, one_batch.latent, rtol=1e-5, atol=1e-5)
    # the images outside the sample are clustered and placed like their neighbours in the sample
    outside = np.setdiff1d(np.arange(1797), one_batch.sample)
    assert set(one_batch.table["cluster"][outside]) == set(range(10))
    accuracy = one_batch.metrics["clustering"]["accuracy"]
    assert accuracy > 0.6, accuracy  # chance is about 0.1


def test_the_comparison_is_judged_by_labels_and_flags_only_where_the_data_has_them(digits):
    fashion = load_image_set(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                          "fashion_mnist_ood.npz")).subset(np.arange(12))
    import PIL.Image

    small = np.stack([np.asarray(PIL.Image.fromarray(image[..., 0]).resize((8, 8), PIL.Image.Resampling.BOX))
                      for image in fashion.images])[..., None].astype(np.float32)
    outliers = ImageSet(small, None, np.char.add("fashion-", fashion.ids), "fashion",
                        anomaly_flags=np.ones(12, dtype=bool))
    unlabelled = ImageSet(digits.images[:588], None, digits.ids[:588], "digits")
    flagged = concatenate(unlabelled, outliers, name="digits + fashion")
    config = RunConfig(data="x", preset="seed", epochs=1, method="seed")

    with_flags = run_pipeline(config, flagged, flagged)
    assert set(with_flags.metrics["comparison"]) == {"anomaly"}
    rows = with_flags.metrics["comparison"]["anomaly"]
    assert [row["method"] for row in rows][:0] == [] and {row["method"] for row in rows} == set(SCORERS)
    assert [row["auroc"] for row in rows] == sorted((row["auroc"] for row in rows), reverse=True)
    assert list(with_flags.comparison.columns) == (["index"] + [f"cluster: {n}" for n in CLUSTERERS if n != KMEANS_ON_EMBEDDINGS]
                                                   + [f"score: {n}" for n in SCORERS])

    plain = run_pipeline(config, unlabelled, unlabelled)
    assert "comparison" not in plain.metrics  # neither labels nor flags: the key is absent, not empty
    assert len(plain.comparison) == 588  # the side-by-side scores are there for the pages all the same


@pytest.mark.parametrize("preset", ["default", "seed"])
def test_a_saved_model_loads_with_plain_keras_where_the_project_is_not_installed(preset, digits, tmp_path):
    from core.model import Autoencoder

    model = Autoencoder(preset=preset, epochs=1).fit(digits.images[:200])
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "images.npy", model.prepare(digits.images[:5]))  # as the network sees them
    code = ("import keras, numpy as np; model = keras.saving.load_model('model.keras'); "
            "print(model.name, float(np.abs(model.predict(np.load('images.npy'), verbose=0)).sum()))")
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=environment)
    assert done.returncode == 0, done.stderr[-2000:]
    name, total = done.stdout.split()[-2:]
    assert name.partition("__")[0] == f"autoencoder_{preset}"  # then how the images are prepared, if at all
    assert float(total) == pytest.approx(float(np.abs(model.reconstruct(digits.images[:5])).sum()), rel=1e-4)


def test_a_run_folder_holds_every_artifact_and_reads_back(digits, tmp_path):
    result = run_pipeline(RunConfig(data="digits", preset="seed", epochs=1, method="seed"), digits, digits)
    folder = run_folder.save_run(result, tmp_path / "run", key="k")
    record = run_folder.read_record(folder, "k")
    assert record is not None and set(record["sha256"]) == set(run_folder.ARTIFACTS)
    again = run_folder.read_run(folder)
    pd.testing.assert_frame_equal(again.table, result.table)
    np.testing.assert_array_equal(again.latent, result.latent)
    assert json.loads((folder / "metrics.json").read_text())["model"]["clusterer"] == "KMeans on latent"
    (folder / "results.parquet").write_bytes(b"changed")
    assert run_folder.read_record(folder, "k") is None  # an altered artifact: no run
