"""Your own photos in the real browser: a zip whose name has spaces is uploaded and run; every page
names it and its files (never a hash), and an image opens large from its own file, at its own size.

With SAVE_SCREENSHOTS=1 the screenshots also go to docs/screenshots/ (the README's photo pictures).
"""

import io
import re
import zipfile

import pytest
from PIL import Image

from tests.browser import chromium_page, data_file_input, streamlit_server, wait_for_app_idle
from tests.conftest import shared_file
from tests.test_browser import assert_no_exception, screenshot
from tests.test_sharing_browser import single

pytestmark = pytest.mark.browser  # `python -m pytest -m "not browser"` skips the real-browser tests

ZIP_NAME = "my holiday photos.zip"
SIDE = 96  # larger than the 64 pixels the model works at


def photo_zip(path, per_class: int = 40) -> list[str]:
    """Real CIFAR-10 photos of three classes, enlarged to 96 x 96 JPEGs, in class folders."""
    members = {}
    with zipfile.ZipFile(shared_file("cifar10_train_10k.zip")) as source:
        for label in ("cat", "ship", "truck"):
            names = sorted(n for n in source.namelist() if n.startswith(f"{label}/"))[:per_class]
            for name in names:
                image = Image.open(io.BytesIO(source.read(name))).convert("RGB").resize((SIDE, SIDE))
                buffer = io.BytesIO()
                image.save(buffer, format="JPEG", quality=92)
                members[name] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return sorted(members)


def plain_text(caption: str) -> str:
    """A caption's text without the zero-width spaces that let file names wrap after their "/"."""
    return caption.replace("\u200b", "").strip()


def page_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def visit(page, name: str, ready_text: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()
    page.get_by_role("heading", name=name, exact=True).wait_for(timeout=60_000)
    page.get_by_text(ready_text).first.wait_for(timeout=120_000)
    wait_for_app_idle(page, timeout_ms=120_000)
    assert_no_exception(page, name)


def test_a_zip_of_photos_named_with_spaces_runs_and_is_named_everywhere(tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    upload = tmp_path / ZIP_NAME
    files = photo_zip(upload)
    hashes = re.compile(r"\b[0-9a-f]{20}\b")
    with streamlit_server(tmp_path) as url, chromium_page(height=1600) as page:
        page.goto(url)
        wait_for_app_idle(page)
        single(page.get_by_role("combobox").first).click()  # the sidebar's data source
        page.get_by_role("option", name="Upload .npz or .zip").click()
        wait_for_app_idle(page)
        data_file_input(page).set_input_files(str(upload))
        page.get_by_text(f"Source: {ZIP_NAME}").wait_for(timeout=120_000)
        wait_for_app_idle(page)
        assert not hashes.search(page_text(page))
        assert page.get_by_text("cat/", exact=False).count() >= 1  # the sample names its files
        screenshot(page, shots, "photos_data")

        epochs = page.get_by_role("spinbutton", name="Epochs")
        epochs.fill("20")
        epochs.press("Enter")
        wait_for_app_idle(page)
        single(page.get_by_role("button", name="Run")).click()
        page.get_by_text(f"images of {ZIP_NAME}").wait_for(timeout=600_000)  # Training: "Trained on 120 images of ..."
        wait_for_app_idle(page, timeout_ms=120_000)
        assert not hashes.search(page_text(page))

        visit(page, "Anomalies", "Every anomaly score side by side")
        captions = page.locator('[data-testid="stCaptionContainer"]')
        name = plain_text(captions.filter(has_text=re.compile(r"^#1 · ")).first.inner_text()).split(" · ", 1)[1]
        assert name in files and not hashes.search(page_text(page))
        screenshot(page, shots, "photos_anomalies")
        page.locator('[class*="st-key-anomalies-open-"] button').first.click()  # the magnifier under #1
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Why is it odd?").wait_for(timeout=120_000)
        dialog.get_by_text("reconstruction", exact=True).wait_for(timeout=120_000)
        wait_for_app_idle(page, timeout_ms=120_000)
        assert dialog.get_by_text(f"{name} (its own file, full size)").count() == 1
        original = dialog.locator("img").first
        page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=original.element_handle())
        assert original.evaluate("image => [image.naturalWidth, image.naturalHeight]") == [SIDE, SIDE]
        assert dialog.get_by_text(name, exact=True).count() >= 1  # the facts table names the file
        page.wait_for_timeout(1000)
        screenshot(page, shots, "photos_up_close", full_page=False)
        page.keyboard.press("Escape")
        wait_for_app_idle(page)

        visit(page, "Clusters", "Every clusterer side by side")
        named = [plain_text(text) for text in captions.all_inner_texts() if ".jpg · " in text]  # members: file · label
        assert named and all(re.fullmatch(r"(cat|ship|truck)/\d+\.jpg · (cat|ship|truck)", text) for text in named)
        assert not hashes.search(page_text(page))
        screenshot(page, shots, "photos_clusters")

        visit(page, "Runs", "Open a run made by the command line")
        assert page.get_by_text(ZIP_NAME).count() >= 1
        assert not hashes.search(page_text(page))
        screenshot(page, shots, "runs")
