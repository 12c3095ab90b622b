"""Bodies sent at the functions as an attacker would (issue 24): detect (public: cameras
POST frames to it), recognize (storage webhooks, SNS), notify (internal, but reachable on
the compose network) and feedback (public), each a real functions-framework process on a
real S3 server. A body nobody asked for, of 200 MB and chunked so its length is unknown,
must be answered before it is sent, and the process's memory must stay flat (before these
checks, functions-framework read every refused request's whole body into memory, with no
limit); a declared length over the function's limit is refused unread; a body over the
limit sent with the right token is cut off. And a household's MQTT broker that the
outbound policy refuses gets nothing made for it: no face cut and kept in the bucket.

Each attempt adds to `attacks_tried`; one that got through adds to `attack_bypasses`."""

from __future__ import annotations

import contextlib
import select
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import cv2
import pytest
import requests

from facewatch.frames import Box
from facewatch.household.settings import HouseholdSettings, save_household_settings
from facewatch.layout import FrameKey, alert_face_key
from facewatch.records import Alert, FaceVerdict
from facewatch.store.storage import Storage
from facewatch.tokens import household_detect_token
from tests.conftest import clip_frame
from tests.reliability.attacker import attacked, chunk, snapshot, status_within

pytestmark = pytest.mark.integration

KB, MB = 1024, 1024 * 1024
HUGE = 200 * MB
"""What an attacker sends: far more than any function takes."""
FLAT_MB = 40
"""How much a process's peak memory may grow while it refuses a body (it reads at most its
limit, a few MB here)."""
DETECT_SECRET = "detect-secret-4b1d-0123456789abcdef-5a5a"
WEBHOOK_TOKEN = "webhook-token-77aa-0123456789abcdef-9c9c"
NOTIFY_TOKEN = "notify-token-31f0-0123456789abcdef-e2e2"
LINK_SECRET = "link-secret-0d0e-0123456789abcdef-f00d"
BUFFERED = 16 * MB
"""What the attacker's sends may be ahead of the server's reads: the sockets' buffers on
both sides (several MB on loopback) fill before a send waits."""
TOPIC = "arn:aws:sns:us-east-1:123456789012:facewatch-frames"


# --- the attacker's tools ------------------------------------------------------------------------


