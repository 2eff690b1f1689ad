"""Labels without a browser: the label book (core/labels.py), the link encoding (ui/link.py), and
the Labels page and shared links under AppTest on a short digits run."""

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import labels, settings
from core.errors import UserInputError
from core.labels import ANOMALY, LabelBook
from core.run import RunConfig
from tests.conftest import ROOT
from ui import cached, link

CLUSTERS = np.array([0, 0, 0, 1, 1, 2, 2, 2])
IDS = np.array([f"img{i}.png" for i in range(8)])


def named_book() -> LabelBook:
    book = LabelBook.empty(IDS)
    book.name_cluster(CLUSTERS, 0, "cat")
    book.name_cluster(CLUSTERS, 1, "dog")
    return book


def test_naming_a_cluster_labels_its_images_but_never_overwrites_a_manual_label():
    book = named_book()
    assert list(book.labels) == ["cat"] * 3 + ["dog"] * 2 + [""] * 3
    assert set(book.sources[:5]) == {"cluster"}
    book.assign([1], "dog")
    assert book.name_cluster(CLUSTERS, 0, "kitten") == 2
    assert list(book.labels[:3]) == ["kitten", "dog", "kitten"]
    assert list(book.sources[:3]) == ["cluster", "manual", "cluster"]
    assert book.cluster_names(CLUSTERS, 3) == ["kitten", "dog", ""]
    book.name_cluster(CLUSTERS, 0, "  ")  # an empty name removes the cluster's labels, not manual ones
    assert list(book.labels[:3]) == ["", "dog", ""] and list(book.sources[:3]) == ["", "manual", ""]


def test_anomaly_marks_confirmation_and_progress():
    book = named_book()
    book.mark_anomaly([0, 5])
    assert book.labels[0] == ANOMALY and book.sources[5] == "manual"
    book.mark_not_anomaly([0, 5], CLUSTERS, 3)  # back to the cluster's name, confirmed; cluster 2 has none
    assert (book.labels[0], book.sources[0]) == ("cat", "manual")
    assert (book.labels[5], book.sources[5]) == ("", "")
    book.confirm([3, 6])  # 6 has no label: nothing to confirm
    assert book.progress() == {"images": 8, "labelled": 5, "confirmed": 2, "anomalies": 0, "duplicates": 0,
                               "names": 2}
    with pytest.raises(UserInputError):
        book.assign([8], "x")


