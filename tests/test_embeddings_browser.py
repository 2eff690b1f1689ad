"""Embeddings you bring, in the real browser: a zip of photos and a Parquet of their vectors are
uploaded; a bad vectors file is one error line with Run disabled; the good one is named on the Data
page, the run learns from it and the Latent map shows the map; an image of one's own has no vector,
which the map's search says in one line.

With SAVE_SCREENSHOTS=1 the screenshots also go to docs/screenshots/ (the README's embeddings pictures).
"""

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.browser import chromium_page, streamlit_server, wait_for_app_idle
from tests.conftest import shared_file
from tests.test_browser import assert_no_exception, screenshot
from tests.test_embeddings import projected
from tests.test_photos_browser import visit
from tests.test_sharing_browser import single

pytestmark = pytest.mark.browser  # `python -m pytest -m "not browser"` skips the real-browser tests

ZIP_NAME = "street photos.zip"
VECTORS_NAME = "photo vectors.parquet"


DRAWN = """count => {  // the latent map's points (those that name an image) number ``count``, all placed
  const plot = document.querySelector(".st-key-map-latent .js-plotly-plot");
  if (!plot || !plot._fullData) return false;
  const traces = plot._fullData.filter(trace => trace.customdata);
  const points = traces.reduce((total, trace) => total + trace.x.length, 0);
  return points === count && traces.every(trace => Array.from(trace.x).every(Number.isFinite));
}"""


def photos_and_vectors(folder, per_class: int = 50) -> list[str]:
    """A zip of real CIFAR-10 photos of three classes, and a Parquet of their vectors (a fixed random
    projection of their pixels, 24 numbers, in reversed order): ``id`` and a list column ``embedding``."""
    names, pixels = [], []
    with zipfile.ZipFile(shared_file("cifar10_train_10k.zip")) as source, \
            zipfile.ZipFile(folder / ZIP_NAME, "w") as archive:
        for label in ("airplane", "frog", "truck"):
            for name in sorted(n for n in source.namelist() if n.startswith(f"{label}/"))[:per_class]:
                data = source.read(name)
                archive.writestr(name, data)
                names.append(name)
                pixels.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255)
    vectors = projected(np.stack(pixels), 24)
    pd.DataFrame({"id": names[::-1], "embedding": list(vectors[::-1])}).to_parquet(folder / VECTORS_NAME)
    duplicated = pd.DataFrame({"id": [names[0], *names], "embedding": [vectors[0], *vectors]})
    duplicated.to_parquet(folder / "twice.parquet")
    return names


def test_photos_with_their_own_vectors_run_on_the_vectors_and_show_the_map(tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    names = photos_and_vectors(tmp_path)
    with streamlit_server(tmp_path) as url, chromium_page(height=1400) as page:
        page.goto(f"{url}/?epochs=10")  # a link's settings, without data: nothing trains yet
        wait_for_app_idle(page)
        single(page.get_by_role("combobox").first).click()  # the sidebar's data source
        page.get_by_role("option", name="Upload .npz or .zip").click()
        wait_for_app_idle(page)
        uploaders = page.locator('[data-testid="stSidebar"] [data-testid="stFileUploader"] input[type="file"]')
        uploaders.first.set_input_files(str(tmp_path / ZIP_NAME))
        page.get_by_text(f"Source: {ZIP_NAME}").wait_for(timeout=120_000)
        wait_for_app_idle(page)

        page.get_by_text("Embeddings (optional)").click()
        wait_for_app_idle(page)
        uploaders.nth(1).set_input_files(str(tmp_path / "twice.parquet"))
        error = page.locator('[data-testid="stAlertContentError"]')
        error.wait_for(timeout=60_000)
        assert "'twice.parquet' has duplicate ids" in error.inner_text() and "\n" not in error.inner_text().strip()
        assert page.get_by_text(f"Source: {ZIP_NAME}").count() == 1  # the images' page stays
        assert single(page.get_by_role("button", name="Run")).is_disabled()

        uploaders.nth(1).set_input_files(str(tmp_path / VECTORS_NAME))
        page.get_by_text(f"Using embeddings from {VECTORS_NAME}: 24 numbers per image").wait_for(timeout=60_000)
        wait_for_app_idle(page)
        assert error.count() == 0 and "24 numbers of each vector" in page.locator('[data-testid="stMain"]').inner_text()
        screenshot(page, shots, "embeddings_data")

        single(page.get_by_role("button", name="Run")).click()  # 10 epochs, from the address
        page.get_by_text(f"images of {ZIP_NAME}").wait_for(timeout=600_000)  # Training: "Trained on 150 images of ..."
        wait_for_app_idle(page, timeout_ms=120_000)
        assert_no_exception(page, "Training")
        assert page.get_by_text("the network rebuilds your vectors, not pixels", exact=False).count() >= 1

        visit(page, "Latent map", "Images like one of yours")
        page.wait_for_function(DRAWN, arg=len(names), timeout=60_000)  # one point per photo, at its map place
        page.locator(".st-key-map-latent").scroll_into_view_if_needed()
        screenshot(page, shots, "embeddings_map")

        mine = tmp_path / "mine.png"
        Image.new("RGB", (32, 32), (200, 30, 30)).save(mine)
        page.locator('[data-testid="stMain"] [data-testid="stFileUploader"] input[type="file"]').set_input_files(str(mine))
        error.wait_for(timeout=60_000)
        assert "has no vector in that file" in error.inner_text()
        assert_no_exception(page, "Latent map")
