"""The real headless Chromium (Debian's /usr/bin/chromium; no browser is downloaded), driven
through Playwright for Python, for the tests of every page facewatch shows.

A page is watched from its first request: console errors, uncaught exceptions in the page,
requests that fail and responses of status 400 or more all land in its `problems`, and the
`page` fixture fails the test at teardown if any did, so no browser test can miss a broken
image or a script error. A test that means to meet a problem says so first:

    def test_refused(page):
        page.expect_status(403)             # this one refusal is the point of the test
        page.goto(url)

    def test_broken(page):
        page.expect_problems()              # the test checks page.problems itself

Fixtures (registered in tests/conftest.py's pytest_plugins):
- `browser` (session): one Chromium for the whole run; locally the tests skip when it is
  not installed, under CI they fail;
- `page`: a `WatchedPage` in a fresh context (no cookies shared with any other test);
- `new_page`: more watched pages, each in its own fresh context (two households' browsers
  at once), all checked the same way.

While the browser lives, Playwright's event loop counts as running in the main thread: a
later test in the same run cannot call asyncio.run() there (none does; servers that need a
loop run it in their own thread)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    ViewportSize,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

CHROMIUM = os.environ.get("FACEWATCH_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


def launch(playwright: Playwright) -> Browser:
    """The system Chromium, headless."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


class WatchedPage:
    """A Playwright page whose problems are recorded in `problems`; everything else is the
    page's own API (`goto`, `click`, `evaluate`, `screenshot`, ...)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        self.problems_expected = False
        self._tolerated: list[re.Pattern[str]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self._record(f"uncaught: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.page, name)

    # --- what a test may say it expects ------------------------------------------------
    def expect_problems(self) -> list[str]:
        """The test checks `problems` itself: teardown does not fail on them."""
        self.problems_expected = True
        return self.problems

    def expect_status(self, status: int, url_part: str = "") -> None:
        """A response of `status` (at a URL containing `url_part`) is meant to happen: it,
        and the console line Chromium writes about it, are not problems."""
        part = re.escape(url_part)
        self._tolerated.append(re.compile(rf"^HTTP {status} .*{part}"))
        self._tolerated.append(re.compile(rf"^console\.error: .*status of {status}\b.*\(.*{part}.*\)$"))

    # --- the page's events ----------------------------------------------------------------
    def _record(self, problem: str) -> None:
        if not any(pattern.search(problem) for pattern in self._tolerated):
            self.problems.append(problem)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in {"error", "assert"}:
            self._record(f"console.{message.type}: {message.text} ({message.location.get('url', '')})")

    def _failed(self, request: Request) -> None:
        self._record(f"failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self._record(f"HTTP {response.status} {response.request.method} {response.url}")

    def snapshot(self, path: Path) -> Path:
        """A full-page screenshot kept at `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        return path


def watched_page(context: BrowserContext) -> WatchedPage:
    """A new page of `context`, watched from before its first request."""
    return WatchedPage(context.new_page())


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI: the browser tests need chromium at {CHROMIUM} (make chromium)")
        pytest.skip(f"chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        with contextlib.suppress(PlaywrightError):  # already gone: nothing left to close
            chromium.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], WatchedPage]]:
    """Make watched pages, each in a fresh context; each is checked for problems after the test."""
    made: list[tuple[BrowserContext, WatchedPage]] = []

    def make() -> WatchedPage:
        context = browser.new_context(viewport=VIEWPORT)
        watched = watched_page(context)
        made.append((context, watched))
        return watched

    yield make
    # Read before closing: closing a context aborts what is still loading, which is no fault.
    found = [list(watched.problems) for _, watched in made if not watched.problems_expected]
    for context, _ in made:
        context.close()
    assert [problems for problems in found if problems] == [], "a page had problems"


@pytest.fixture
def page(new_page: Callable[[], WatchedPage]) -> WatchedPage:
    """A watched page in a fresh context; the test fails if it had problems it did not expect."""
    return new_page()
