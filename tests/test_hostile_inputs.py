"""Hostile inputs (tests/hostile.py) through the core loaders, the dashboard's upload path and the
command line: each gives one clear message naming the problem, or loads with a stated graceful
outcome; the app never shows a traceback and keeps its earlier run."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import settings
from core.data import load_image_set, load_train_and_analysis_sets, load_zip
from core.errors import UserInputError
from core.model import Autoencoder
from core.run import RunConfig
from tests import hostile
from tests.conftest import ROOT
from tests.hostile import CORPUS, MARKER, Case
from tests.test_cli import run_cli
from ui import cached

UPLOAD = "Upload .npz or .zip"
DIGITS = "Built-in digits (offline)"


def write_case(case: Case, folder):
    path = folder / case.filename
    path.write_bytes(case.make(folder))
    return path


def test_the_corpus_is_large_and_generated():
    assert len(CORPUS) >= 40
    assert len({case.id for case in CORPUS}) == len(CORPUS)
    assert sum(case.error is not None for case in CORPUS) >= 30


# --- core loaders -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.id)
def test_core_loader_refuses_clearly_or_converts(case, tmp_path):
    path = write_case(case, tmp_path)
    if case.error:
        with pytest.raises(UserInputError) as caught:
            load_train_and_analysis_sets(path)
        message = str(caught.value)
        assert case.error in message
        assert case.filename in message and "\n" not in message  # one line, naming the file
    else:
        _, analysed = load_train_and_analysis_sets(path)
        case.check(analysed)
    assert not (tmp_path / MARKER).exists(), "a pickled object was unpickled"


def test_the_unpickling_marker_would_catch_an_unpickled_file(tmp_path):
    """Control for the pickle cases: loading with allow_pickle=True does run the payload."""
    path = write_case(next(c for c in CORPUS if c.id == "npz-pickled-object-array"), tmp_path)
    with np.load(path, allow_pickle=True) as arrays:
        arrays["x"]
    assert (tmp_path / MARKER).exists()


def test_zip_limit_is_on_decompressed_bytes(tmp_path):
    path = tmp_path / "ok.zip"
    path.write_bytes(hostile.zip_bytes(hostile.GOOD))
    assert len(load_image_set(path)) == hostile.N
    with pytest.raises(UserInputError, match="decompresses to"):
        load_zip(path, max_bytes=1000)


# --- absurd settings ----------------------------------------------------------------------------

SETTINGS = [
    ("k-zero", {"clusters": 0}, "number of clusters"),
    ("k-negative", {"clusters": -3}, "number of clusters"),
    ("k-fractional", {"clusters": 2.5}, "number of clusters"),
    ("k-above-limit", {"clusters": 101}, "from 1 to 100"),
    ("k-above-n-images", {"clusters": 20}, "cannot make 20 clusters from 12 images"),
    ("epochs-zero", {"epochs": 0}, "epochs must be"),
    ("epochs-10000", {"epochs": 10_000}, "epochs must be"),
    ("epochs-negative", {"epochs": -1}, "epochs must be"),
    ("batch-zero", {"batch_size": 0}, "batch size"),
    ("batch-negative", {"batch_size": -5}, "batch size"),
    ("contamination-too-high", {"contamination": 0.7}, "contamination"),
    ("contamination-zero", {"contamination": 0.0}, "contamination"),
    ("unknown-preset", {"preset": "huge"}, "unknown preset"),
    ("unknown-method", {"method": "magic"}, "unknown method"),
]


@pytest.mark.parametrize("change, message", [s[1:] for s in SETTINGS], ids=[s[0] for s in SETTINGS])
def test_absurd_settings_are_refused_before_training(change, message):
    with pytest.raises(UserInputError, match=message):
        RunConfig(data="x", **change).check(n_analysed=12, n_train=12)


def test_a_batch_larger_than_the_data_is_capped():
    model = Autoencoder(preset="seed", epochs=1, batch_size=10**6)
    RunConfig(data="x", preset="seed", epochs=1, batch_size=10**6).check(n_analysed=12, n_train=12)
    plan = model.plan(12)
    assert (plan.epochs, plan.batch_size, plan.n_validation) == (1, 11, 1)  # capped at the 11 training images


# --- a .keras model with a Lambda layer -------------------------------------------------------


def test_a_keras_model_with_a_lambda_layer_is_refused_and_never_runs(tmp_path):
    import keras

    path = hostile.lambda_model(tmp_path)
    with pytest.raises(UserInputError, match="load safely"):
        Autoencoder.load(path)
    assert not (tmp_path / MARKER).exists(), "the Lambda layer's code ran"
    # control: without safe_mode the same file does run its code, so the marker would show it
    keras.models.load_model(path, compile=False, safe_mode=False)
    assert (tmp_path / MARKER).exists()


# --- the command line -------------------------------------------------------------------------

CLI_CASES = ["zip-slip-dotdot", "zip-bomb", "npz-pickled-object-array", "npz-forged-huge-header"]


@pytest.mark.parametrize("case_id", CLI_CASES)
def test_cli_refuses_hostile_files_with_one_line(case_id, tmp_path):
    case = next(c for c in CORPUS if c.id == case_id)
    done = run_cli("--data", write_case(case, tmp_path), "--out", tmp_path / "out", timeout=300)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and case.error in lines[0], done.stderr
    assert not (tmp_path / MARKER).exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--clusters", "0"], "number of clusters"),
    (["--epochs", "10000"], "epochs must be"),
])
def test_cli_refuses_absurd_settings_with_one_line(args, message, tmp_path):
    done = run_cli("--data", "digits", *args, "--out", tmp_path / "out", timeout=300)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], done.stderr


# --- the dashboard's upload path ------------------------------------------------------------

APP_CASES = [case for case in CORPUS if case.filename.endswith((".npz", ".zip"))]  # what the uploader takes


def run_button(app: AppTest):
    return next(button for button in app.button if button.label == "Run")


@pytest.fixture(scope="module")
def trained_app(tmp_path_factory):
    """An app session with one finished run on digits (seed preset, 1 epoch) in a private runs folder."""
    runs = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(settings.RUNS_DIR, str(runs))
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        app.selectbox(key="preset").set_value("seed").run()
        app.number_input(key="epochs-seed").set_value(1).run()
        run_button(app).click().run()
        assert not app.exception, app.exception
        for job in list(cached.store()._jobs.values()):
            assert job.wait(timeout=600).stage == "done", job.progress.error
        app.switch_page("views/anomalies.py").run()
        assert not app.exception and not app.error
        yield app


def assert_earlier_run_still_served(app: AppTest, trainings: int):
    """Back on the built-in digits, the stored run's pages show results without retraining."""
    app.selectbox(key="source").set_value(DIGITS).run()
    app.switch_page("views/anomalies.py").run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert len(app.get("plotly_chart")) >= 2
    assert cached.store().trainings == trainings
    app.switch_page("views/data.py").run()


