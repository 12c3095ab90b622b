"""The report page in a real headless Chromium (Playwright, tests/browser.py): made from a
household that saw a street scene (recognize's real code, a real S3 server), opened from
the file and through a presigned link to the bucket; it loads with no console error, failed
request or uncaught exception, and every image shows. A screenshot is kept in
test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from facewatch.config import Settings
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.web.report import build_report, upload_report, write_report
from tests.conftest import REPO, run_cli
from tests.street import FIRST_WALK, Collected, enroll_household, walk_by

pytestmark = pytest.mark.integration
ARTIFACTS = REPO / "test-artifacts"

IMAGES = "[...document.images].map(i => [i.complete, i.naturalWidth, i.alt])"


@pytest.fixture
def seen_street(storage):
    enroll_household(storage)
    results = walk_by(storage, Collected(), FIRST_WALK, datetime.now(UTC) - timedelta(hours=1))
    return storage, results


def check_page(page, strangers):
    images = page.evaluate(IMAGES)
    assert len(images) >= 10
    broken = [alt for complete, width, alt in images if not (complete and width > 0)]
    assert broken == []
    text = page.inner_text("body")
    for stranger in strangers:
        assert stranger.stranger_id in text
    assert "biden" in text and "obama" in text
    assert page.locator("#visits figure").count() >= 10
    assert page.locator("#strangers .card").count() == len(strangers)
    assert page.problems == []


def test_the_report_page_shows_visits_known_people_and_strangers_in_a_real_browser(
    seen_street, page, tmp_path
):
    storage, _ = seen_street
    settings = Settings(bucket=storage.bucket)
    now = datetime.now(UTC)
    strangers = StrangerStore(storage).strangers("home", now=now, memory=timedelta(days=30))
    assert len(strangers) == 3
    html = build_report(storage, "home", settings, now=now, since=timedelta(days=1))
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")  # self-contained
    path = write_report(html, tmp_path / "report")

    page.goto(path.as_uri())
    check_page(page, strangers)
    shot = page.snapshot(ARTIFACTS / "report.png")
    assert shot.stat().st_size > 10_000

    # The same page stored in the bucket and opened through its presigned link.
    url = upload_report(storage, "home", html, 600)
    page.goto(url)
    check_page(page, strangers)


def test_the_report_page_fits_a_phone(seen_street, new_page, tmp_path):
    """On a phone-sized screen the faces wrap into the width: nothing scrolls sideways."""
    storage, _ = seen_street
    html = build_report(
        storage, "home", Settings(bucket=storage.bucket), now=datetime.now(UTC), since=timedelta(days=1)
    )
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(write_report(html, tmp_path / "report").as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.snapshot(ARTIFACTS / "report-phone.png")


def test_a_page_that_breaks_is_caught(page, tmp_path):
    """The checks above can fail: a missing image, a script error, a console error and a
    refused request are all reported."""
    problems = page.expect_problems()
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!doctype html><img src='gone.jpg' alt='gone'>"
        "<script>console.error('said so'); throw new Error('boom')</script>"
    )
    page.goto(bad.as_uri())
    assert page.evaluate(IMAGES) == [[True, 0, "gone"]]
    assert any(p.startswith("uncaught:") and "boom" in p for p in problems)
    assert any(p.startswith("console.error: said so") for p in problems)
    assert any(p.startswith("failed:") and "gone.jpg" in p for p in problems)


def test_an_error_status_is_a_problem_unless_expected(page):
    """A response of 400 or more is a problem; one the test says it expects is not."""
    gone = "<!doctype html><link rel='icon' href='data:,'><p>gone</p>"
    page.route("http://facewatch.test/**", lambda route: route.fulfill(status=404, body=gone))
    missing = "http://facewatch.test/none.html"
    page.goto(missing)
    assert any(p.startswith("HTTP 404") for p in page.problems)
    page.problems.clear()
    page.expect_status(404, "none.html")
    page.goto(missing)
    assert page.problems == []


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
