"""Questions "Is this X?" answered on the console in a real Chromium, against the console
process on a real S3 server: a yes on the face's page puts the face among X's photos (as
"this is X" does), a no on the visit's page puts it among X's negatives; each answer takes
its question away, and an answer that no longer has a question is a clear page that
changes nothing. Also the way in of an alert's link: its session answers for its own face."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

import numpy as np
import pytest

from facewatch.layout import FrameKey
from facewatch.recognize.known import load_gallery
from facewatch.recognize.negatives import load_negatives
from facewatch.recognize.question_store import QuestionStore
from facewatch.recognize.questions import NearMiss, NearMissKind
from facewatch.records import Question
from tests.browser import PHONE_WIDTH, axe_problems, fit_problems
from tests.console_site import SECRET, Site, signed_in

pytestmark = pytest.mark.integration


def note(page) -> str:
    return page.locator(".flash").inner_text()


def ask(site: Site, verdict_id: str, person: str, seed: int = 0) -> Question:
    """A question waiting about a face the walk judged a stranger, as recognize leaves one."""
    key, index = FrameKey.from_verdict_id(verdict_id)
    frame_key = str(site.result(verdict_id)["frame_key"])
    vector = np.random.default_rng(seed).normal(size=128) * 3  # far from any other question
    miss = NearMiss(frame_key, index, person, 0.6, NearMissKind.BEYOND, tuple(vector.tolist()))
    asked = QuestionStore(site.storage).offer(key.household, [miss], now=datetime.now(UTC), same_person=0.55)
    return asked[index]


def waiting(site: Site) -> dict[str, int]:
    return dict(QuestionStore(site.storage).waiting("home"))


def test_yes_on_the_face_page_adds_the_face_to_the_persons_photos(page, site):
    face = site.strangers()[0].recent[-1].verdict_id
    question = ask(site, face, "biden")
    before = waiting(site).get("biden", 0)
    photos = load_gallery(site.storage, "home")[0].names.count("biden")
    signed_in(page, site)
    page.goto(f"{site.url}face?id={quote(face, safe='')}")
    assert "Is this biden?" in page.locator("#question").inner_text()
    page.click("#answer-yes")
    page.wait_for_selector(".flash")
    assert "now one of biden's photos" in note(page)
    assert load_gallery(site.storage, "home")[0].names.count("biden") > photos
    assert waiting(site).get("biden", 0) == before - 1
    assert page.locator("#question-form").count() == 0  # answered: asked no more
    # The same answer again (a second tab, a replayed form) is refused and changes nothing.
    page.expect_status(400)
    page.goto(f"{site.url}face?id={quote(face, safe='')}")
    page.evaluate(
        """([q, v, csrf]) => { const f = document.createElement('form'); f.method = 'post';
        f.action = '/questions/answer';
        for (const [k, val] of Object.entries({question_id: q, verdict_id: v, answer: 'yes', csrf}))
          { const i = document.createElement('input'); i.name = k; i.value = val; f.append(i); }
        document.body.append(f); f.submit(); }""",
        [question.question_id, face, page.locator("input[name=csrf]").first.input_value()],
    )
    page.wait_for_selector("#message")
    assert "answered already" in page.locator("#message").inner_text()


def test_no_on_the_visit_page_adds_the_face_to_the_persons_negatives(device_page, axe_source, site):
    face = site.strangers()[1].recent[-1].verdict_id
    ask(site, face, "obama", seed=1)
    page = signed_in(device_page("pixel-7"), site)
    page.goto(f"{site.url}visit?id={quote(face, safe='')}")
    assert "Is this obama?" in page.locator("#question").inner_text()
    # On a phone: it fits, each button takes a finger, and axe-core finds nothing serious.
    assert fit_problems(page) + axe_problems(page, axe_source) == []
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
    assert fit_problems(page) == []
    page.click("#answer-no")
    page.wait_for_selector(".flash")
    assert "not obama" in note(page)
    assert re.search(r"/visit\?id=", page.url)
    negatives, _ = load_negatives(site.storage, "home")
    assert negatives.names == ["obama"] and negatives.photo_keys == [face]
    assert "obama" not in waiting(site)


def test_an_alerts_session_answers_the_question_about_its_face(page, site):
    from facewatch.alerts.links import alert_links
    from facewatch.config import Settings
    from facewatch.records import Alert, FaceVerdict
    from facewatch.web.console.views import one_face

    face = site.strangers()[2].recent[-1].verdict_id
    question = ask(site, face, "biden", seed=2)
    row = one_face(site.storage, "home", face)
    alert = Alert(
        alert_id="q1",
        household="home",
        camera=row.camera,
        bucket=site.storage.bucket,
        frame_key=row.frame_key,
        captured_at=datetime.now(UTC),
        faces_in_frame=1,
        faces=[FaceVerdict(box=row.box, verdict="stranger", verdict_id=face)],
        question=question,
    )
    settings = Settings(_env_file=None, bucket=site.storage.bucket, link_secret=SECRET, console_url=site.url)  # type: ignore[call-arg]
    link = alert_links(alert, site.storage, settings, datetime.now(UTC)).console_url
    assert link is not None
    page.set_default_timeout(90_000)
    page.goto(link)
    page.click("#signin button")
    page.wait_for_url(re.compile(r"/visit\?id="))
    assert "Is this biden?" in page.locator("#question").inner_text()
    page.click("#answer-no")
    page.wait_for_selector(".flash")
    assert "not biden" in note(page)
    assert load_negatives(site.storage, "home")[0].photo_keys == [face]
