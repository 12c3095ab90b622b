"""The alert email and its links over plain data: the face large first and then the frame,
both inline; the console link when the deployment has a console (and only for a stranger
alert with a verdict id); every name and id in the HTML shown as text, never as markup."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import pytest

from facewatch.alerts.links import Links, alert_links
from facewatch.alerts.mail import build_alert_email
from facewatch.config import Settings
from facewatch.frames import Box
from facewatch.records import Alert, FaceVerdict, Question
from facewatch.tokens import verify_face, verify_sign_in

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
SECRET = "link-secret-for-tests-0123456789abcdef"
BOX = Box(200, 120, 80, 80)
EVIL = "<script>alert(1)</script>"
VERDICT = "home/door/20261125/140000000000-abcdef123456#0"


def frame() -> bytes:
    image = np.full((480, 640, 3), 90, np.uint8)
    cv2.rectangle(image, (BOX.x, BOX.y), (BOX.x + BOX.w, BOX.y + BOX.h), (40, 180, 220), -1)
    return cv2.imencode(".jpg", image)[1].tobytes()


def alert(**kw: object) -> Alert:
    fields: dict[str, object] = {
        "alert_id": "a1",
        "household": "home",
        "camera": "door",
        "bucket": "b",
        "frame_key": "households/home/frames/door/20261125/140000000000-abcdef123456.jpg",
        "captured_at": NOW,
        "faces_in_frame": 1,
        "faces": [FaceVerdict(box=BOX, verdict="stranger", verdict_id=VERDICT)],
        "stranger_id": "stranger-0123456789",
    }
    return Alert.model_validate({**fields, **kw})


def parsed(message: email.message.EmailMessage) -> email.message.EmailMessage:
    """The message as a mail client reads it: sent as bytes, parsed again."""
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def html_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return part.get_content()


def text_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def related_images(message: email.message.EmailMessage) -> dict[str, bytes]:
    """The inline images of the HTML part, by Content-ID (without the angle brackets)."""
    [related] = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    return {
        str(p["Content-ID"]).strip("<>"): p.get_content()
        for p in related.iter_parts()
        if p.get_content_type() == "image/jpeg"
    }


def build(
    the_alert: Alert, links: Links | None = None, jpeg: bytes | None = None
) -> email.message.EmailMessage:
    message = build_alert_email(
        the_alert, jpeg or frame(), mail_from="fw@example.test", mail_to=["family@example.test"], links=links
    )
    return parsed(message)


def test_the_face_comes_large_first_then_the_frame_both_inline():
    message = build(
        alert(), Links("https://s3.example/frame", None, "https://console.example/signin?token=t")
    )
    page = html_of(message)
    cids = re.findall(r'src="cid:([^"]+)"', page)
    assert len(cids) == 2
    crop_cid, frame_cid = cids
    assert page.index('class="crop') < page.index('class="frame"')
    images = related_images(message)
    assert list(images) == [crop_cid, frame_cid]  # both are related parts, the face first
    crop = cv2.imdecode(np.frombuffer(images[crop_cid], np.uint8), cv2.IMREAD_COLOR)
    whole = cv2.imdecode(np.frombuffer(images[frame_cid], np.uint8), cv2.IMREAD_COLOR)
    assert whole.shape == (480, 640, 3)
    assert crop.shape[1] >= 160 and crop.shape[0] < whole.shape[0]  # the face, with its margin
    assert 'width="320"' in page.split('class="frame"')[0]  # shown large
    # the face is cut from the unmarked frame: its middle is the face's colour, no red box
    assert np.abs(crop[crop.shape[0] // 2, crop.shape[1] // 2].astype(int) - (40, 180, 220)).max() < 30
    # the boxed frame is still attached, as before
    [attached] = [p for p in message.iter_attachments() if p.get_filename()]
    assert attached.get_content() == images[frame_cid]


def test_the_console_link_is_there_when_the_deployment_has_a_console():
    console = "https://console.example/signin?token=abc.def"
    message = build(alert(), Links("https://s3.example/frame", "https://fb.example/?token=k", console))
    page = html_of(message)
    assert f'href="{console}"' in page and "Open in the console" in page
    assert page.index("Open in the console") < page.index("I know this person") < page.index("Full frame")
    text = text_of(message)
    assert f"Console: {console}" in text.splitlines()
    # the plain text keeps its lines
    assert "Full frame (link expires): https://s3.example/frame" in text
    assert "I know this person: https://fb.example/?token=k" in text
    assert "A stranger at camera door of household home" in text


@pytest.mark.parametrize("links", [Links("https://s3.example/frame", "https://fb.example/?token=k"), None])
def test_no_console_link_without_a_console(links):
    message = build(alert(), links)
    assert "console" not in html_of(message).lower()
    assert "Console:" not in text_of(message)


def test_names_and_ids_are_shown_as_text_never_as_markup():
    the_alert = alert(
        camera=f"door{EVIL}",
        household=f"home{EVIL}",
        kind="arrival",
        faces=[FaceVerdict(box=BOX, verdict="known", name=f"Bob{EVIL}")],
        stranger_id=f"s{EVIL}",
    )
    links = Links(f"https://s3.example/frame?x='{EVIL}", None, 'https://c.example/signin?token=a"b')
    page = html_of(build(the_alert, links))
    assert "<script" not in page
    assert "Bob&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "door&lt;script&gt;" in page and "home&lt;script&gt;" in page
    assert 'token=a&#34;b"' in page  # an attribute cannot be closed from inside a link


def test_a_box_outside_the_frame_costs_the_face_not_the_alert():
    message = build(alert(faces=[FaceVerdict(box=Box(900, 700, 50, 50), verdict="stranger")]))
    page = html_of(message)
    assert 'class="crop' not in page and len(re.findall(r"cid:", page)) == 1
    assert len(related_images(message)) == 1


class FakeStorage:
    def presigned_url(self, key: str, expires_seconds: int) -> str:
        return f"https://s3.example/{key}?Expires={expires_seconds}"


def settings(**kw: object) -> Settings:
    return Settings(_env_file=None, bucket="b", **kw)  # type: ignore[call-arg]


def test_the_console_link_signs_in_to_that_face_of_the_household_only():
    configured = settings(
        link_secret=SECRET, feedback_url="https://fb.example/", console_url="https://console.example/"
    )
    links = alert_links(alert(), FakeStorage(), configured, NOW)  # type: ignore[arg-type]
    assert links.console_url is not None
    url = urlsplit(links.console_url)
    assert (url.scheme, url.netloc, url.path) == ("https", "console.example", "/signin")
    [token] = parse_qs(url.query)["token"]
    claim = verify_sign_in(SECRET, token, now=NOW + timedelta(minutes=1))
    assert claim.household == "home"
    assert claim.face == VERDICT  # the session it opens reaches this face and its naming only
    assert claim.next_path == "/visit?id=home%2Fdoor%2F20261125%2F140000000000-abcdef123456%230"
    assert claim.expires == NOW + timedelta(seconds=configured.link_ttl_seconds)
    assert links.known_url is not None
    assert verify_face(SECRET, links.known_url.split("token=")[1], now=NOW).box == BOX


@pytest.mark.parametrize(
    ("given", "the_alert"),
    [
        ({"link_secret": SECRET}, alert()),  # no console
        ({"console_url": "https://console.example"}, alert()),  # no secret
        (
            {"link_secret": SECRET, "console_url": "https://console.example"},
            alert(faces=[FaceVerdict(box=BOX, verdict="stranger")]),  # no verdict id
        ),
        (
            {"link_secret": SECRET, "console_url": "https://console.example"},
            alert(kind="arrival", faces=[FaceVerdict(box=BOX, verdict="known", verdict_id="v#0")]),
        ),
    ],
)
def test_no_console_link_unless_secret_console_and_a_strangers_verdict(given, the_alert):
    links = alert_links(the_alert, FakeStorage(), settings(**given), NOW)  # type: ignore[arg-type]
    assert links.console_url is None
    assert links.frame_url.startswith("https://s3.example/")


# --- a question "Is this X?" in the alert -------------------------------------------------

OTHER = "households/home/frames/door/20261125/130000000000-fedcba654321.jpg"


def question(frame_key: str = OTHER, person: str = "obama") -> Question:
    return Question(
        question_id="q",
        household="home",
        person=person,
        frame_key=frame_key,
        face=0,
        distance=0.58,
        asked_at=NOW,
    )


def links_for(q: Question | None, **kw: object):
    configured = settings(link_secret=SECRET, console_url="https://console.example/", **kw)
    return alert_links(alert(question=q), FakeStorage(), configured, NOW)  # type: ignore[arg-type]


def test_the_question_link_signs_in_to_the_face_asked_about() -> None:
    links = links_for(question())
    assert links.question_url is not None and links.question_url != links.console_url
    token = parse_qs(urlsplit(links.question_url).query)["token"][0]
    assert verify_sign_in(SECRET, token, now=NOW).face == "home/door/20261125/130000000000-fedcba654321#0"


def test_a_question_about_the_alerted_face_is_answered_by_its_own_link() -> None:
    own = question(frame_key="households/home/frames/door/20261125/140000000000-abcdef123456.jpg")
    assert own.verdict_id == VERDICT
    links = links_for(own)
    assert links.question_url == links.console_url is not None


def test_no_question_link_without_a_question_or_a_console() -> None:
    assert links_for(None).question_url is None
    no_console = alert_links(alert(question=question()), FakeStorage(), settings(link_secret=SECRET), NOW)  # type: ignore[arg-type]
    assert no_console.question_url is None


def test_the_email_asks_in_text_and_escapes_the_name() -> None:
    q = question(person="Ann")
    message = build_alert_email(
        alert(question=q, stranger_id=EVIL), frame(), mail_from="a@b.c", mail_to=["d@e.f"], links=links_for(q)
    )
    assert "Is this <b>Ann</b>?" in html_of(message)
    assert EVIL not in html_of(message)
    without = build_alert_email(alert(question=q), frame(), mail_from="a@b.c", mail_to=["d@e.f"], links=None)
    assert "Is this" not in html_of(without)  # no link to answer by: not asked
