"""The questions "Is this X?" (issue 27) attacked, against the real console process on a real
S3 server: a session of one household answering another's question; an alert's one-face
session answering about another face, or forging the person; an answer replayed, sent
without its CSRF token or from another site, about a question that never was; an answer
whose face's frame retention has since deleted; and a person's name that is markup, on the
console's pages and in the alert email. Each attempt is counted in the figures
(attacks_tried, attack_bypasses); a refused one leaves the bucket as it was."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import cv2
import numpy as np
import pytest
import requests

from facewatch.alerts.home_assistant import visit_payload
from facewatch.alerts.links import Links
from facewatch.alerts.mail import build_alert_email
from facewatch.frames import Box
from facewatch.layout import FrameKey
from facewatch.recognize.negatives import load_negatives
from facewatch.recognize.question_store import QuestionStore
from facewatch.recognize.questions import NearMiss, NearMissKind
from facewatch.records import Alert, FaceVerdict, Question
from facewatch.tokens import sign_in_link
from tests.console_site import SECRET, Site, csrf, sign_in
from tests.reliability.attacker import attacked

pytestmark = pytest.mark.integration
MARKUP = "<script>alert(1)</script>"


def ask(site: Site, verdict_id: str, person: str, seed: int = 0) -> Question:
    """A question waiting about a face, as recognize leaves one (the person as given)."""
    key, index = FrameKey.from_verdict_id(verdict_id)
    frame_key = str(site.result(verdict_id)["frame_key"])
    vector = np.random.default_rng(seed).normal(size=128) * 3  # far from any other question
    miss = NearMiss(frame_key, index, person, 0.6, NearMissKind.BEYOND, tuple(vector.tolist()))
    asked = QuestionStore(site.storage).offer(key.household, [miss], now=datetime.now(UTC), same_person=0.55)
    return asked[index]


def waiting_ids(site: Site, household: str = "home") -> set[str]:
    return {q.question_id for q in QuestionStore(site.storage).waiting_questions(household)}


def face_only(site: Site, verdict_id: str) -> requests.Session:
    """The session an alert's link opens: that face only."""
    token = sign_in_link(SECRET, "home", now=datetime.now(UTC), ttl=timedelta(minutes=15), face=verdict_id)
    http = requests.Session()
    reply = http.post(f"{site.url}signin", data={"token": token}, allow_redirects=False)
    assert reply.status_code == 303, reply.text
    return http


def answer(http: requests.Session, site: Site, **fields: str) -> requests.Response:
    return http.post(f"{site.url}questions/answer", data=fields, allow_redirects=False)


def test_a_question_is_answered_by_its_own_household_with_its_token_from_its_own_site_once(site, figures):
    ours, other = (s.recent[-1].verdict_id for s in site.strangers()[:2])
    theirs = site.strangers("next-door")[0].recent[0].verdict_id
    question = ask(site, ours, "biden")
    their_question = ask(site, theirs, "obama", seed=1)
    http = sign_in(site)
    token = csrf(http, site, f"face?id={quote(ours, safe='')}")
    mine = {"question_id": question.question_id, "verdict_id": ours, "answer": "no"}
    before = site.objects()
    attacks = [
        # Household B's question, by its own face and by one of A's.
        (
            {"question_id": their_question.question_id, "verdict_id": theirs, "answer": "no"},
            403,
            "another household",
        ),
        (
            {"question_id": their_question.question_id, "verdict_id": ours, "answer": "no"},
            400,
            "answered already",
        ),
        # A's own question, about another of A's faces than the one asked about.
        ({**mine, "verdict_id": other}, 400, "about another face"),
        ({**mine, "question_id": "0123456789abcdef"}, 400, "answered already"),
        ({**mine, "question_id": ""}, 400, "no question_id"),
        ({**mine, "answer": "maybe"}, 400, "choose yes or no"),
    ]
    for form, status, words in attacks:
        reply = answer(http, site, **form, csrf=token)
        attacked(figures, reply.status_code < 400)
        assert reply.status_code == status and words in reply.text, (
            form,
            reply.status_code,
            reply.text[:300],
        )
    for headers, form in [
        ({}, mine),  # no CSRF token
        ({}, {**mine, "csrf": "forged"}),
        ({"Origin": "https://evil.example"}, {**mine, "csrf": token}),
        ({"Sec-Fetch-Site": "cross-site"}, {**mine, "csrf": token}),
    ]:
        reply = http.post(f"{site.url}questions/answer", data=form, headers=headers, allow_redirects=False)
        attacked(figures, reply.status_code < 400)
        assert reply.status_code == 403, (headers, reply.status_code)
    assert site.objects() == before
    assert their_question.question_id in waiting_ids(site, "next-door")

    assert answer(http, site, **mine, csrf=token).status_code == 303
    answered = site.objects()
    replay = answer(http, site, **mine, csrf=token)
    attacked(figures, replay.status_code < 400)
    assert replay.status_code == 400 and "answered already" in replay.text
    assert site.objects() == answered
    assert load_negatives(site.storage, "home")[0].photo_keys == [ours]


