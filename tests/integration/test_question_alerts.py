"""An alert whose face is a question "Is this X?" asks it on both channels, through the real
delivery: the email (to a real SMTP server, aiosmtpd) says "Is this obama?" with the
console link to the face asked about, and the MQTT visit (from a real Mosquitto) carries
`question` {"person", "url"}; an alert without a question says nothing of one."""

from __future__ import annotations

import email
import email.policy
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from facewatch.alerts.delivery import deliver
from facewatch.alerts.mail_transport import SmtpTransport
from facewatch.config import Settings
from facewatch.household.settings import HouseholdSettings, save_household_settings
from facewatch.layout import FrameKey
from facewatch.records import Question
from facewatch.tokens import verify_sign_in
from tests.conftest import stranger_alert
from tests.mqtt_broker import Subscriber

pytestmark = pytest.mark.integration
SECRET = "a-link-secret-of-at-least-32-characters!"
VISIT = "facewatch/home/door/visit"


def test_the_email_and_the_mqtt_visit_ask_the_question(storage, outbox, mosquitto):
    save_household_settings(
        storage, "home", HouseholdSettings.model_validate({"channels": ["email", "mqtt"]})
    )
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mail_to=["family@example.test"],
        mqtt_url=mosquitto.url,
        mqtt_announce_seconds=0,
        link_secret=SECRET,
        console_url="https://door.example.test/console",
    )
    plain = stranger_alert(storage, "q0")
    face = FrameKey.parse(plain.frame_key).verdict_id(0)
    earlier = stranger_alert(storage, "q-earlier")  # the face the question shows
    asked = FrameKey.parse(earlier.frame_key).verdict_id(0)
    question = Question(
        question_id="abc",
        household="home",
        person="obama",
        frame_key=earlier.frame_key,
        face=0,
        distance=0.58,
        asked_at=plain.captured_at,
    )
    alert = plain.model_copy(
        update={
            "alert_id": "q1",
            "faces": [plain.faces[0].model_copy(update={"verdict_id": face})],
            "question": question,
        }
    )
    subscriber = Subscriber(mosquitto)
    try:
        outcome = deliver(
            alert, storage=storage, mail=SmtpTransport("127.0.0.1", outbox.port), settings=settings
        )
        assert str(outcome).startswith("sent"), outcome
        (visit,) = [json.loads(p) for p, _ in subscriber.on(VISIT)]
        # Without a question, the key is there and says so.
        quiet = plain.model_copy(
            update={"alert_id": "q2", "faces": [plain.faces[0].model_copy(update={"verdict_id": face})]}
        )
        deliver(quiet, storage=storage, mail=SmtpTransport("127.0.0.1", outbox.port), settings=settings)
        assert json.loads(subscriber.on(VISIT, count=2)[1][0])["question"] is None
    finally:
        subscriber.close()

    assert visit["question"]["person"] == "obama"
    url = urlsplit(visit["question"]["url"])
    assert (url.netloc, url.path) == ("door.example.test", "/console/signin")
    claim = verify_sign_in(SECRET, parse_qs(url.query)["token"][0], now=plain.captured_at)
    assert claim.face == asked  # the face asked about, which the console's form answers for

    messages = [
        email.message_from_bytes(m.read_bytes(), policy=email.policy.default) for m in outbox.messages
    ]
    texts = [m.get_body(preferencelist=("plain",)).get_content() for m in messages]
    htmls = [m.get_body(preferencelist=("html",)).get_content() for m in messages]
    asking = [i for i, t in enumerate(texts) if "Is this" in t]
    assert len(messages) == 2 and len(asking) == 1  # the alert without a question asks nothing
    (i,) = asking
    assert (
        "Is this obama? Answer yes or no in the console: https://door.example.test/console/signin?token="
        in texts[i]
    )
    assert "Is this <b>obama</b>?" in htmls[i] and "Answer yes or no" in htmls[i]
    assert "Is this" not in htmls[1 - i]
