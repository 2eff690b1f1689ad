"""Many users, restarts and damaged files: concurrent trainings without cross-talk, one training per
config, atomic and verified run artifacts that are recomputed when damaged, runs served from disk
after a restart, and identical results for the same config and seed."""

import dataclasses
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import settings
from core.data import load_image_set
from core.files import write_atomically
from core.run import RunConfig, run_pipeline
from core.run.store import RunStore, run_key
from tests.conftest import ROOT
from ui import cached


@pytest.fixture(scope="module")
def digits_file(tmp_path_factory) -> Path:
    """300 built-in digits as an npz: a data spec the worker process can load by itself."""
    digits = load_image_set("digits")
    path = tmp_path_factory.mktemp("data") / "digits300.npz"
    np.savez(path, x=digits.images[:300], y=digits.labels[:300])
    return path


@pytest.fixture(scope="module")
def digits_300(digits_file):
    return load_image_set(digits_file)


@pytest.fixture(scope="module")
def small_config(digits_file):
    """The seed preset for one epoch with the seed method, by seed: a few seconds on 300 digits."""
    return lambda seed: RunConfig(data=str(digits_file), preset="seed", epochs=1, seed=seed, method="seed")


def key_of(config: RunConfig, images) -> str:
    return run_key(config, images.fingerprint(), images.fingerprint())


def run_arrays(store: RunStore, key: str) -> dict:
    stored = store.read(key)
    return {"latent": stored.latent, "anomaly_score": stored.table["anomaly_score"].to_numpy(),
            "map": stored.table[["map_x", "map_y"]].to_numpy(), "cluster": stored.table["cluster"].to_numpy()}


def assert_same_arrays(first: dict, second: dict):
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory, digits_300, small_config):
    """(runs folder, key, arrays) of seed 0 trained alone, in this process, in a store of its own."""
    root = tmp_path_factory.mktemp("runs")
    store, config = RunStore(root), small_config(0)
    key = key_of(config, digits_300)
    assert store.train(key, config, digits_300, digits_300)
    return root, key, run_arrays(store, key)


# --- concurrency ------------------------------------------------------------------------------