def test_yes_and_no_at_once_teach_one_answer_only(site, figures):
    """Two tabs, or a double tap on yes then no: one answer is taken; the other is refused
    having taught nothing (the face is not both biden's photo and not biden)."""
    from facewatch.recognize.known import load_gallery

    face = site.strangers()[0].recent[-1].verdict_id
    question = ask(site, face, "biden")
    http = sign_in(site)
    token = csrf(http, site, "faces")

    def said(yes_or_no: str) -> requests.Response:
        return answer(
            http, site, question_id=question.question_id, verdict_id=face, answer=yes_or_no, csrf=token
        )

    with ThreadPoolExecutor(2) as pool:
        replies = dict(zip(("yes", "no"), pool.map(said, ("yes", "no")), strict=True))
    named = any(
        face.split("#")[0].rsplit("/", 1)[1] in k for k in load_gallery(site.storage, "home")[0].photo_keys
    )
    denied = load_negatives(site.storage, "home")[0].photo_keys == [face]
    attacked(figures, named and denied)
    assert sorted(r.status_code for r in replies.values()) == [303, 400], replies
    assert (named, denied) == ((True, False) if replies["yes"].status_code == 303 else (False, True))


def test_an_alerts_session_answers_its_own_faces_question_and_only_as_asked(site, figures):
    face, other = (s.recent[-1].verdict_id for s in site.strangers()[:2])
    question = ask(site, face, "biden")
    elsewhere = ask(site, other, "obama", seed=1)
    http = face_only(site, face)
    token = csrf(http, site, f"visit?id={quote(face, safe='')}")
    before = site.objects()
    attacks = [
        ({"question_id": elsewhere.question_id, "verdict_id": other}, 403, "console link"),
        ({"question_id": elsewhere.question_id, "verdict_id": face}, 400, "about another face"),
    ]
    for form, status, words in attacks:
        reply = answer(http, site, **form, answer="yes", csrf=token)
        attacked(figures, reply.status_code < 400)
        assert reply.status_code == status and words in reply.text, (
            form,
            reply.status_code,
            reply.text[:300],
        )
    check = http.get(f"{site.url}check", allow_redirects=False)
    attacked(figures, check.status_code < 400)
    assert check.status_code == 403 and "console link" in check.text
    assert site.objects() == before

    # Its own question, with another person's name slipped in: the question's person counts.
    forged = {"question_id": question.question_id, "verdict_id": face, "answer": "no"}
    reply = answer(http, site, **forged, name="obama", person="obama", csrf=token)
    assert reply.status_code == 303, reply.text[:300]
    negatives = load_negatives(site.storage, "home")[0]
    attacked(figures, negatives.names != ["biden"])
    assert negatives.names == ["biden"] and negatives.photo_keys == [face]
    assert elsewhere.question_id in waiting_ids(site)


