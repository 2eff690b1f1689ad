"""Stored runs as a user manages them: listed with their data and size, deleted (never while they
train), a command-line run opened in the app, and uploads kept under their own names."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import settings
from core.data import load_image_set
from core.errors import UserInputError
from core.run import RunConfig, uploads
from core.run.store import RunStore, run_key
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def digits_file(tmp_path_factory):
    digits = load_image_set("digits")
    path = tmp_path_factory.mktemp("data") / "some digits.npz"
    np.savez(path, x=digits.images[:300], y=digits.labels[:300])
    return path


def config_for(path, seed=0) -> RunConfig:
    return RunConfig(data=str(path), preset="seed", epochs=1, seed=seed, method="seed")


def test_runs_are_listed_with_their_data_size_and_date_and_deleted_only_when_idle(tmp_path, digits_file):
    store, data = RunStore(tmp_path), load_image_set(digits_file)
    keys = []
    for seed in (0, 1):
        key = run_key(config_for(digits_file, seed), data.fingerprint(), data.fingerprint())
        assert store.train(key, config_for(digits_file, seed), data, data)
        keys.append(key)
    runs = store.runs()
    assert [run["key"] for run in runs] == keys[::-1]  # newest first
    assert runs[0]["data"]["analysed"] == "some digits.npz" and runs[0]["bytes"] > 10_000
    assert runs[0]["created"] >= runs[1]["created"]

    job = store.start(run_key(config_for(digits_file, 2), data.fingerprint(), data.fingerprint()),
                      config_for(digits_file, 2))
    with pytest.raises(UserInputError, match="still training"):
        store.delete(job.key)
    assert job.wait(timeout=600).stage == "done", job.error
    store.delete(keys[0])
    assert not store.folder(keys[0]).exists() and [run["key"] for run in store.runs()] == [job.key, keys[1]]
    with pytest.raises(UserInputError):
        store.delete("../elsewhere")


def test_a_command_line_run_opens_in_the_store(tmp_path, digits_file):
    done = subprocess.run([sys.executable, "-m", "core", "run", "--data", str(digits_file), "--preset", "seed",
                           "--epochs", "1", "--out", str(tmp_path / "cli run"), "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    config = RunConfig(data=str(digits_file), preset="seed", epochs=1)
    data = load_image_set(digits_file)
    key = run_key(config, data.fingerprint(), data.fingerprint())
    store = RunStore(tmp_path / "runs")
    store.adopt(tmp_path / "cli run", key)
    assert store.has(key)
    stored = store.read(key)
    assert len(stored.table) == 300 and stored.config.data == str(digits_file.resolve())
    with pytest.raises(UserInputError, match="no complete run"):
        store.adopt(tmp_path, "0" * 16)


def test_uploads_keep_their_names_and_old_unused_ones_are_removed(tmp_path):
    kept = uploads.save(tmp_path, "my photos.zip", b"zip bytes")
    assert kept.name == "my photos.zip" and uploads.find(tmp_path, uploads.key_of(kept)) == kept
    assert uploads.save(tmp_path, "../../evil\\name?.npz", b"other").name == "name_.npz"  # no folders
    old = uploads.save(tmp_path, "old.npz", b"old bytes")
    used = uploads.save(tmp_path, "used.npz", b"used bytes")
    week_ago = time.time() - 8 * 86400
    for path in (old, used):
        os.utime(path.parent, (week_ago, week_ago))
    removed = uploads.remove_unused(tmp_path, used={uploads.key_of(used)})
    assert removed == [uploads.key_of(old)]
    assert not old.exists() and used.exists() and kept.exists()  # kept: newer than 7 days


def test_the_runs_page_lists_runs_and_deletes_nothing_in_public_mode(tmp_path, monkeypatch, digits_file):
    monkeypatch.setenv(settings.RUNS_DIR, str(tmp_path))
    data = load_image_set(digits_file)
    RunStore(tmp_path).train(run_key(config_for(digits_file), data.fingerprint(), data.fingerprint()),
                             config_for(digits_file), data, data)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    app.switch_page("views/runs.py").run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    assert table["data"].tolist() == ["some digits.npz"] and table["images"].tolist() == [300]
    assert any(input_.label.startswith("Its folder") for input_ in app.text_input)  # open a CLI run

    monkeypatch.setenv("LATENT_EXPLORER_PUBLIC", "1")
    public = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    public.switch_page("views/runs.py").run()
    assert not public.exception and len(public.dataframe) == 1
    assert not any(input_.label.startswith("Its folder") for input_ in public.text_input)
