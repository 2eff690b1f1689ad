"""Duplicates and look-alikes in the real browser: a link trains a zip of photos with copies in it;
the Duplicates page shows its 25 groups, keeps one of a group (and undoes it) and hands out
duplicates.csv; on the Latent map page an uploaded photo finds its source first and its place.

With SAVE_SCREENSHOTS=1 the screenshots also go to docs/screenshots/ (the README's pictures).
"""

import io
from urllib.parse import quote

import pandas as pd
import pytest

from tests.browser import chromium_page, streamlit_server, wait_for_app_idle
from tests.test_browser import assert_no_exception, screenshot
from tests.test_duplicates import photo_collection
from tests.test_sharing_browser import metric, said, single

pytestmark = pytest.mark.browser  # `python -m pytest -m "not browser"` skips the real-browser tests


def test_the_duplicates_page_and_images_like_an_uploaded_photo(tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    path, copies, (query_name, query, source) = photo_collection(tmp_path)
    (tmp_path / query_name).write_bytes(query)
    link = f"?data=path:{quote(str(path))}&preset=seed&method=seed&epochs=1&page=duplicates"
    runs = tmp_path / "runs"
    runs.mkdir()
    with streamlit_server(runs) as url, chromium_page(height=1600) as page:
        page.goto(url + "/" + link)
        page.get_by_role("heading", name="Duplicates", exact=True).wait_for(timeout=60_000)
        page.get_by_text("Groups of copies").wait_for(timeout=900_000)  # the link's run trains first
        wait_for_app_idle(page, timeout_ms=120_000)
        assert_no_exception(page, "Duplicates")
        assert metric(page, "Groups of copies") == "25" and metric(page, "Exact groups") == "5"
        assert metric(page, "Images in them") == "50" and metric(page, "Marked duplicate") == "0"
        first_group = page.locator('[data-testid="stImageCaption"]').all_inner_texts()[:2]
        assert any("· exact" in text or "· near" in text for text in first_group)
        screenshot(page, shots, "duplicates")

        single(page.locator('[class*="st-key-mark-0"] button')).click()
        said(page, "Group 0: kept")
        wait_for_app_idle(page)
        assert metric(page, "Marked duplicate") == "1"
        single(page.get_by_role("button", name="Undo: Group 0", exact=False)).click()
        page.get_by_text("Undone: Group 0").first.wait_for(timeout=60_000)
        wait_for_app_idle(page)
        assert metric(page, "Marked duplicate") == "0"

        with page.expect_download(timeout=120_000) as download:
            single(page.get_by_role("button", name="Download duplicates.csv")).click()
        table = pd.read_csv(io.BytesIO(download.value.path().read_bytes()), dtype={"id": str})
        assert list(table.columns) == ["group", "index", "id", "kind", "keep"] and len(table) == 50
        assert set(table["id"]) == set(copies) | {original for original, _ in copies.values()}
        assert table.groupby("group")["keep"].sum().eq(1).all()

        page.locator('[data-testid="stSidebarNav"]').get_by_text("Latent map", exact=True).click()
        page.get_by_text("Images like one of yours").wait_for(timeout=60_000)
        wait_for_app_idle(page, timeout_ms=120_000)
        uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="need not be in the collection")
        single(uploader.locator('input[type="file"]')).set_input_files(str(tmp_path / query_name))
        page.get_by_text("Its 10 nearest images").wait_for(timeout=300_000)
        wait_for_app_idle(page, timeout_ms=120_000)
        assert_no_exception(page, "Latent map")
        captions = page.locator('[data-testid="stImageCaption"]').all_inner_texts()
        found = [text for text in captions if " · " in text and "(yours)" not in text]
        assert found[0].startswith(source.rsplit("/", 1)[-1] + " · near copy"), found[:3]
        page.get_by_text("Its place on the map: (").wait_for(timeout=120_000)  # under the map with its star
        page.get_by_role("heading", name="Images like one of yours").evaluate("heading => heading.scrollIntoView()")
        page.wait_for_timeout(1000)  # the map's WebGL points drawn
        screenshot(page, shots, "images_like_an_upload", full_page=False)
