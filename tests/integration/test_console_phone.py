"""Issue 28's phone and accessibility checks, on every page of the console: signed in on a
Pixel 7, an iPhone 13 (Chromium with its viewport, user agent and touch) and a desktop, the
test follows the console's links until it has opened each page in app.PAGES, and on each:
nothing scrolls sideways (at the device's width and at 360 px), everything a finger
presses is at least 44 px, no picture is sent far bigger than it is shown, and axe-core
finds no serious or critical violation. The sign-in, error and signed-out pages and the
feedback link's pages get the same checks. One seeded household, one browser, one context
per viewport (tests/browser.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote, urljoin, urlsplit

import pytest

from facewatch.store.storage import Storage
from facewatch.templates import render
from facewatch.web.console.app import PAGES
from tests.browser import PHONE_WIDTH, VIEWPORTS, WatchedPage, axe_problems, fit_problems
from tests.console_site import Site

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def household(console_site: Site) -> Site:
    """The seeded household as the scene left it, once for the module, plus one face in no
    visit (the street's walkers are all in visits): the folded line and its page must be
    walked too. No test here changes it; the next module's restore() takes the face away."""
    console_site.restore()
    add_a_face_in_no_visit(console_site.storage)
    return console_site


def add_a_face_in_no_visit(storage: Storage, household: str = "home") -> None:
    """A passer-by's unsure face: a copy of a seeded frame under a new key, its one face
    judged unsure and in no visit, written and summarised as recognize writes results."""
    from facewatch.layout import FrameKey
    from facewatch.recognize.day_index_store import DayIndexStore

    result_key = next(iter(storage.list_keys(f"households/{household}/results/")))
    result = storage.get_json(result_key)
    seeded = FrameKey.parse(result["frame_key"])
    key = FrameKey.new(household, seeded.camera, datetime.fromisoformat(result["captured_at"]))
    storage.put(str(key), storage.get(result["frame_key"]).body, content_type="image/jpeg")
    face = {**result["faces"][0], "verdict": "unsure", "name": None, "distance": None}
    face.update(state="judged", reason="too blurred to judge", visit_id=None, stranger_id=None, alert=None)
    face["verdict_id"] = key.verdict_id(0)
    moved = {**result, "frame_key": str(key), "faces": [face], "alert": None}
    storage.put_json(key.result_key, moved)
    DayIndexStore(storage).record(household, [moved])


def checked(page: WatchedPage, axe_source: str, phone: bool) -> list[str]:
    """Every problem of the page as shown, on this screen and (a phone) at 360 px."""
    where = urlsplit(page.url)
    found = fit_problems(page) + axe_problems(page, axe_source)
    if phone:
        size = page.viewport_size
        page.set_viewport_size({"width": PHONE_WIDTH, "height": size["height"]})
        found += [f"at {PHONE_WIDTH}px: {p}" for p in fit_problems(page)]
        page.set_viewport_size(size)
    return [f"{where.path}?{where.query}: {p}" for p in found]


def walk(page: WatchedPage, site: Site, axe_source: str, phone: bool) -> tuple[list[str], list[str]]:
    """Open the console's pages by following its links (the first link to each page), from
    the home page: the pages opened, and their problems."""
    queue, opened, problems = [site.url], [], []
    while queue:
        page.goto(queue.pop(0))
        name = urlsplit(page.url).path.strip("/")
        opened.append(name)
        problems += checked(page, axe_source, phone)
        for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))"):
            url = urljoin(page.url, href)
            target = urlsplit(url).path.strip("/")
            queued = {urlsplit(q).path.strip("/") for q in queue}
            if url.startswith(site.url) and target in PAGES and target not in {*opened, *queued}:
                queue.append(url)
    return opened, problems


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_every_console_page_fits_the_screen_a_finger_and_axe_core(
    viewport: str, household: Site, device_page: Callable[..., WatchedPage], axe_source: str
) -> None:
    phone = viewport != "desktop"
    page = device_page(viewport)
    page.set_default_timeout(60_000)
    page.goto(household.link())
    problems = checked(page, axe_source, phone)  # the sign-in page
    page.click("#signin button")
    page.wait_for_url(re.compile(r"/\w+"))
    opened, found = walk(page, household, axe_source, phone)
    problems += found
    assert sorted(opened) == sorted(PAGES), f"the console's links reach only {sorted(opened)}"
    page.expect_status(404)
    page.goto(f"{household.url}no-such-page")
    problems += checked(page, axe_source, phone)
    page.goto(household.url)
    page.click("nav form button")  # sign out
    page.wait_for_url(re.compile("/signedout$"))
    problems += checked(page, axe_source, phone)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("viewport", ["pixel-7", "desktop"])