@pytest.mark.parametrize("case", APP_CASES, ids=lambda case: case.id)
def test_app_upload_gives_one_error_or_loads_and_keeps_the_earlier_run(case, trained_app, tmp_path):
    app, trainings = trained_app, cached.store().trainings
    app.switch_page("views/data.py").run()
    app.selectbox(key="source").set_value(UPLOAD).run()
    data = case.make(tmp_path)
    app.file_uploader(key="upload").upload(case.filename, data, "application/octet-stream").run()
    assert not app.exception, app.exception
    if case.error:
        assert len(app.error) == 1, [e.value for e in app.error]
        assert case.error in app.error[0].value
        assert run_button(app).disabled  # nothing to run until the data is fixed
    else:
        assert not app.error, [e.value for e in app.error]
        (tmp_path / "copy").mkdir()
        expected = len(load_image_set(write_case(case, tmp_path / "copy")))
        assert any(m.label == "Images analysed" and m.value == f"{expected:,}" for m in app.metric)
    assert not (tmp_path / MARKER).exists()
    assert_earlier_run_still_served(app, trainings)


@pytest.mark.parametrize("name, message", [("model.zip", "contains no images"), ("model.npz", "no images")])
def test_app_upload_of_a_lambda_model_is_refused(name, message, trained_app, tmp_path):
    app, trainings = trained_app, cached.store().trainings
    data = hostile.lambda_model(tmp_path).read_bytes()
    app.selectbox(key="source").set_value(UPLOAD).run()
    app.file_uploader(key="upload").upload(name, data, "application/octet-stream").run()
    assert not app.exception, app.exception
    assert len(app.error) == 1 and message in app.error[0].value
    assert not (tmp_path / MARKER).exists()
    assert_earlier_run_still_served(app, trainings)


def test_app_too_many_clusters_for_an_upload_is_one_error(trained_app, tmp_path):
    app, trainings = trained_app, cached.store().trainings
    app.selectbox(key="source").set_value(UPLOAD).run()
    app.file_uploader(key="upload").upload("twelve.npz", hostile.npz_bytes(x=hostile.digits_uint8(12)),
                                           "application/octet-stream").run()
    app.number_input(key="clusters").set_value(20).run()
    assert not app.exception and not app.error
    run_button(app).click().run()
    assert not app.exception, app.exception
    assert len(app.error) == 1 and "cannot make 20 clusters from 12 images" in app.error[0].value
    app.number_input(key="clusters").set_value(10).run()
    assert_earlier_run_still_served(app, trainings)


@pytest.mark.parametrize("key, value", [
    ("clusters", 0), ("clusters", -5), ("clusters", 10_000), ("epochs-seed", 0), ("epochs-seed", 10_000),
    ("batch-seed", 0), ("batch-seed", 10**9),
])
def test_app_settings_widgets_keep_absurd_values_out(key, value, trained_app):
    """The sidebar's number inputs hold their bounds: an absurd value is replaced by an allowed one
    (Streamlit's own check), so it never reaches a run; the page shows no error and no traceback."""
    app = trained_app
    previous = app.number_input(key=key).value
    app.number_input(key=key).set_value(value).run()
    assert not app.exception, app.exception
    widget = app.number_input(key=key)
    assert widget.value != value and widget.min <= widget.value <= widget.max
    assert not app.error, [e.value for e in app.error]
    app.number_input(key=key).set_value(previous).run()
    assert app.number_input(key=key).value == previous
