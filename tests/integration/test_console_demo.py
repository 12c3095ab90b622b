"""Issue 15's check, as a person would run it: `facewatch demo --keep-running` prints a
`console:` line; opening it in a real browser shows the demo household's visits (the
stranger's one visit as one card, the unsure faces folded), its faces, its two
known people and its strangers; naming a stranger there re-labels their past faces. And
`facewatch console-link`, pointed at that stack by the demo's exports, signs in too.

With FACEWATCH_SCREENSHOTS=DIR (`make console-screenshots`), two screenshots of each page
in the demo state are written to DIR (docs/console/ in the repository): NAME.png on a
desktop and NAME-phone.png on a Pixel 7 (the same session, its cookie copied)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration
SCREENSHOTS = os.environ.get("FACEWATCH_SCREENSHOTS")


def loaded(page: Any) -> None:
    """Every picture on the page done loading: leaving earlier aborts them, which the
    page's watcher rightly counts as a problem."""
    page.wait_for_function("() => [...document.images].every(img => img.complete)")


def shot(page: Any, name: str, phone: Any) -> None:
    if SCREENSHOTS:
        page.snapshot(Path(SCREENSHOTS) / f"{name}.png")
        if not phone.context.cookies():
            phone.context.add_cookies(page.context.cookies())
        phone.goto(page.url)
        phone.snapshot(Path(SCREENSHOTS) / f"{name}-phone.png")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The demo, left running: its `console:` link and the exports it printed."""
    out_dir = tmp_path_factory.mktemp("demo") / "outbox"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEWATCH_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "facewatch.cli", "demo", "--outbox", str(out_dir), "--keep-running"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    found: dict[str, str] = {}
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.strip().startswith("export "):
                found.update(item.split("=", 1) for item in line.split()[1:])
            if line.startswith("console: "):
                found["console"] = line.removeprefix("console: ").strip()
                break
        assert "console" in found, "the demo never printed its console: line"
        yield found
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert json.loads(out.strip().splitlines()[-1])["emails"] >= 1


def test_the_demos_console_line_opens_the_demo_household(demo, page, device_page):
    page.set_default_timeout(90_000)
    phone = device_page("pixel-7")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/signin\?token=[\w.-]+", demo["console"])
    page.goto(demo["console"])
    page.click("#signin button")
    # Visits first: the stranger who came once is one card, above the folded unsure faces.
    page.wait_for_url(re.compile(r"/visits$"))
    assert page.locator("#visits li.visit.stranger").count() == 1
    assert page.locator("#folded li.fold").count() >= 1
    loaded(page)
    shot(page, "visits", phone)
    page.locator("#visits li.visit.stranger a").first.click()
    page.wait_for_selector("#visit-faces figure")
    assert page.locator("#who").inner_text().startswith("stranger-")
    loaded(page)
    shot(page, "visit", phone)
    base = page.url.split("/visit")[0]
    page.locator("h1 a[href^='/person']").click()
    page.wait_for_url(re.compile(r"/person\?who=stranger-"))
    loaded(page)
    shot(page, "person", phone)
    page.goto(base + "/visits")
    page.locator("#folded summary").click()
    page.locator("#folded li.fold a").first.click()
    page.wait_for_url(re.compile(r"/unsure\?camera="))
    loaded(page)
    shot(page, "unsure", phone)
    page.goto(base + "/faces")
    assert page.locator("#faces figure").count() >= 10
    assert page.locator("#faces figure.stranger").count() >= 1
    loaded(page)
    shot(page, "faces", phone)
    page.locator("#faces figure a").first.click()
    page.wait_for_selector("#verdict")
    loaded(page)
    shot(page, "face", phone)
    page.goto(page.url.split("/face")[0] + "/people")
    names = page.eval_on_selector_all("section.person", "s => s.map(e => e.dataset.name)")
    assert sorted(names) == ["biden", "obama"]
    shot(page, "people", phone)
    page.click("#check-link")
    page.wait_for_url(re.compile(r"/check$"))
    assert page.locator("text=obama").count() >= 1
    loaded(page)
    shot(page, "check", phone)
    page.click("nav a[href='/cameras']")
    assert page.locator("tr[data-camera]").count() == 1
    shot(page, "cameras", phone)
    page.click("nav a[href='/settings']")
    shot(page, "settings", phone)
    page.click("nav a[href='/strangers']")
    page.wait_for_url(re.compile(r"/strangers$"))
    page.wait_for_selector("section.card")  # count() does not wait for the page to load
    cards = page.locator("section.card")
    assert cards.count() >= 1
    shot(page, "strangers", phone)
    stranger_id = cards.first.get_attribute("id")
    page.goto(page.url.replace("/strangers", f"/stranger?id={stranger_id}"))
    shot(page, "stranger", phone)
    # naming them: their past faces now carry the name, and say what they were
    page.fill("#name-form input[name=name]", "lin-manuel")
    page.click("#name-form button")
    page.wait_for_selector(".flash")
    assert f"{stranger_id} is now lin-manuel" in page.locator(".flash").inner_text()
    page.goto(page.url.split("/strangers")[0] + "/faces?person=lin-manuel")
    captions = page.locator("#faces figcaption").all_inner_texts()
    assert captions and any(f"was {stranger_id}" in c for c in captions)
    page.goto(page.url.split("/faces")[0] + "/visits")
    cards = page.locator("#visits li.visit[data-who='lin-manuel']")
    assert cards.count() == 1, " | ".join(c.inner_text().replace("\n", " ") for c in cards.all())


def test_console_link_signs_in_against_the_stack_the_cli_is_pointed_at(demo, page):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("FACEWATCH_")}, **demo}
    env.pop("console")
    made = subprocess.run(
        [sys.executable, "-m", "facewatch.cli", "console-link", "--household", "home", "--ttl", "5m"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    assert link.startswith(demo["FACEWATCH_CONSOLE_URL"].rstrip("/") + "/signin?token=")
    page.goto(link)
    page.click("#signin button")
    page.wait_for_url(re.compile(r"/visits$"))
    assert "home" in page.locator("nav").inner_text()