def test_the_feedback_links_pages_fit_and_pass_axe_core(
    viewport: str, device_page: Callable[..., WatchedPage], axe_source: str
) -> None:
    """The "I know this person" link's three pages (web/feedback.py renders these templates),
    shown as the browser would get them."""
    page = device_page(viewport)
    pages = {
        "form": render("feedback_form.html", household="home", token="t.t", refused=None),
        "done": render(
            "feedback_done.html",
            name="rose",
            naming=type("Naming", (), {"stranger": None, "learned": 1, "warnings": ()})(),
            again=type("Again", (), {"checked": 12, "now_known": 3})(),
        ),
        "used": render("feedback_used.html", used={"name": "rose", "on": "2025-01-01"}),
    }
    problems = []
    for name, html in pages.items():
        page.set_content(html)
        problems += [f"{name}: {p}" for p in checked(page, axe_source, viewport != "desktop")]
    assert problems == [], "\n".join(problems)


BAD_PAGE = """<!doctype html><html lang="en"><head><title>bad</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>
<h1>bad</h1><div style="width:900px">too wide</div>
<button style="padding:0;font-size:10px">x</button>
<input name="unlabelled">
<p style="color:#bbb;background:#fff">too faint to read</p>
</main></body></html>"""


def test_the_checks_find_what_a_phone_and_axe_core_would(
    device_page: Callable[..., WatchedPage], axe_source: str
) -> None:
    """The checks above can fail: a page too wide, a tiny button, an unlabelled field and
    faint text are each reported."""
    page = device_page("pixel-7")
    page.set_content(BAD_PAGE)
    fit = fit_problems(page)
    assert any(p.startswith("scrolls sideways") for p in fit)
    assert any('<button> "x"' in p for p in fit) and any("<input>" in p for p in fit)
    axe = axe_problems(page, axe_source)
    assert any(" label " in p for p in axe) and any(" color-contrast " in p for p in axe)


def test_pictures_come_at_the_width_asked_and_no_other(
    household: Site, device_page: Callable[..., WatchedPage]
) -> None:
    """A face's frame at w=320 is a 320 px JPEG (a phone never loads the whole frame for a
    thumbnail); a width the pages do not use is refused with a clear 400."""
    import cv2
    import numpy as np

    page = device_page("desktop")
    page.set_default_timeout(60_000)
    page.goto(household.link(next_path="/strangers"))
    page.click("#signin button")
    page.wait_for_url(re.compile("/strangers$"))
    face = household.strangers()[0].recent[0].verdict_id
    base = f"{household.url}image/frame?id={quote(face, safe='')}"
    whole, small, face_small = (
        page.request.get(url) for url in (base, f"{base}&w=320", base.replace("frame?", "face?") + "&w=160")
    )
    widths = [
        cv2.imdecode(np.frombuffer(r.body(), np.uint8), cv2.IMREAD_COLOR).shape[1]
        for r in (whole, small, face_small)
    ]
    assert widths[0] > 320 and widths[1] == 320 and widths[2] <= 160
    assert small.headers["content-type"] == "image/jpeg" and len(small.body()) < len(whole.body())
    refused = page.request.get(f"{base}&w=333")
    assert refused.status == 400 and "w must be one of" in refused.text()
