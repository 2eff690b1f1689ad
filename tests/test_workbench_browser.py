"""The map as a workbench in the real browser, on digits: a click selects a point and shift-click
adds, double-click and the Clear button clear (also a selection a link made), a filter narrows the
map and lives in the link, thumbnails draw images at their map positions, a typed new label typed
fast and sent with Enter is the one applied, a bad upload keeps the earlier pages, and switching
the data set drops the selection. One server and one page for the whole module (the steps follow
each other, as a person's session does).

With SAVE_SCREENSHOTS=1 the screenshots also go to docs/screenshots/ (the README's map picture).
"""

import re
import zipfile
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser import chromium_page, data_file_input, streamlit_server, wait_for_app_idle
from tests.test_browser import assert_no_exception, screenshot
from tests.test_photos_browser import photo_zip
from tests.test_sharing_browser import single

pytestmark = pytest.mark.browser  # `python -m pytest -m "not browser"` skips the real-browser tests

LINK = "data=digits&epochs=3&seed=0"
POINTS = """([key, wanted]) => {  // screen positions of points far apart from each other, and of an empty spot
  const plot = document.querySelector(`.st-key-map-${key} .js-plotly-plot`);
  const layout = plot._fullLayout, box = plot.getBoundingClientRect();
  const at = (x, y) => [box.x + layout.xaxis._offset + layout.xaxis.l2p(x), box.y + layout.yaxis._offset + layout.yaxis.l2p(y)];
  const points = [];
  plot._fullData.forEach(trace => { if (!trace.customdata) return;
    for (let i = 0; i < trace.x.length; i++) points.push(at(trace.x[i], trace.y[i])); });
  const far = [points[0]];
  for (const point of points) {
    if (far.length >= wanted) break;
    if (far.every(other => Math.hypot(other[0] - point[0], other[1] - point[1]) > 60)) far.push(point);
  }
  let empty = null, widest = -1;
  for (let gx = 0.05; gx < 1; gx += 0.05) for (let gy = 0.05; gy < 1; gy += 0.05) {
    const x = box.x + layout.xaxis._offset + gx * layout.xaxis._length, y = box.y + layout.yaxis._offset + gy * layout.yaxis._length;
    const nearest = Math.min(...points.map(p => Math.hypot(p[0] - x, p[1] - y)));
    if (nearest > widest) { widest = nearest; empty = [x, y]; }
  }
  return {points: far, empty: empty, drawn: points.length, images: (layout.images || []).length};
}"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app on digits (3 epochs, trained by the first link), one browser page."""
    folder = tmp_path_factory.mktemp("workbench")
    (folder / "screenshots").mkdir()
    with streamlit_server(folder) as url, chromium_page(height=1500) as page:
        page.goto(f"{url}/latent_map?{LINK}")  # not stored yet: the link trains it, then the map fills in
        wait_for_selected(page, 0, timeout_ms=600_000)
        yield url, page, folder, folder / "screenshots"


def selected_count(page) -> int:
    heading = page.get_by_role("heading", name=re.compile(r"^Selected images: [\d,]+$"))
    return int(heading.inner_text().split(": ")[1].replace(",", ""))


def wait_for_selected(page, count: int, timeout_ms: int = 60_000) -> None:
    page.get_by_role("heading", name=f"Selected images: {count}", exact=True).wait_for(timeout=timeout_ms)
    wait_for_app_idle(page, timeout_ms=120_000)


def map_points(page, key: str = "latent", wanted: int = 3) -> dict:
    page.wait_for_selector(f".st-key-map-{key} .js-plotly-plot", timeout=60_000)
    page.locator(f".st-key-map-{key}").scroll_into_view_if_needed()
    page.wait_for_timeout(800)  # plotly lays the points out
    return page.evaluate(POINTS, [key, wanted])


def choose(page, label: str, option: str, tries: int = 3) -> None:
    """Pick ``option`` in the selectbox ``label``, again if a script run redrew the list meanwhile."""
    from playwright.sync_api import Error

    for attempt in range(tries):
        try:
            single(page.locator('[data-testid="stSelectbox"]').filter(has_text=label)).click()
            page.get_by_role("option", name=option).click(timeout=10_000)
            break
        except Error:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")
            wait_for_app_idle(page)
    wait_for_app_idle(page)


def open_page(page, name: str, heading: str | None = None) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()
    page.get_by_role("heading", name=heading or name, exact=True).wait_for(timeout=60_000)
    wait_for_app_idle(page, timeout_ms=120_000)


def test_a_click_selects_a_point_and_shift_click_adds_another(app):
    _, page, _, _ = app
    assert_no_exception(page, "latent map")
    first, second, _ = map_points(page)["points"]
    page.mouse.click(*first)
    wait_for_selected(page, 1)
    page.get_by_role("button", name="Open up close").wait_for()  # the clicked image, beside the map
    page.keyboard.down("Shift")
    page.mouse.click(*second)
    page.keyboard.up("Shift")
    wait_for_selected(page, 2)
    assert "sel" in parse_qs(urlparse(page.url).query)


def test_double_click_on_empty_map_and_the_clear_button_clear(app):
    url, page, _, _ = app
    page.mouse.dblclick(*map_points(page)["empty"])
    wait_for_selected(page, 0)
    page.mouse.click(*map_points(page)["points"][0])
    wait_for_selected(page, 1)
    single(page.get_by_role("button", name="Clear selection")).click()
    wait_for_selected(page, 0)
    page.goto(f"{url}/latent_map?{LINK}&sel=100-102")  # a selection a link made, not this chart
    wait_for_selected(page, 3)
    page.mouse.dblclick(*map_points(page)["empty"])
    wait_for_selected(page, 0)
    assert "sel" not in parse_qs(urlparse(page.url).query)