@pytest.mark.parametrize("gone", ["frame", "frame and result"])
def test_an_answer_about_a_face_retention_deleted_is_a_clear_refusal_and_the_question_leaves(
    site, figures, gone
):
    face = site.strangers()[0].recent[-1].verdict_id
    questions = {"no": ask(site, face, "biden"), "yes": ask(site, face, "obama", seed=1)}
    http = sign_in(site)
    token = csrf(http, site, "faces")
    site.storage.delete(str(site.result(face)["frame_key"]))  # the lifecycle rule's expiry
    if gone != "frame":
        site.storage.delete(FrameKey.from_verdict_id(face)[0].result_key)  # the sweep's
    words = "nothing to learn" if gone == "frame" else "never judged"
    for said, question in questions.items():
        reply = answer(http, site, question_id=question.question_id, verdict_id=face, answer=said, csrf=token)
        attacked(figures, reply.status_code != 400 or question.question_id in waiting_ids(site))
        assert reply.status_code == 400 and words in reply.text, (said, reply.status_code, reply.text[:300])
        assert question.question_id not in waiting_ids(site)
    assert load_negatives(site.storage, "home")[0].photo_keys == []


def test_a_persons_name_that_is_markup_stays_text_on_every_page_and_in_the_email(site, figures):
    face = site.strangers()[0].recent[-1].verdict_id
    question = ask(site, face, MARKUP)
    http = sign_in(site)
    for path in (f"face?id={quote(face, safe='')}", f"visit?id={quote(face, safe='')}", "check"):
        page = http.get(f"{site.url}{path}")
        assert page.status_code == 200, (path, page.text[:300])
        attacked(figures, MARKUP in page.text)
        assert MARKUP not in page.text, path
    assert (
        "Is this &lt;script&gt;alert(1)&lt;/script&gt;?"
        in http.get(f"{site.url}face", params={"id": face}).text
    )

    ok, jpeg = cv2.imencode(".jpg", np.zeros((120, 160, 3), np.uint8))
    assert ok
    alert = Alert(
        alert_id="q1",
        household="home",
        camera="door",
        bucket=site.storage.bucket,
        frame_key=question.frame_key,
        captured_at=datetime.now(UTC),
        faces_in_frame=1,
        faces=[FaceVerdict(box=Box(10, 10, 40, 40), verdict="stranger", verdict_id=face)],
        question=question,
    )
    links = Links("https://frame.example/f", None, "https://console.example/c", "https://console.example/q")
    message = build_alert_email(
        alert, jpeg.tobytes(), mail_from="fw@example.com", mail_to=["a@example.com"], links=links
    )
    html = message.get_body(preferencelist=("html",)).get_content()
    attacked(figures, MARKUP in html)
    assert MARKUP not in html and "&lt;script&gt;" in html
    sent = visit_payload(
        alert,
        kind="stranger",
        frame_url=links.frame_url,
        face_url=None,
        console_url=links.console_url,
        question_url=links.question_url,
    )
    assert sent["question"] == {"person": MARKUP, "url": links.question_url}  # JSON: data, never markup


@pytest.mark.parametrize("change", ["remove", "rename"])
def test_a_question_about_someone_since_removed_or_renamed_brings_no_one_back(site, figures, change):
    """ "Is this biden?" asked, then biden removed (or renamed joe): a yes from the face's
    page, or from an old alert's link, must not enroll a new "biden" from a stranger's face."""
    from facewatch.recognize.known import load_gallery

    face = site.strangers()[0].recent[-1].verdict_id
    question = ask(site, face, "biden")
    http = sign_in(site)
    token = csrf(http, site, "people")
    form = {"name": "biden", "new_name": "joe"} if change == "rename" else {"name": "biden"}
    moved = http.post(f"{site.url}people/{change}", data={**form, "csrf": token}, allow_redirects=False)
    assert moved.status_code == 303, moved.text[:300]
    photos = sorted(load_gallery(site.storage, "home")[0].names)
    reply = answer(http, site, question_id=question.question_id, verdict_id=face, answer="yes", csrf=token)
    names = sorted(load_gallery(site.storage, "home")[0].names)
    attacked(figures, "biden" in names)
    assert reply.status_code == 400 and "no longer known" in reply.text, (reply.status_code, reply.text[:300])
    assert names == photos
    assert question.question_id not in waiting_ids(site)