def open_post(url: str, target: str, headers: dict[str, str]) -> socket.socket:
    """A POST's head only, so far: the body is the attacker's to send, or not."""
    where = urlsplit(url)
    sock = socket.create_connection((where.hostname, where.port), timeout=30)
    lines = [f"POST {target} HTTP/1.1", f"Host: {where.netloc}", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def answered(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


@dataclass
class Sent:
    status: int | None
    """What the server answered (None: nothing, even once the whole body was sent)."""
    before: int
    """How many bytes of the body had been sent when the answer came."""


def push_chunked(sock: socket.socket, total: int, first: int = 64 * KB) -> Sent:
    """Send a chunked body of `total` bytes: `first` bytes, a few seconds for the server
    to answer a request it refuses without its body, then the rest a MB at a time, looking
    for an answer after each. The attack goes on after the answer, as an attacker's would,
    until all is sent or the server hangs up."""
    sent, status, before = 0, None, 0
    try:
        sock.sendall(chunk(b"x" * first))
        sent = first
        if select.select([sock], [], [], 5)[0]:
            status, before = status_within(sock, 5), sent
        block = chunk(b"x" * MB)
        while sent < total:
            sock.sendall(block)
            sent += MB
            if status is None and answered(sock):
                status, before = status_within(sock, 5), sent
        sock.sendall(b"0\r\n\r\n")
    except OSError:  # reset or broken pipe: the server stopped taking it
        pass
    if status is None:
        status, before = status_within(sock, 30), sent
    return Sent(status, before)


# --- the functions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Door:
    """One function as an attacker sees it: where to POST, what lets a request in, what it
    takes at most, and what it answers a body nobody asked for."""

    function: str
    env: dict[str, str]
    target: str
    limit: int
    content_type: str
    signed_in: dict[str, str]
    """The headers of a request it takes (its token)."""
    strangers: list[tuple[str, dict[str, str]]]
    """Requests it must refuse before reading their body: (what, headers)."""
    refusal: int = 401
    """What a stranger's huge body gets: 401 before it is read, or 413 where the sender is
    known only from the body (feedback's link, SNS's signature), once the limit is read."""
    extra: dict[str, str] = field(default_factory=dict)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


DOORS = {
    "detect": Door(
        "detect",
        {
            "FACEWATCH_DETECT_TOKEN": DETECT_SECRET,
            "FACEWATCH_DETECT_TOKEN_SCOPE": "household",
            "FACEWATCH_MAX_UPLOAD_BYTES": str(2 * MB),
        },
        "/?household=home&camera=door",
        2 * MB,
        "image/jpeg",
        bearer(household_detect_token(DETECT_SECRET, "home")),
        [
            ("no token", {}),
            ("another household's token", bearer(household_detect_token(DETECT_SECRET, "shop"))),
        ],
    ),
    "recognize": Door(
        "recognize",
        {"FACEWATCH_WEBHOOK_TOKEN": WEBHOOK_TOKEN},
        "/",
        MB,
        "application/json",
        bearer(WEBHOOK_TOKEN),
        [("no webhook token", {}), ("a wrong webhook token", bearer("wrong"))],
    ),
    # With SNS subscribed, a request without a token may be SNS's, signed inside its body:
    # it is read, but no further than the largest SNS message.
    "recognize-sns": Door(
        "recognize",
        {"FACEWATCH_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "FACEWATCH_SNS_TOPIC_ARNS": TOPIC},
        "/",
        MB,
        "application/json",
        bearer(WEBHOOK_TOKEN),
        [("no token, as SNS", {"x-amz-sns-message-type": "Notification"})],
        refusal=413,
    ),
    "notify": Door(
        "notify",
        {
            "FACEWATCH_NOTIFY_TOKEN": NOTIFY_TOKEN,
            "FACEWATCH_MAIL_TO": "household@example.test",
            "FACEWATCH_SMTP_HOST": "127.0.0.1",
            "FACEWATCH_SMTP_PORT": "9",  # nothing listens: no alert is meant to go out here
        },
        "/",
        256 * KB,
        "application/json",
        bearer(NOTIFY_TOKEN),
        [("no token", {}), ("a wrong token", bearer("wrong"))],
    ),
    # The link's token is inside the form: a form without one is refused once read, and
    # no more of it is read than a form holds.
    "feedback": Door(
        "feedback",
        {"FACEWATCH_LINK_SECRET": LINK_SECRET},
        "/",
        16 * KB,
        "application/x-www-form-urlencoded",
        {},
        [("a form with no link token", {})],
        refusal=413,
    ),
}


def start_door(start_function: Callable[..., Any], storage: Storage, door: Door) -> Any:
    process = start_function(door.function, FACEWATCH_BUCKET=storage.bucket, **door.env)
    # Warm up (imports, the first request's paths): the memory measured is the attack's.
    requests.post(f"{process.url.rstrip('/')}{door.target}", data=b"{}", timeout=60)
    return process


def headers_for(door: Door, given: dict[str, str], **more: str) -> dict[str, str]:
    return {"Content-Type": door.content_type, **given, **more}


@pytest.mark.parametrize("name", list(DOORS))
def test_a_strangers_huge_chunked_body_is_answered_before_it_is_sent_and_memory_stays_flat(
    start_function, storage, figures, name
):
    door = DOORS[name]
    process = start_door(start_function, storage, door)
    before = snapshot(storage)
    for what, given in door.strangers:
        baseline = process.peak_rss_mb()
        headers = headers_for(door, given, **{"Transfer-Encoding": "chunked"})
        with contextlib.closing(open_post(process.url, door.target, headers)) as sock:
            sent = push_chunked(sock, HUGE)
        time.sleep(0.5)
        grown = process.peak_rss_mb() - baseline
        # 401: answered after the first piece, before any more was sent; 413: once the
        # limit was read, long before the rest.
        in_time = sent.before <= (64 * KB if door.refusal == 401 else door.limit + BUFFERED)
        attacked(figures, sent.status != door.refusal or not in_time)
        attacked(figures, grown > FLAT_MB)
        assert grown < FLAT_MB, (what, f"peak memory grew by {grown:.0f} MB")
        assert sent.status == door.refusal, (what, sent)
        assert in_time, (what, f"answered only after {sent.before // KB} KB of the body")
    assert snapshot(storage) == before


@pytest.mark.parametrize("name", list(DOORS))
def test_a_declared_length_over_the_limit_is_refused_unread(start_function, storage, figures, name):
    """With the right token, a Content-Length one byte over the limit, and one of 300 MB:
    413 at once, with no byte of the body sent (a server that waited for it would hang)."""
    door = DOORS[name]
    process = start_door(start_function, storage, door)
    before = snapshot(storage)
    for length in (door.limit + 1, 300 * MB):
        headers = headers_for(door, door.signed_in, **{"Content-Length": str(length)})
        with contextlib.closing(open_post(process.url, door.target, headers)) as sock:
            status = status_within(sock, 10)
        attacked(figures, status != 413)
        assert status == 413, (length, status)
    assert snapshot(storage) == before


@pytest.mark.parametrize("name", list(DOORS))
def test_a_chunked_body_over_the_limit_is_cut_off_even_with_the_token(start_function, storage, figures, name):
    door = DOORS[name]
    process = start_door(start_function, storage, door)
    before = snapshot(storage)
    baseline = process.peak_rss_mb()
    headers = headers_for(door, door.signed_in, **{"Transfer-Encoding": "chunked"})
    total = 64 * MB
    with contextlib.closing(open_post(process.url, door.target, headers)) as sock:
        sent = push_chunked(sock, total)
    time.sleep(0.5)
    grown = process.peak_rss_mb() - baseline
    cut_off = sent.status == 413 and sent.before < total
    attacked(figures, not cut_off or grown > FLAT_MB)
    assert sent.status == 413, sent
    assert sent.before <= door.limit + BUFFERED, f"answered only after {sent.before // KB} KB of the body"
    assert grown < FLAT_MB, f"peak memory grew by {grown:.0f} MB"
    assert snapshot(storage) == before


def test_bodies_within_the_limits_are_still_taken(start_function, storage):
    """The controls: the limits refuse only what is over them."""
    detect = start_door(start_function, storage, DOORS["detect"])
    frame = cv2.imencode(".jpg", clip_frame())[1].tobytes()
    assert len(frame) < DOORS["detect"].limit
    reply = requests.post(
        f"{detect.url}?household=home&camera=door", data=frame, headers=DOORS["detect"].signed_in, timeout=90
    )
    assert reply.status_code in (200, 201), reply.text
    notify = start_door(start_function, storage, DOORS["notify"])
    # An alert of about 200 KB (800 faces; a real one has one) is read in full, then refused
    # for naming another bucket.
    alert = alert_of(storage, "home", faces=800).model_copy(update={"bucket": "another"})
    body = alert.model_dump_json().encode()
    assert 150 * KB < len(body) < DOORS["notify"].limit
    headers = {**DOORS["notify"].signed_in, "Content-Type": "application/json"}
    reply = requests.post(notify.url, data=body, headers=headers, timeout=60)
    assert reply.status_code == 400 and "names bucket 'another'" in reply.text, reply.text
    feedback = start_door(start_function, storage, DOORS["feedback"])
    reply = requests.post(feedback.url, data={"token": "not.a-token", "name": "x" * 10 * KB}, timeout=60)
    assert reply.status_code == 400 and "token" in reply.text.lower(), reply.text


# --- MQTT: a refused broker gets nothing made for it ---------------------------------------------


def alert_of(storage: Storage, household: str, faces: int = 1) -> Alert:
    """An alert about a frame of the household's (not stored: the caller stores one if it
    is to be read)."""
    return Alert(
        alert_id=uuid.uuid4().hex[:20],
        household=household,
        camera="door",
        bucket=storage.bucket,
        frame_key=str(FrameKey.new(household, "door", datetime.now(UTC))),
        captured_at=datetime.now(UTC),
        faces=[
            FaceVerdict(box=Box(10, 10, 50, 50), verdict="stranger", verdict_id=f"{household}/x#{i}")
            for i in range(faces)
        ],
        faces_in_frame=faces,
    )


def test_a_refused_mqtt_broker_leaves_no_crop_in_the_bucket(start_function, storage, figures):
    """A household's broker on loopback or the metadata address: the alert is kept as a
    dead letter, and its face is not cut and kept in the bucket for a broker that will
    never get it."""
    notify = start_function(
        "notify",
        FACEWATCH_BUCKET=storage.bucket,
        **{**DOORS["notify"].env, "FACEWATCH_OUTBOUND_ALLOW_LOOPBACK": "false"},
    )
    jpeg = cv2.imencode(".jpg", clip_frame())[1].tobytes()
    for i, url in enumerate(["mqtt://127.0.0.1:1883", "mqtt://u:pw@169.254.169.254:1883"]):
        household = f"broker{i}"
        save_household_settings(storage, household, HouseholdSettings(channels=["mqtt"], mqtt_url=url))
        alert = alert_of(storage, household)
        storage.put(alert.frame_key, jpeg, content_type="image/jpeg")
        reply = requests.post(
            notify.url, json=alert.model_dump(mode="json"), headers=bearer(NOTIFY_TOKEN), timeout=90
        )
        crop = storage.exists(alert_face_key(household, alert.alert_id))
        attacked(figures, crop)
        assert reply.status_code == 202, (url, reply.text)
        assert not crop, f"a face was cut and kept for the refused broker {url}"
        dead = list(storage.list_keys(f"households/{household}/alerts/dead/"))
        assert len(dead) == 1 and "refused" in storage.get(dead[0]).body.decode()
