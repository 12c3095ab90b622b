"""The report page in a real headless Chromium: made from a household that saw a street
scene (recognize's real code, a real S3 server), opened from the file and through a
presigned link to the bucket; it loads with no console error and every image shows.
A screenshot is kept in test-artifacts/."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from facewatch.config import Settings
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.web.report import build_report, upload_report, write_report
from tests.browser import CHROMIUM, Browser
from tests.conftest import REPO, run_cli
from tests.street import FIRST_WALK, Collected, enroll_household, walk_by

pytestmark = pytest.mark.integration
ARTIFACTS = REPO / "test-artifacts"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"CI: the report browser test needs chromium at {CHROMIUM} (make chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

IMAGES = "[...document.images].map(i => [i.complete, i.naturalWidth, i.alt])"


@pytest.fixture
def seen_street(storage):
    enroll_household(storage)
    results = walk_by(storage, Collected(), FIRST_WALK, datetime.now(UTC) - timedelta(hours=1))
    return storage, results


@pytest.fixture
def browser(tmp_path):
    chromium = Browser(tmp_path / "profile", tmp_path / "chromium.log")
    yield chromium
    chromium.close()


def check_page(browser, strangers):
    images = browser.evaluate(IMAGES)
    assert len(images) >= 10
    broken = [alt for complete, width, alt in images if not (complete and width > 0)]
    assert broken == []
    text = browser.evaluate("document.body.innerText")
    for stranger in strangers:
        assert stranger.stranger_id in text
    assert "biden" in text and "obama" in text
    assert browser.evaluate("document.querySelectorAll('#visits figure').length") >= 10
    assert browser.evaluate("document.querySelectorAll('#strangers .card').length") == len(strangers)
    assert browser.problems() == []


def test_the_report_page_shows_visits_known_people_and_strangers_in_a_real_browser(
    seen_street, browser, tmp_path
):
    storage, _ = seen_street
    settings = Settings(bucket=storage.bucket)
    now = datetime.now(UTC)
    strangers = StrangerStore(storage).strangers("home", now=now, memory=timedelta(days=30))
    assert len(strangers) == 3
    page = build_report(storage, "home", settings, now=now, since=timedelta(days=1))
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")  # self-contained
    path = write_report(page, tmp_path / "report")

    browser.open(path.as_uri())
    check_page(browser, strangers)
    shot = browser.screenshot(ARTIFACTS / "report.png")
    assert shot.stat().st_size > 10_000

    # The same page stored in the bucket and opened through its presigned link.
    url = upload_report(storage, "home", page, 600)
    browser.open(url)
    check_page(browser, strangers)


def test_a_page_that_breaks_is_caught(browser, tmp_path):
    """The checks above can fail: a missing image and a script error are both reported."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><img src='gone.jpg' alt='gone'><script>throw new Error('boom')</script>")
    browser.open(bad.as_uri())
    assert browser.evaluate(IMAGES) == [[True, 0, "gone"]]
    assert any("uncaught" in p for p in browser.problems())
    assert any("gone.jpg" in p for p in browser.problems())


def test_report_command_writes_the_page_and_refuses_a_bad_household(seen_street, tmp_path):
    storage, _ = seen_street

    def run(*args):
        return run_cli(storage, "report", *args, timeout=300)

    done = run("--household", "home", "--out", str(tmp_path / "out"), "--upload")
    assert done.returncode == 0, done.stderr
    path, url = done.stdout.split()
    assert Path(path) == tmp_path / "out" / "index.html"
    assert "stranger-" in Path(path).read_text()
    assert url.startswith("http") and "X-Amz-Signature" in url
    bad = run("--household", "Bad/Id", "--out", str(tmp_path / "nope"))
    assert bad.returncode == 2 and "invalid household" in bad.stderr
    assert not (tmp_path / "nope").exists()
