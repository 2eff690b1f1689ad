"""The dashboard under Streamlit's AppTest: every page on digits after a short training, bad
uploads, and no retraining when only the view changes."""

import os
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from core import settings
from tests.conftest import ROOT
from ui import cached

APP = str(ROOT / "app.py")
VIEWS = ["views/data.py", "views/training.py", "views/latent_map.py", "views/clusters.py", "views/anomalies.py",
         "views/labels.py", "views/export.py"]


def test_the_default_preset_leaves_epochs_and_batch_size_to_the_data():
    app = new_app().run()
    assert app.number_input(key="epochs-default").value is None  # automatic: at least 600 steps on digits
    assert app.number_input(key="batch-default").value is None


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=120)


def run_until_trained(app: AppTest) -> AppTest:
    """Press Run with 3 epochs and wait for the background training to finish."""
    app.number_input(key="epochs-default").set_value(3).run()
    app.button[0].click().run()
    assert not app.exception
    jobs = list(cached.store()._jobs.values())
    assert jobs, "pressing Run started no training"
    for job in jobs:
        job.wait(timeout=600)
        assert job.progress.stage == "done", job.progress.error
    return app.run()


@pytest.fixture(scope="module")
def trained_app(tmp_path_factory):
    """An app session with one finished run on digits, in a private runs folder."""
    runs = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(settings.RUNS_DIR, str(runs))
        app = run_until_trained(new_app().run())
        yield app


FIRST_IMPORTS = """
import sys, threading
class FirstImports:  # records the thread that first imports each of the slow packages
    seen = {}
    def find_spec(self, name, path=None, target=None):
        importing = sys._getframe(2).f_code.co_name == "_find_and_load_unlocked"  # not importlib.util.find_spec
        if importing and name in ("tensorflow", "keras", "sklearn", "umap"):
            self.seen.setdefault(name, threading.current_thread().name)
        return None
sys.meta_path.insert(0, FirstImports())
"""


def test_first_paint_shows_the_builtin_data_and_the_worker_process_starts_only_afterwards():
    """The first page is drawn without TensorFlow, Keras, scikit-learn or UMAP (each takes seconds to
    import). Once it is drawn, with no stored run for the settings, the worker process that will
    train starts and does those imports there, so that the first Run does not wait for them; the
    server process itself never imports them."""
    code = (FIRST_IMPORTS + "from streamlit.testing.v1 import AppTest\n"
            "from core.run import warmup\n"
            "from core.run.jobs import QUEUE\n"
            f"app = AppTest.from_file({APP!r}, default_timeout=60).run()\n"
            "assert not app.exception, app.exception\n"
            "print([m.value for m in app.metric])\n"
            "print(sorted(FirstImports.seen.items()))\n"
            "QUEUE.warm_up().result(timeout=300)  # answered once the worker's imports are done\n"
            "print(sorted(FirstImports.seen.items()))\n"
            "print(warmup.started(), QUEUE._process is not None and QUEUE._process.poll() is None)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics, imported, after_warm_up, worker = done.stdout.strip().splitlines()[-4:]
    assert "'1,797'" in metrics and "'8 × 8'" in metrics
    assert imported == after_warm_up == "[]"  # nothing slow, in any thread of the server
    assert worker == "True True"  # the worker process was started after the first paint


def test_a_restarted_app_shows_a_stored_run_without_tensorflow_or_scikit_learn(trained_app):
    """A fresh process opening a link to a stored run draws its map, clusters and scores from disk;
    the model (and TensorFlow with it) is loaded only by pages that decode images, and scikit-learn
    only to cluster at a cluster count not clustered before."""
    code = ("import sys; from streamlit.testing.v1 import AppTest; "
            f"app = AppTest.from_file({APP!r}, default_timeout=60); "
            "app.query_params.update(data='digits', epochs='3', page='latent_map'); app.run(); "
            "assert not app.exception, app.exception; "
            "print(len(app.get('plotly_chart')), [i.value for i in app.info]); "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180,
                          env={**os.environ, settings.RUNS_DIR: os.environ[settings.RUNS_DIR]})
    assert done.returncode == 0, done.stderr[-2000:]
    shown, imported = done.stdout.strip().splitlines()[-2:]
    charts, infos = shown.split(" ", 1)
    assert int(charts) >= 1 and "No results" not in infos
    assert imported == "False False False"


def test_every_page_shows_real_content_after_a_run(trained_app):
    expectations = {  # page -> (least plotly charts, least images)
        "views/data.py": (1, 12),
        "views/training.py": (1, 20),
        "views/latent_map.py": (1, 0),
        "views/clusters.py": (3, 20),
        "views/anomalies.py": (2, 10),
        "views/labels.py": (1, 10),
        "views/export.py": (0, 0),
    }
    for view, (charts, images) in expectations.items():
        trained_app.switch_page(view).run()
        assert not trained_app.exception, f"{view}: {trained_app.exception}"
        assert not trained_app.error, f"{view}: {[e.value for e in trained_app.error]}"
        assert len(trained_app.get("plotly_chart")) >= charts, view
        assert len(trained_app.get("image")) >= images, view
    clusters = trained_app.switch_page("views/clusters.py").run()
    accuracy = float(clusters.metric[0].value)
    assert 0.3 < accuracy <= 1.0  # digits, a briefly trained model, k = 10
    assert len(trained_app.switch_page("views/export.py").run().get("download_button")) == 3


def test_switching_pages_and_view_controls_never_retrain(trained_app):
    store = cached.store()
    trainings = store.trainings
    assert trainings == 1
    for view in VIEWS:
        trained_app.switch_page(view).run()
    trained_app.switch_page("views/latent_map.py").run()
    trained_app.radio(key="map_colour").set_value("anomaly_score").run()
    trained_app.switch_page("views/anomalies.py").run()
    trained_app.selectbox(key="rank_by").set_value("reconstruction error (squared)").run()
    trained_app.number_input(key="clusters").set_value(6).run()  # re-clusters, no retraining
    trained_app.switch_page("views/clusters.py").run()
    assert not trained_app.exception
    assert store.trainings == trainings


def test_a_bad_upload_gives_one_error_and_the_app_keeps_working(trained_app):
    store = cached.store()
    trainings = store.trainings
    trained_app.switch_page("views/data.py").run()
    trained_app.selectbox(key="source").set_value("Upload .npz or .zip").run()
    trained_app.file_uploader(key="upload").upload("broken.npz", b"PK\x03\x04 not really an npz",
                                                   "application/octet-stream").run()
    assert not trained_app.exception
    assert len(trained_app.error) == 1 and "not a readable .npz" in trained_app.error[0].value  # said once
    run = next(button for button in trained_app.button if button.label == "Run")
    assert run.disabled  # nothing to run until the data is fixed
    assert store.trainings == trainings
    trained_app.switch_page("views/clusters.py").run()  # the earlier run's pages stay, under the one line
    assert not trained_app.exception and len(trained_app.error) == 1
    assert len(trained_app.get("plotly_chart")) >= 3 and "earlier data" in trained_app.error[0].value

    trained_app.selectbox(key="source").set_value("Built-in digits (offline)").run()
    trained_app.number_input(key="clusters").set_value(10).run()
    trained_app.switch_page("views/clusters.py").run()
    assert not trained_app.exception and not trained_app.error
    assert len(trained_app.get("plotly_chart")) >= 3  # the earlier run is still there
