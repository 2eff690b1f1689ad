"""The real thing: `streamlit run app.py` in headless Chromium, a training on digits, every page.

Screenshots go to a temporary folder; with SAVE_SCREENSHOTS=1 they are also copied to
docs/screenshots/ (how the README's pictures are made).
"""

import os
import shutil

import pytest

from tests.browser import ROOT, chromium_page, streamlit_server, wait_for_app_idle

pytestmark = pytest.mark.browser  # `python -m pytest -m "not browser"` skips the real-browser tests

PAGES = {  # page -> (text shown once the page is complete, plotly charts on it, screenshot name)
    "Data": ("Sample", 1, "data"),
    "Training": ("As the network sees them, and its reconstructions", 1, "training"),
    "Latent map": ("Selected images", 1, "latent_map"),
    "Clusters": ("Clusters against true labels", 3, "clusters"),
    "Anomalies": ("Contamination", 2, "anomalies"),
    "Labels": ("4. Export, or continue later", 1, "labels_before_naming"),
    "Export": ("Download results.csv", 0, "export"),
}


COMPARISONS = {  # page -> (heading of the side-by-side section, method names it must show)
    "Clusters": ("Every clusterer side by side", ["KMeans on latent", "raw-pixel KMeans", "Gaussian mixture in manifold"]),
    "Anomalies": ("Every anomaly score side by side", ["IForest, latent", "kNN, latent"]),  # short names in the matrices
}


def screenshot(page, folder, name, full_page=True):
    path = folder / f"{name.lower().replace(' ', '_')}.png"
    # images below the fold load lazily, and a full-page shot never scrolls to them: load them all first
    page.evaluate("document.querySelectorAll('img').forEach(image => { image.loading = 'eager'; })")
    page.wait_for_function("[...document.images].every(image => image.complete)", timeout=60_000)
    page.screenshot(path=str(path), full_page=full_page)
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)
    return path


def assert_no_exception(page, where):
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, f"{where}: {exceptions.first.inner_text()}"


def test_train_on_digits_and_visit_every_page(tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with streamlit_server(tmp_path) as url, chromium_page(height=1700) as page:
        page.goto(url)
        wait_for_app_idle(page)
        page.get_by_role("heading", name="Data", exact=True).wait_for()
        assert_no_exception(page, "start")

        epochs = page.get_by_role("spinbutton", name="Epochs")
        epochs.fill("5")
        epochs.press("Enter")
        wait_for_app_idle(page)
        page.get_by_role("button", name="Run").click()
        page.get_by_text("Trained on").wait_for(timeout=300_000)
        wait_for_app_idle(page)

        for name, (last_text, charts, shot) in PAGES.items():
            page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()
            page.get_by_role("heading", name=name, exact=True).wait_for(timeout=60_000)
            page.get_by_text(last_text).first.wait_for(timeout=120_000)
            page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length >= {charts}",
                                   timeout=60_000)
            wait_for_app_idle(page, timeout_ms=120_000)
            page.wait_for_timeout(1500)  # let plotly finish drawing
            assert_no_exception(page, name)
            assert page.get_by_text("press **Run**").count() == 0
            assert page.get_by_text("press Run in the sidebar").count() == 0, f"{name} shows no results"
            screenshot(page, shots, shot)
            if name in COMPARISONS:  # every method side by side, judged against the digits' labels
                heading, shown = COMPARISONS[name]
                page.get_by_text(heading).scroll_into_view_if_needed()
                page.wait_for_timeout(1000)
                for text in shown:
                    assert page.get_by_text(text, exact=True).count() >= 1, f"{name}: {text} missing"
                screenshot(page, shots, f"{shot}_compared", full_page=False)
        assert page.get_by_role("button", name="Download results.csv").count() == 1

        # one image up close, from the ranked anomalies
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Anomalies", exact=True).click()
        page.get_by_text("#1 ·").first.wait_for(timeout=60_000)
        wait_for_app_idle(page)
        page.locator('[class*="st-key-anomalies-open-"] button').first.click()  # the magnifier under #1
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Why is it odd?").wait_for(timeout=120_000)
        dialog.get_by_text("reconstruction", exact=True).wait_for(timeout=120_000)
        wait_for_app_idle(page, timeout_ms=120_000)
        page.wait_for_timeout(1500)
        assert_no_exception(page, "image up close")
        assert dialog.locator("img").count() >= 3 + 6  # original, reconstruction and the nearest normal images
        screenshot(page, shots, "image_up_close", full_page=False)
