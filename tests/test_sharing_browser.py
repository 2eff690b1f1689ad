"""Labeling and sharing in the real browser: a link trains digits, three clusters get names, an image
moves, labels.csv goes out and comes back in, and a copied link reopens the same view elsewhere.

With SAVE_SCREENSHOTS=1 the screenshots also go to docs/screenshots/ (the README's pictures).
"""

import re
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.browser import chromium_page, streamlit_server, wait_for_app_idle
from tests.test_browser import assert_no_exception, screenshot
from ui.link import encode_indices

pytestmark = pytest.mark.browser  # `python -m pytest -m "not browser"` skips the real-browser tests

NAMES = ["round", "tall", "curly"]


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def labelled(page) -> int:
    return int(metric(page, "Labelled").split(" of ")[0].replace(",", ""))


def choose(page, selectbox_label: str, option: str | None = None, typed: str | None = None) -> None:
    """Pick ``option`` in a selectbox, or type a new one."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=selectbox_label).first
    box.click()
    if typed is None:
        wanted = page.get_by_role("option", name=option, exact=True)
        for _ in range(3):  # a rerun that lands as the list opens closes it: open it again once the app is idle
            try:
                wanted.wait_for(timeout=10_000)
                break
            except Exception:
                wait_for_app_idle(page)
                box.click()
        wanted.click()
    else:
        page.keyboard.type(typed)
        page.keyboard.press("Enter")
    wait_for_app_idle(page)


def click(page, name: str) -> None:
    single(page.get_by_role("button", name=name, exact=True)).click()
    wait_for_app_idle(page)


def said(page, text: str) -> None:
    """Wait for the success message that says ``text`` (the Undo button repeats it)."""
    page.get_by_test_id("stAlertContentSuccess").filter(has_text=text).first.wait_for(timeout=60_000)


def single(locator):
    """The locator once it matches exactly one element: during a rerun Streamlit can show a stale
    copy of an element beside the new one for a moment."""
    expect(locator).to_have_count(1, timeout=60_000)
    return locator


def test_label_three_clusters_move_export_import_and_share(tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with streamlit_server(tmp_path) as url, chromium_page(height=1900) as page:
        # A link to a run that is not stored yet: it trains the same settings, then the page fills in.
        page.goto(f"{url}/labels?data=digits&epochs=3&k=10&seed=0")
        page.get_by_text("1. Name the clusters").wait_for(timeout=600_000)
        wait_for_app_idle(page, timeout_ms=120_000)
        assert_no_exception(page, "labels page")
        assert metric(page, "Labelled") == "0 of 1,797"

        # Name three clusters: every image of them takes the name.
        sizes = [int(page.get_by_text(re.compile(f"^cluster {c} · \\d+$")).inner_text().split("· ")[1])
                 for c in range(3)]
        for cluster, name in enumerate(NAMES):
            single(page.get_by_label(f"Name of cluster {cluster}")).fill(name)
        click(page, "Apply names")
        said(page, "Cluster names applied")
        assert labelled(page) == sum(sizes)
        assert metric(page, "Confirmed by a person") == "0" and metric(page, "Label names") == "3"
        page.wait_for_timeout(1500)
        screenshot(page, shots, "labels")

        # Move one image of cluster 0 to a new label, ticked in the gallery (a form: no rerun per tick).
        choose(page, "Show images of", option=f"cluster 0 {NAMES[0]} (oddest first)")
        box = page.locator('[data-testid="stForm"] [data-testid="stCheckbox"]').first
        moved = int(box.inner_text().strip())
        box.click()
        single(page.get_by_label("or a new label")).fill("odd one")
        click(page, "Move to label")
        said(page, "Moved 1 image to 'odd one'")
        assert labelled(page) == sum(sizes) and metric(page, "Confirmed by a person") == "1"
        assert metric(page, "Label names") == "4"

        # Export labels.csv: the promised columns, one row per labelled image, the move inside.
        with page.expect_download() as download:
            page.get_by_role("button", name="Download labels.csv").click()
        exported = tmp_path / "labels.csv"
        download.value.save_as(exported)
        wait_for_app_idle(page)  # the download button reruns the page
        table = pd.read_csv(exported, dtype=str, keep_default_na=False)
        assert list(table.columns) == ["index", "id", "label", "source"]
        assert len(table) == sum(sizes)
        assert table.set_index("index").loc[str(moved)].tolist() == [str(moved), "odd one", "manual"]
        assert (table["source"] == "cluster").sum() == sum(sizes) - 1
        assert set(table["label"]) == {*NAMES, "odd one"}

        # Change something, then import the file: the exported state comes back.
        single(page.get_by_label(f"Name of cluster {1}")).fill("")
        single(page.get_by_label(f"Name of cluster {1}")).press("Tab")
        click(page, "Apply names")
        said(page, f"Cluster names applied: {sizes[1]} images changed label.")
        assert labelled(page) == sum(sizes) - sizes[1]
        page.locator('[data-testid="stFileUploader"]').filter(has_text="Continue from a labels.csv") \
            .locator('input[type="file"]').set_input_files(str(exported))
        said(page, f"Imported {sum(sizes):,} labels from labels.csv")
        wait_for_app_idle(page)
        assert labelled(page) == sum(sizes) and metric(page, "Confirmed by a person") == "1"
        assert single(page.get_by_label(f"Name of cluster {1}")).input_value() == NAMES[1]

        # A view to share: two images ticked, the latent map coloured by anomaly score, k = 10.
        choose(page, "Show images of", option="the most anomalous")
        boxes = page.locator('[data-testid="stForm"] [data-testid="stCheckbox"]')
        for i in range(2):
            boxes.nth(i).click()
        ticked = page.locator('[data-testid="stForm"] [data-testid="stCheckbox"]:has(input:checked)')
        expect(ticked).to_have_count(2, timeout=60_000)
        chosen = sorted(int(text.strip()) for text in ticked.all_inner_texts())  # read as ticked, not before
        click(page, "Select ticked")
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Latent map", exact=True).click()
        page.get_by_role("heading", name="Latent map", exact=True).wait_for()
        wait_for_app_idle(page)
        page.get_by_test_id("stRadioGroup").get_by_text("anomaly score", exact=True).click()  # Colour by
        wait_for_app_idle(page)
        page.get_by_text("Selected images: 2").wait_for()
        click(page, "Copy link")
        link = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"]').inner_text().strip()
        page.wait_for_timeout(1000)
        screenshot(page, shots, "share_link")
        query = parse_qs(urlparse(link).query)
        assert urlparse(link).path == "/latent_map" and link.startswith(url)
        assert query["data"] == ["digits"] and query["epochs"] == ["3"] and query["k"] == ["10"]
        assert query["page"] == ["latent_map"] and query["colour"] == ["anomaly_score"]
        assert query["sel"] == [encode_indices(chosen)]
        assert parse_qs(urlparse(page.url).query) == query  # the address bar holds the same link

    # A fresh browser opens the link: same page, settings, colouring, selection, from the stored run.
    with streamlit_server(tmp_path) as second_url, chromium_page(height=1300) as page:
        page.goto(link.replace(url, second_url))
        page.get_by_text("Selected images: 2").wait_for(timeout=180_000)
        wait_for_app_idle(page, timeout_ms=120_000)
        assert_no_exception(page, "shared link")
        assert page.get_by_role("heading", name="Latent map", exact=True).count() == 1
        # the sidebar's widgets take the link's values as they render: wait for them
        expect(page.get_by_role("spinbutton", name="Epochs")).to_have_value("3", timeout=30_000)
        expect(page.get_by_role("spinbutton", name="Clusters (k)")).to_have_value("10", timeout=30_000)
        expect(page.get_by_role("radio", name="anomaly score")).to_be_checked(timeout=30_000)
        assert page.get_by_text("This run is training").count() == 0  # from the stored run, not retrained
        captions = page.locator('[data-testid="stCaptionContainer"]').filter(has_text=re.compile(r"^\d+ · cluster \d+$"))
        assert sorted(int(text.split(" · ")[0]) for text in captions.all_inner_texts()) == chosen
        page.wait_for_timeout(1500)
        screenshot(page, shots, "shared_view")
        # After a restart the labels are still there, with the run.
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Labels", exact=True).click()
        page.get_by_text("1. Name the clusters").wait_for(timeout=120_000)
        wait_for_app_idle(page)
        assert labelled(page) == sum(sizes) and metric(page, "Confirmed by a person") == "1"
