"""Labels that teach, in the real browser on the built-in digits: "Let it label the rest" with no
labels suggests one image per cluster; a person labels ten suggestions under them (the true digits)
and teaches again in the worker; every image then has a predicted label, accuracy on the images
nobody labelled is shown with its chart, and accepting predictions above a confidence labels
them (source predicted) and undoes.

With SAVE_SCREENSHOTS=1 the screenshots also go to docs/screenshots/ (the README's pictures).
"""

import re

import pytest

from core.data.load import load_image_set
from tests.browser import chromium_page, streamlit_server, wait_for_app_idle
from tests.test_browser import assert_no_exception, screenshot
from tests.test_sharing_browser import labelled, said, single

pytestmark = pytest.mark.browser  # `python -m pytest -m "not browser"` skips the real-browser tests

TAUGHT = 10


def test_labels_page_teaches_a_round_on_digits(tmp_path):
    truth = load_image_set("digits").labels
    runs = tmp_path / "runs"
    runs.mkdir()
    with streamlit_server(runs) as url, chromium_page(height=1400) as page:
        page.goto(f"{url}/labels?data=digits&epochs=2&k=10&seed=0")
        page.get_by_role("heading", name="Labels", exact=True).wait_for(timeout=60_000)
        start = page.get_by_role("button", name="Let it label the rest")
        start.wait_for(timeout=300_000)  # the link's run trains first
        wait_for_app_idle(page, timeout_ms=120_000)
        single(start).click()
        page.get_by_text("Label these next").wait_for(timeout=120_000)
        page.get_by_text("No predictions yet").wait_for(timeout=60_000)
        wait_for_app_idle(page)
        assert_no_exception(page, "Labels, first round")
        boxes = page.locator('[class*="st-key-teach-next-1-"][class*="-new"] input')
        assert boxes.count() == 20
        for box in boxes.all()[:TAUGHT]:
            index = int(re.search(r"teach-next-1-(\d+)-new", box.locator("xpath=ancestor::div[contains(@class, "
                                                                         "'st-key-teach-next-1-')]").first
                                  .get_attribute("class")).group(1))
            box.fill(str(truth[index]))
        single(page.get_by_role("button", name="Save these labels and teach again")).click()
        said(page, f"Labelled {TAUGHT} suggested images")
        page.get_by_text(f"Round with {TAUGHT} labels").wait_for(timeout=120_000)
        wait_for_app_idle(page)
        assert_no_exception(page, "Labels, second round")
        assert labelled(page) == TAUGHT
        text = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Round with").first.inner_text()
        accuracy = float(re.search(r"nobody labelled ([\d.]+)%", text).group(1)) / 100
        assert accuracy > 0.6, text  # ten labels carry far: a tenth is chance
        page.get_by_text("Accuracy against the true labels, round by round").wait_for(timeout=60_000)
        assert page.locator('[class*="st-key-teach-next-2-"][class*="-new"] input').count() > 0  # new suggestions
        page.get_by_text("Let it label the rest").first.evaluate("node => node.scrollIntoView()")
        screenshot(page, tmp_path, "labels_teach", full_page=False)
        page.get_by_text("Label these next").first.evaluate("node => node.scrollIntoView()")
        screenshot(page, tmp_path, "labels_teach_next", full_page=False)

        accept = page.get_by_role("button", name=re.compile(r"^Accept [\d,]+ predictions$"))
        accepting = int(re.search(r"Accept ([\d,]+)", single(accept).inner_text()).group(1).replace(",", ""))
        assert 0 < accepting <= len(truth) - TAUGHT
        accept.click()
        said(page, f"Accepted {accepting:,} predictions")
        wait_for_app_idle(page)
        assert labelled(page) == TAUGHT + accepting
        single(page.get_by_role("button", name="Undo: Accepted", exact=False)).click()
        page.get_by_text("Undone: Accepted").first.wait_for(timeout=60_000)
        wait_for_app_idle(page)
        assert labelled(page) == TAUGHT
        assert_no_exception(page, "Labels, after undo")
