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

- `device_page`: a factory of watched pages in a fresh context shaped like one of VIEWPORTS
  ("pixel-7", "iphone-13": Playwright's device descriptors, the iPhone's on Chromium since
  WebKit is not installed; "desktop");
- `axe_source` (session): axe-core's script (`make axe-core`: build/axe-core/axe.min.js,
  pinned and integrity-checked); locally the tests skip without it, under CI they fail.

`fit_problems(page)` and `axe_problems(page, axe_source)` are the phone and accessibility
checks: a page scrolls sideways, something a finger presses is under 44 px, or axe-core
finds a serious or critical violation; each problem is a line that says where.

While the browser lives, Playwright's event loop counts as running in the main thread: a
later test in the same run cannot call asyncio.run() there (none does; servers that need a
loop run it in their own thread)."""

from __future__ import annotations

import contextlib
import json
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
VIEWPORTS = ("pixel-7", "iphone-13", "desktop")
PHONE_WIDTH = 360
"""The narrowest phone a page must fit (the devices above are 412 and 390 px wide)."""
TAP = 44
"""The smallest tap target, in CSS pixels, each way."""
AXE = Path(os.environ.get("FACEWATCH_AXE", Path(__file__).resolve().parents[1] / "build/axe-core/axe.min.js"))
AXE_IMPACTS = ("serious", "critical")


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
        """A full-page screenshot kept at `path`, one image pixel per CSS pixel (a phone's too)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True, scale="css")
        return path


def device(playwright: Playwright, name: str) -> dict[str, Any]:
    """The context options of one of VIEWPORTS: a phone's descriptor (its viewport, user
    agent, pixel ratio, touch), on Chromium whatever browser it names."""
    if name == "desktop":
        return {"viewport": VIEWPORT}
    descriptor = {"pixel-7": "Pixel 7", "iphone-13": "iPhone 13"}[name]
    options = dict(playwright.devices[descriptor])
    options.pop("default_browser_type", None)
    return options


# Where a page is wider than its screen, and what a finger cannot hit: every visible link,
# button, form control and summary, measured as laid out (a control inside its label is
# hit through the label, so the label's box counts); and pictures sent far bigger than shown.
_FIT = """(tap) => {
  const root = document.scrollingElement;
  const wide = root.scrollWidth > root.clientWidth
    ? [`scrolls sideways: ${root.scrollWidth}px of content in ${root.clientWidth}px`] : [];
  const small = [];
  for (const el of document.querySelectorAll(
      "a[href], button, input:not([type=hidden]), select, textarea, summary")) {
    if (!el.checkVisibility({visibilityProperty: true})) continue;
    const target = el.matches("input, select, textarea") && el.closest("label") || el;
    const box = target.getBoundingClientRect();
    if (box.width < tap || box.height < tap) {
      const name = (el.getAttribute("aria-label") || el.textContent || el.name || el.type || "").trim();
      small.push(`tap target under ${tap}px: <${el.tagName.toLowerCase()}> "${name.slice(0, 40)}" `
        + `${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  // A picture sent far wider than it is shown is a frame the phone scales down.
  const heavy = [...document.images]
    .filter(i => i.complete && i.naturalWidth > Math.max(320, 2 * i.clientWidth * devicePixelRatio))
    .map(i => `picture ${i.naturalWidth}px wide shown at ${i.clientWidth}px: `
      + `"${i.alt.slice(0, 40)}" ${i.currentSrc.slice(-60)}`);
  return wide.concat(small, heavy);
}"""


def fit_problems(page: Any) -> list[str]:
    """What does not fit a finger or the screen on the page as it is now shown."""
    return list(page.evaluate(_FIT, TAP))


def axe_problems(page: Any, axe_source: str) -> list[str]:
    """axe-core's serious and critical violations on the page, one line per rule with the
    elements it found. Injected through the DevTools protocol (evaluate), so the console's
    Content-Security-Policy, which allows no script but its own, stays on."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ') + ': '"
        " + n.failureSummary.split('\\n').slice(1).join(' '))}))"
    )
    return [
        f"axe {v['impact']} {v['id']} ({v['help']}): " + json.dumps(v["nodes"][:5])
        for v in violations
        if v["impact"] in AXE_IMPACTS
    ]


def watched_page(context: BrowserContext) -> WatchedPage:
    """A new page of `context`, watched from before its first request."""
    return WatchedPage(context.new_page())


@pytest.fixture(scope="session")
def playwright_run() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI: the browser tests need chromium at {CHROMIUM} (make chromium)")
        pytest.skip(f"chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_run: Playwright) -> Iterator[Browser]:
    chromium = launch(playwright_run)
    yield chromium
    with contextlib.suppress(PlaywrightError):  # already gone: nothing left to close
        chromium.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI: the accessibility checks need axe-core at {AXE} (make axe-core)")
        pytest.skip(f"axe-core is not at {AXE} (make axe-core)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def device_page(browser: Browser, playwright_run: Playwright) -> Iterator[Callable[..., WatchedPage]]:
    """Make watched pages, each in a fresh context shaped like a viewport of VIEWPORTS
    (desktop by default); each is checked for problems after the test."""
    made: list[tuple[BrowserContext, WatchedPage]] = []

    def make(viewport: str = "desktop") -> WatchedPage:
        context = browser.new_context(**device(playwright_run, viewport))
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
def new_page(device_page: Callable[..., WatchedPage]) -> Callable[[], WatchedPage]:
    """Make watched pages, each in a fresh desktop context, all checked the same way."""
    return lambda: device_page("desktop")


@pytest.fixture
def page(new_page: Callable[[], WatchedPage]) -> WatchedPage:
    """A watched page in a fresh context; the test fails if it had problems it did not expect."""
    return new_page()