def test_a_filter_narrows_the_map_and_is_kept_in_the_link(app):
    _, page, _, _ = app
    drawn = map_points(page)["drawn"]
    assert drawn == 1797
    name = single(page.get_by_label("File name contains"))
    name.fill("17")
    name.press("Enter")
    page.get_by_text(re.compile(r"^Showing [\d,]+ of 1,797 images: name contains '17'")).wait_for(timeout=60_000)
    wait_for_app_idle(page)
    kept = int(page.get_by_text(re.compile("^Showing")).inner_text().split()[1].replace(",", ""))
    expected = sum("17" in str(i) for i in range(1797))
    assert kept == expected and map_points(page)["drawn"] == expected
    assert parse_qs(urlparse(page.url).query)["name"] == ["17"]


def test_thumbnails_draw_images_at_their_places_on_the_map(app):
    _, page, _, shots = app
    if page.get_by_text("Clear filters", exact=True).count():
        page.get_by_text("Clear filters", exact=True).click()
        wait_for_app_idle(page)
    page.locator(".st-key-thumbnails label").first.click()
    page.wait_for_function("() => ((document.querySelector('.st-key-map-latent .js-plotly-plot') || {})"
                           "._fullLayout || {images: []}).images.length > 0", timeout=60_000)
    wait_for_app_idle(page)
    assert 100 <= map_points(page)["images"] <= 400  # a few hundred, spread over the map
    assert page.locator(".st-key-map-latent image").count() >= 100  # drawn in the browser, as images
    name = single(page.get_by_label("File name contains"))
    name.fill("1")  # the README's picture: thumbnails and a filter
    name.press("Enter")
    page.get_by_text(re.compile(r"^Showing [\d,]+ of 1,797 images")).wait_for(timeout=60_000)
    wait_for_app_idle(page)
    page.mouse.click(*map_points(page)["points"][0])
    wait_for_selected(page, 1)
    page.wait_for_timeout(1500)
    screenshot(page, shots, "map_thumbnails_filter", full_page=False)
    single(page.get_by_text("Clear filters", exact=True)).click()
    wait_for_app_idle(page)


def test_a_new_label_typed_fast_and_sent_with_enter_is_the_one_applied(app):
    _, page, _, _ = app
    open_page(page, "Labels")
    page.mouse.click(*map_points(page, "labels")["points"][0])  # every map selects with a click
    page.get_by_text("1 image selected").wait_for(timeout=60_000)
    single(page.get_by_role("button", name="Clear selection")).click()
    page.get_by_text("0 images selected").wait_for(timeout=60_000)
    wait_for_app_idle(page)
    page.wait_for_timeout(1000)  # the map redrawn without the selection
    choose(page, "Show images of", "the most anomalous")
    boxes = page.locator('[data-testid="stForm"] [data-testid="stCheckbox"]')
    for i in range(3):  # ticks inside the form: no rerun per tick
        boxes.nth(i).click()
    assert page.get_by_text("0 images selected").count() == 1
    typed = single(page.get_by_label("or a new label"))
    typed.click()
    page.keyboard.type("nine", delay=0)
    page.keyboard.press("Enter")
    page.get_by_test_id("stAlertContentSuccess").filter(has_text="Moved 3 images to 'nine'").wait_for(timeout=60_000)
    wait_for_app_idle(page)
    assert_no_exception(page, "labels")


def test_a_bad_upload_keeps_the_earlier_pages_and_a_new_data_set_drops_the_selection(app):
    _, page, folder, _ = app
    open_page(page, "Latent map")
    page.mouse.click(*map_points(page)["points"][0])
    wait_for_selected(page, 1)
    single(page.get_by_role("combobox").first).click()  # the sidebar's data source
    page.get_by_role("option", name="Upload .npz or .zip").click()
    wait_for_app_idle(page)
    broken = folder / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    data_file_input(page).set_input_files(str(broken))
    page.get_by_text("is not a readable zip file").wait_for(timeout=60_000)
    wait_for_app_idle(page)
    errors = page.get_by_test_id("stAlertContentError")
    assert errors.count() == 1, errors.all_inner_texts()  # said once
    single(page.locator(".st-key-map-latent .js-plotly-plot"))  # the earlier run's map (once a rerun settles)
    assert selected_count(page) == 1
    assert page.get_by_role("button", name="Run").is_disabled()
    open_page(page, "Clusters")
    page.get_by_text("Clusters against true labels").wait_for(timeout=300_000)  # the earlier run's page

    photos = folder / "photos.zip"
    photo_zip(photos, per_class=10)
    assert len(zipfile.ZipFile(photos).namelist()) == 30
    data_file_input(page).set_input_files(str(photos))
    page.get_by_text("press Run in the sidebar").wait_for(timeout=120_000)
    wait_for_app_idle(page)
    assert "sel" not in parse_qs(urlparse(page.url).query)  # the selection was the digits run's
    single(page.get_by_role("combobox").first).click()
    page.get_by_role("option", name="Built-in digits (offline)").click()
    wait_for_app_idle(page)
    open_page(page, "Latent map")
    wait_for_selected(page, 0)