def test_two_sessions_training_different_configs_at_once_get_their_own_results(tmp_path, digits_300, stored_run,
                                                                                small_config):
    """Both go to the worker process and take turns there; each gets what it would get alone (seed
    0 in the worker = seed 0 trained in this process)."""
    _, key_alone, alone = stored_run
    store = RunStore(tmp_path)
    configs = [small_config(0), small_config(1)]
    keys = [key_of(config, digits_300) for config in configs]
    assert keys[0] == key_alone and keys[0] != keys[1]
    barrier = threading.Barrier(2)

    def session(config, key):
        barrier.wait()
        store.start(key, config).wait(timeout=600)

    threads = [threading.Thread(target=session, args=pair) for pair in zip(configs, keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [store.job(key).progress.stage for key in keys] == ["done", "done"], [store.job(k).error for k in keys]
    assert store.trainings == 2
    together = [run_arrays(store, key) for key in keys]
    assert_same_arrays(together[0], alone)
    assert not np.array_equal(together[0]["latent"], together[1]["latent"])  # and they are different runs
    assert store.record(keys[1])["config"]["seed"] == 1


def test_two_sessions_asking_for_the_same_config_share_one_training(tmp_path, digits_300, small_config):
    store, config = RunStore(tmp_path), small_config(2)
    key = key_of(config, digits_300)
    barrier, jobs = threading.Barrier(3), []

    def start_session():
        barrier.wait()
        jobs.append(store.start(key, config))

    threads = [threading.Thread(target=start_session) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert jobs[0] is jobs[1] is jobs[2]
    assert jobs[0].wait(timeout=600).stage == "done", jobs[0].error
    assert store.trainings == 1 and store.has(key)
    assert not store.train(key, config, digits_300, digits_300)  # stored: nothing to train


# --- persistence ------------------------------------------------------------------------------


def test_a_restarted_store_serves_the_run_from_disk_without_training(stored_run, digits_300, small_config):
    root, key, arrays = stored_run
    restarted = RunStore(root)
    assert restarted.has(key)
    assert_same_arrays(run_arrays(restarted, key), arrays)
    assert not restarted.train(key, small_config(0), digits_300, digits_300)
    assert restarted.trainings == 0


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def drop_hashes(path):
    record = json.loads(path.read_text())
    record["sha256"] = {}
    path.write_text(json.dumps(record))


DAMAGE = [
    ("model.keras", truncate), ("embedding.npz", truncate), ("results.parquet", truncate), ("run.json", truncate),
    ("model.keras", flip_last_byte), ("comparison.parquet", flip_last_byte), ("metrics.json", lambda p: p.unlink()),
    ("run.json", drop_hashes), ("run.json", lambda p: p.write_text("{not json")),
]
RETRAIN = {0, 1, 2}  # the cases that also retrain (the others only check detection)


@pytest.mark.parametrize("case", range(len(DAMAGE)), ids=[f"{name}-{how.__name__}" for name, how in DAMAGE])
def test_a_damaged_artifact_is_detected_and_recomputed(case, stored_run, digits_300, small_config, tmp_path):
    root, key, arrays = stored_run
    shutil.copytree(root / key, tmp_path / key)
    name, damage = DAMAGE[case]
    damage(tmp_path / key / name)
    store = RunStore(tmp_path)
    assert not store.has(key)
    with pytest.raises(KeyError):
        store.read(key)
    if case in RETRAIN:
        assert store.train(key, small_config(0), digits_300, digits_300)
        assert store.trainings == 1 and store.has(key)
        assert_same_arrays(run_arrays(store, key), arrays)


def test_another_cluster_count_is_kept_with_its_run_and_read_back_after_a_restart(stored_run, digits_300,
                                                                                small_config, tmp_path, monkeypatch):
    """A cluster count other than the run's is clustered once and written to clusters/; a restarted
    store reads it back instead of clustering again."""
    import core.methods.clusterers

    root, key, _ = stored_run
    shutil.copytree(root / key, tmp_path / key)
    config = dataclasses.replace(small_config(0), clusters=4)
    first = RunStore(tmp_path).result(key, config, digits_300)
    assert (tmp_path / key / "clusters" / "k4.npz").is_file()
    assert first.table["cluster"].nunique() == 4 and 0 < first.metrics["clustering"]["accuracy"] <= 1
    assert {row["method"] for row in first.metrics["comparison"]["clustering"]} == set(core.methods.CLUSTERERS) - {
        core.methods.registry.KMEANS_ON_EMBEDDINGS}

    def no_clustering(*args, **kwargs):
        raise AssertionError("a stored clustering was computed again")

    monkeypatch.setattr(core.methods.clusterers.KMeansClusterer, "fit", no_clustering)
    monkeypatch.setattr(core.methods.clusterers.MixtureClusterer, "fit", no_clustering)
    again = RunStore(tmp_path).result(key, config, digits_300)
    pd.testing.assert_frame_equal(again.table, first.table)
    assert again.metrics["clustering"] == first.metrics["clustering"]
    assert again.metrics["comparison"] == first.metrics["comparison"]


def wrong_shape(path):
    np.savez(path, clusters=np.zeros(5, dtype=np.int64), names=np.array(["x"]), compared=np.zeros((5, 1)))


@pytest.mark.parametrize("damage", [truncate, wrong_shape, lambda p: p.write_text("junk")],
                         ids=["truncated", "wrong-shape", "junk"])
def test_a_damaged_clustering_file_is_computed_and_written_again(damage, stored_run, digits_300, small_config,
                                                                 tmp_path):
    root, key, _ = stored_run
    shutil.copytree(root / key, tmp_path / key)
    config = dataclasses.replace(small_config(0), clusters=5)
    expected = RunStore(tmp_path).result(key, config, digits_300)
    path = tmp_path / key / "clusters" / "k5.npz"
    damage(path)
    got = RunStore(tmp_path).result(key, config, digits_300)
    pd.testing.assert_frame_equal(got.table, expected.table)
    with np.load(path) as arrays:  # readable again
        np.testing.assert_array_equal(arrays["clusters"], expected.table["cluster"])


def test_a_run_damaged_after_its_job_finished_trains_again_in_the_same_process(tmp_path, stored_run, digits_300,
                                                                              small_config):
    _, key, arrays = stored_run
    store, config = RunStore(tmp_path), small_config(0)
    first = store.start(key, config)
    assert first.wait(timeout=600).stage == "done", first.error
    assert store.start(key, config) is first  # stored: no new job
    truncate(tmp_path / key / "embedding.npz")
    second = store.start(key, config)
    assert second is not first
    assert second.wait(timeout=600).stage == "done", second.error
    assert store.trainings == 2 and store.has(key)
    assert_same_arrays(run_arrays(store, key), arrays)


def test_a_failed_run_reports_one_line_and_the_worker_goes_on(tmp_path, digits_300, small_config):
    store = RunStore(tmp_path)
    missing = dataclasses.replace(small_config(0), data=str(tmp_path / "gone.npz"))
    failed = store.start("0" * 16, missing)
    assert failed.wait(timeout=600).stage == "failed"
    assert failed.error.startswith("no such dataset or file") and "\n" not in failed.error
    ok = store.start(key_of(small_config(3), digits_300), small_config(3))
    assert ok.wait(timeout=600).stage == "done", ok.error


def test_an_interrupted_save_leaves_no_run_and_no_temporary_files(tmp_path, digits_300, small_config, monkeypatch):
    import core.run.folder

    def fail(path, arrays):
        with open(path, "wb") as file:
            file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(core.run.folder, "write_npz", fail)
    store, config = RunStore(tmp_path), small_config(0)
    key = key_of(config, digits_300)
    with pytest.raises(OSError, match="disk full"):
        store.train(key, config, digits_300, digits_300)
    assert not store.has(key)
    names = sorted(p.name for p in (tmp_path / key).iterdir())
    assert "run.json" not in names and not [name for name in names if name.startswith(".")], names


def test_write_atomically_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "results.csv"
    target.write_text("old")

    def half_write(path):
        with open(path, "w") as file:
            file.write("ne")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_atomically(target, half_write)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]
    write_atomically(target, lambda path: Path(path).write_text("new"))
    assert target.read_text() == "new"


def test_a_restarted_app_serves_an_earlier_run_from_disk_without_training(tmp_path, monkeypatch):
    """A run stored by an earlier process (here: a RunStore) is what a fresh app shows, untrained."""
    digits = load_image_set("digits")
    config = RunConfig(data="digits", preset="seed", epochs=1, batch_size=32, seed=0, method="seed")
    key = key_of(config, digits)
    assert RunStore(tmp_path).train(key, config, digits, digits)

    monkeypatch.setenv(settings.RUNS_DIR, str(tmp_path))
    st.cache_resource.clear()  # a new process: no store, data or model in memory
    st.cache_data.clear()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    app.selectbox(key="preset").set_value("seed").run()
    app.number_input(key="epochs-seed").set_value(1).run()
    app.switch_page("views/anomalies.py").run()
    assert not app.exception, app.exception
    assert not app.error and not app.info, [e.value for e in [*app.error, *app.info]]
    assert len(app.get("plotly_chart")) >= 2
    next(button for button in app.button if button.label == "Run").click().run()
    assert not app.exception, app.exception
    assert cached.store().trainings == 0 and cached.store().job(key) is None


# --- determinism ------------------------------------------------------------------------------


def test_the_same_config_and_seed_give_identical_clusters_and_anomaly_ranking():
    """The default pipeline (dense autoencoder, UMAP manifold, Gaussian mixture, kNN + reconstruction
    score) twice in one process."""
    images = load_image_set("digits").subset(np.arange(500))
    config = RunConfig(data="digits", preset="default", epochs=2, seed=3)
    first, second = (run_pipeline(config, images, images) for _ in range(2))
    np.testing.assert_array_equal(first.table["cluster"], second.table["cluster"])
    np.testing.assert_array_equal(np.argsort(first.table["anomaly_score"], kind="stable"),
                                  np.argsort(second.table["anomaly_score"], kind="stable"))
    np.testing.assert_array_equal(first.latent, second.latent)
    assert first.table["cluster"].nunique() > 1


def test_identical_images_train_and_land_in_one_cluster():
    """Degenerate data: no crash, finite scores, one cluster (the README's stated outcome)."""
    digits = load_image_set("digits")
    same = digits.subset(np.zeros(20, dtype=int))
    result = run_pipeline(RunConfig(data="same", preset="seed", epochs=1, clusters=3, method="seed"), same, same)
    assert result.table["cluster"].nunique() == 1
    assert np.isfinite(result.table[["anomaly_score", "reconstruction_error", "map_x", "map_y"]].to_numpy()).all()


def test_two_app_sessions_pressing_run_for_the_same_settings_at_once_train_once(tmp_path, monkeypatch):
    """Two browser sessions (two AppTest instances, each in its own thread) press Run together."""
    monkeypatch.setenv(settings.RUNS_DIR, str(tmp_path))
    sessions = []
    for _ in range(2):  # both choose the same settings on the built-in digits
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        app.selectbox(key="preset").set_value("seed").run()
        app.number_input(key="epochs-seed").set_value(1).run()
        app.number_input(key="seed").set_value(7).run()
        sessions.append(app)
    barrier, failures = threading.Barrier(2), []

    def press_run(app):
        barrier.wait()
        try:
            next(button for button in app.button if button.label == "Run").click().run()
        except Exception as error:  # reported below: a thread's exception would otherwise be lost
            failures.append(error)

    threads = [threading.Thread(target=press_run, args=(app,)) for app in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    store = cached.store()
    jobs = list(store._jobs.values())
    assert len(jobs) == 1
    assert jobs[0].wait(timeout=600).stage == "done", jobs[0].progress.error
    for app in sessions:
        app.switch_page("views/anomalies.py").run()
        assert not app.exception, app.exception
        assert not app.error and len(app.get("plotly_chart")) >= 2, [m.value for m in [*app.info, *app.error]]
    assert store.trainings == 1
