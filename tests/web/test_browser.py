"""`newsflow web` in a real browser: the command runs as its own process over a real index (the
embedded SQLite file, and the Elasticsearch node under a unique alias), and headless Chromium
(the system's package, driven by Selenium through the system's chromedriver) searches, clicks a
facet, opens a story, and checks that the hostile article's script never ran.

Skipped only when Chromium or chromedriver is not installed (``apt-get install chromium
chromium-driver``; .ci/run installs them). ``NEWSFLOW_SCREENSHOTS=<dir>`` saves a PNG of each
screen there (the README's pictures: docs/web-*.png).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from benchmarks.corpus import free_port

from .corpus import HOSTILE, SENTINEL
from .serve import web

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="Chromium or chromedriver is not installed (apt-get install chromium chromium-driver)"
)
SCREENSHOTS = os.environ.get("NEWSFLOW_SCREENSHOTS")
FEED_NAME = "Wire feed"  # markup in feed names: test_page.py


@pytest.fixture
def server(indexed, tmp_path):
    """`newsflow web` on a free loopback port, over the ``indexed`` corpus; its URL."""
    config = tmp_path / "newsflow.toml"
    config.write_text(
        f'data_dir = "{indexed.data_dir}"\n\n[[feeds]]\nurl = "https://feeds.example/rss"\nname = {FEED_NAME!r}\n\n'
        + indexed.config_toml,
        encoding="utf-8",
    )
    port = free_port()
    with web("--config", str(config), port=port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000", "--disable-gpu"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver, name: str, backend: str) -> None:
    if SCREENSHOTS and backend == "sqlite":
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SCREENSHOTS) / f"web-{name}.png"))


def navigate(driver, action) -> None:
    """Do ``action`` (a click on a link, Enter in the search box) and wait until the next page has
    replaced this one: a form's Enter returns before the browser has even left the page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    action()
    wait = WebDriverWait(driver, 30)
    wait.until(expected_conditions.staleness_of(old))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def assert_no_script_ran(driver) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    assert driver.execute_script(f"return typeof window.{SENTINEL}") == "undefined"
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text


def test_search_facet_story_in_chromium(server, browser, indexed):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server + "/")
    assert browser.find_element(By.ID, "total").text == "6"
    assert "Wire feed" in browser.find_element(By.ID, "feeds").text
    box = browser.find_element(By.NAME, "q")
    navigate(browser, lambda: box.send_keys("riyadh", Keys.ENTER))
    assert parse_qs(urlsplit(browser.current_url).query) == {"q": ["riyadh"]}
    assert browser.find_element(By.ID, "total").text == "3"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#histogram .histogram a")) == 3
    shot(browser, "search", indexed.backend)

    navigate(browser, browser.find_element(By.CSS_SELECTOR, '#facet-site a[data-facet="site"][href*="Paper+C"]').click)
    assert parse_qs(urlsplit(browser.current_url).query) == {"q": ["riyadh"], "source": ["Paper C"]}
    assert browser.find_element(By.ID, "total").text == "1"
    hits = browser.find_elements(By.CSS_SELECTOR, "#results .hit h3")
    assert [h.text for h in hits] == ["What the Riyadh talks mean"]
    assert "source: Paper C" in browser.find_element(By.ID, "filters").text

    navigate(browser, browser.find_element(By.CSS_SELECTOR, "#filters a").click)  # remove the filter
    navigate(browser, browser.find_element(By.CSS_SELECTOR, "#stories a.story-link").click)
    assert urlsplit(browser.current_url).path == "/story/s-talks"
    assert browser.find_element(By.ID, "story-size").text == "3"
    rows = browser.find_elements(By.CSS_SELECTOR, "#members tr td:nth-child(2)")
    assert [r.text for r in rows] == ["Wire A", "Paper B", "Paper C"]
    assert "by Wire A" in browser.find_element(By.ID, "story-facts").text  # the story document, via the CLI's store
    shot(browser, "story", indexed.backend)
    assert_no_script_ran(browser)


def test_the_hostile_article_is_shown_as_text_and_its_script_never_runs(server, browser, indexed):
    from selenium.webdriver.common.by import By

    browser.get(server + "/?q=hostile")
    assert browser.find_element(By.ID, "total").text == "1"
    hit = browser.find_element(By.CSS_SELECTOR, "#results .hit")
    assert HOSTILE["title"] in hit.text  # the markup is visible as text
    assert browser.find_elements(By.CSS_SELECTOR, "#results .hit h3 a") == []  # javascript: is no link
    assert browser.find_elements(By.CSS_SELECTOR, "script, img, iframe, svg") == []
    assert_no_script_ran(browser)
    # Hovering and clicking what could have been a handler or a link does nothing either.
    browser.find_element(By.CSS_SELECTOR, "#results .hit h3").click()
    navigate(browser, browser.find_element(By.CSS_SELECTOR, "#stories a.story-link").click)
    assert HOSTILE["title"] in browser.find_element(By.ID, "story-title").text
    assert_no_script_ran(browser)
    navigate(browser, browser.back)
    navigate(browser, browser.find_element(By.CSS_SELECTOR, '#facet-persons a[href*="pwned"]').click)
    assert browser.find_element(By.ID, "total").text == "1"
    assert_no_script_ran(browser)