def test_labels_csv_has_the_promised_columns_and_round_trips(tmp_path):
    book = named_book()
    book.assign([7], "=bird")  # no spreadsheet formulas in the file
    frame = pd.read_csv(labels.save(book, tmp_path), dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["index", "id", "label", "source"]
    assert frame.iloc[-1].tolist() == ["7", "img7.png", "bird", "manual"]
    assert set(frame["source"]) == {"cluster", "manual"}
    again = labels.load(tmp_path, IDS)
    assert list(again.labels) == list(book.labels) and list(again.sources) == list(book.sources)
    assert not list(tmp_path.glob(".labels-*"))  # the atomic write left no temporary file


@pytest.mark.parametrize("text, message", [
    ("index,label\n0,cat\n", "needs the columns"),
    ("index,id,label,source\n9,img9.png,cat,manual\n", "not an image of this data"),
    ("index,id,label,source\n0,other.png,cat,manual\n", "belongs to other data"),
    ("index,id,label,source\n0,img0.png,cat,guess\n", "source must be"),
    ("index,id,label,source\n0,img0.png,cat,manual\n0,img0.png,dog,manual\n", "twice"),
    ("index,id,label,source\nx,img0.png,cat,manual\n", "not an image"),
])
def test_a_bad_labels_csv_is_refused_with_one_line(text, message):
    with pytest.raises(UserInputError, match=message):
        labels.read_csv(text, IDS)


def test_agreement_with_the_truth_is_independent_of_the_names():
    truth = np.array(["0", "0", "0", "1", "1", "2", "2", "2"])
    given = np.array(["zero", "zero", "one", "one", "one", "", "", ANOMALY], dtype=object)
    scores = labels.agreement(given, truth)
    assert scores["images"] == 5 and scores["mapped"] == pytest.approx(4 / 5) and scores["same_name"] == 0
    assert labels.agreement(np.array(["", ANOMALY]), np.array(["0", "1"])) is None
    assert labels.agreement(np.array(["1", "1"]), np.array(["1", "1"]))["same_name"] == 1


def test_selection_ranges_and_settings_survive_a_link():
    indices = [3, 4, 5, 7, 12, 13, 100]
    assert link.encode_indices(indices) == "3-5.7.12-13.100"
    assert link.decode_indices("3-5.7.12-13.100") == tuple(indices)
    assert link.decode_indices("5.x.2-1.-3.7") == (5, 7)  # junk and reversed ranges are skipped
    config = RunConfig(data="digits", epochs=3, batch_size=64, clusters=7, contamination=0.02, seed=5)
    params = link.settings_params(config, "digits")
    settings, ignored = link.read_settings(params)
    assert settings == {"preset": "default", "method": "default", "epochs": 3, "batch": 64, "k": 7,
                        "contamination": 0.02, "seed": 5} and ignored == []
    _, ignored = link.read_settings({"epochs": "-1", "k": "1000", "preset": "nope", "seed": "1e9"})
    assert sorted(ignored) == ["epochs", "k", "preset", "seed"]


# --- the pages under AppTest ----------------------------------------------------------------------

def new_app(query: dict | None = None) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.query_params.update(query or {})
    return app


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A runs folder holding one finished digits run (3 epochs, k = 10)."""
    folder = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(settings.RUNS_DIR, str(folder))
        app = new_app({"data": "digits", "epochs": "3"}).run()  # a link to an unstored run trains it
        assert not app.exception, app.exception
        jobs = list(cached.store()._jobs.values())
        assert len(jobs) == 1
        assert jobs[0].wait(timeout=600).stage == "done", jobs[0].progress.error
        yield folder


def test_a_link_opens_its_page_with_its_settings_and_selection(runs, monkeypatch):
    monkeypatch.setenv(settings.RUNS_DIR, str(runs))
    trainings = cached.store().trainings
    app = new_app({"data": "digits", "epochs": "3", "k": "6", "seed": "0", "page": "latent_map",
                   "colour": "anomaly_score", "sel": "3-5.9"}).run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Latent map"
    assert app.number_input(key="clusters").value == 6 and app.radio(key="map_colour").value == "anomaly_score"
    assert app.subheader[0].value == "Selected images: 4"
    assert app.query_params["sel"] == "3-5.9" and app.query_params["page"] == "latent_map"
    assert cached.store().trainings == trainings  # the stored run is reused


def test_a_bad_link_warns_once_and_shows_the_defaults(runs, monkeypatch):
    monkeypatch.setenv(settings.RUNS_DIR, str(runs))
    monkeypatch.setenv("LATENT_EXPLORER_PUBLIC", "1")
    app = new_app({"data": "path:/etc", "epochs": "many", "colour": "label"}).run()
    assert not app.exception, app.exception
    assert len(app.warning) == 1 and "data, epochs" in app.warning[0].value
    assert app.selectbox(key="source").value == "Built-in digits (offline)"
    assert app.query_params["data"] == "digits"


def test_label_page_names_clusters_moves_images_and_imports(runs, monkeypatch):
    monkeypatch.setenv(settings.RUNS_DIR, str(runs))
    app = new_app({"data": "digits", "epochs": "3", "page": "labels"}).run()
    assert not app.exception, app.exception
    assert app.metric[0].value == "0 of 1,797"
    inputs = {field.label: field for field in app.text_input}
    for cluster, name in enumerate(["alpha", "beta", "gamma"]):
        inputs[f"Name of cluster {cluster}"].input(name)
    button(app, "Apply names").click().run()
    assert not app.exception, app.exception
    labelled = int(app.metric[0].value.split(" of ")[0].replace(",", ""))
    assert 0 < labelled < 1797 and app.metric[1].value == "0" and "Cluster names applied" in app.success[0].value

    app.session_state["selected"] = (0, 1)
    app.run()
    app.selectbox(key="labels-target").set_value("gamma")  # in the gallery's form: sent with its button
    next(button for button in app.button if button.label == "Move to label").click().run()
    assert not app.exception, app.exception
    assert app.metric[1].value == "2" and "Moved 2 images to 'gamma'" in app.success[0].value
    saved = pd.read_csv(runs / next(p.parent.name for p in runs.glob("*/labels.csv")) / "labels.csv",
                        dtype=str, keep_default_na=False)
    assert saved.iloc[:2].to_numpy().tolist() == [["0", "0", "gamma", "manual"], ["1", "1", "gamma", "manual"]]
    assert app.metric[3].value == "3"  # alpha, beta, gamma
    assert "Agreement" in [metric.label for metric in app.metric]

    # an import that would replace the two labels made by hand asks first: keep them, then take the file's
    exported = labels.LabelBook.empty(np.arange(1797).astype(str))
    exported.assign([5, 6, 7], "epsilon")
    app.file_uploader(key="labels-upload").upload("labels.csv", exported.to_csv().encode(), "text/csv").run()
    assert not app.exception, app.exception
    assert "would change 2 images labelled by hand" in app.warning[0].value
    button(app, "Keep my 2").click().run()
    assert "Imported 5 labels" in app.success[0].value
    assert app.metric[0].value == "5 of 1,797" and app.metric[1].value == "5"
    button(app, "Undo: Imported 5 labels from labels.csv.").click().run()  # undo puts the last change back
    assert "Undone" in app.info[0].value and app.metric[1].value == "2"
    app.file_uploader(key="labels-upload").upload("labels.csv", exported.to_csv().encode(), "text/csv").run()
    button(app, "Take the file's labels").click().run()
    assert "Imported 3 labels" in app.success[0].value
    assert app.metric[0].value == "3 of 1,797" and app.metric[1].value == "3"
    restarted = new_app({"data": "digits", "epochs": "3", "page": "labels"}).run()  # a new session
    assert restarted.metric[0].value == "3 of 1,797"

    app.file_uploader(key="labels-upload").upload("labels.csv", b"index,id,label,source\n0,zz,a,manual\n",
                                                  "text/csv").run()
    assert "belongs to other data" in app.error[0].value and app.metric[0].value == "3 of 1,797"

    # a change of more than 100 images asks first
    app.session_state["selected"] = tuple(range(150))
    app.run()
    button(app, "Mark anomaly").click().run()
    assert "changes the labels of 150 images at once" in app.warning[0].value and app.metric[2].value == "0"
    button(app, "Yes, change 150").click().run()
    assert not app.exception, app.exception
    assert app.metric[2].value == "150" and "Marked 150 images as anomalies" in app.success[0].value


def button(app: AppTest, label: str):
    return next(b for b in app.button if b.label == label)
