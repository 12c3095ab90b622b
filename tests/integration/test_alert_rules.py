"""The household's alert rules through recognize's and notify's real code against a real
S3 server (and a real MQTT broker for quiet hours per channel): what each rule holds back
is recorded with why, and `facewatch events` shows it."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta

import pytest

from facewatch.alerts.delivery import deliver
from facewatch.alerts.mail_transport import SmtpTransport
from facewatch.config import Settings
from facewatch.frames import Box
from facewatch.household.settings import HouseholdSettings, save_household_settings
from facewatch.layout import sent_alert_key
from facewatch.records import AlertOutcome, DeliveryStatus, FaceVerdict, HeldBackBy
from tests.conftest import NO_EMAIL, run_cli, stranger_alert
from tests.mqtt_broker import Subscriber
from tests.street import FIRST_WALK, Collected, enroll_household, walk_by

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=2)  # past the visit window and the cooldown


def rules(storage, **kw) -> None:
    save_household_settings(storage, "home", HouseholdSettings(**kw))


def alerts_of(results) -> list[str]:
    return [str(f.alert or "") for r in results for f in r.faces if f.verdict == "stranger"]


def held_back_by(results, words: str) -> set[HeldBackBy | None]:
    """The rules named by the held-back stranger outcomes whose words say `words`."""
    return {
        f.alert.held_back_by
        for r in results
        for f in r.faces
        if f.verdict == "stranger" and f.alert and words in f.alert.detail
    }


@pytest.fixture
def household(storage):
    return enroll_household(storage)


def test_at_most_one_alert_per_stranger_per_n_hours_across_visits(storage, household):
    rules(storage, stranger_alert_hours=24)
    notifier = Collected()
    walk_by(storage, notifier, FIRST_WALK, T0)
    assert len(notifier.alerts) == 3
    again = walk_by(storage, notifier, FIRST_WALK, LATER)
    assert len(notifier.alerts) == 3, "the same three strangers two hours later: held back"
    held = [a for a in alerts_of(again) if "at most once per 24 h" in a]
    assert len({a.split()[1] for a in held}) == 3 and all(a.startswith("suppressed: stranger-") for a in held)
    assert held_back_by(again, "at most once per 24 h") == {HeldBackBy.ONCE_PER_HOURS}
    walk_by(storage, notifier, FIRST_WALK, T0 + timedelta(hours=25))
    assert len(notifier.alerts) == 6

    shown = run_cli(storage, "events", "--household", "home", "--since", "2030-01-01T00:00:00", "--json")
    assert shown.returncode == 0, shown.stderr
    every = run_cli(storage, "events", "--household", "home", "--since", "2026-11-24T00:00:00", "--json")
    assert "at most once per 24 h" in every.stdout


def test_a_stranger_marked_no_alerts_never_alerts_and_the_others_still_do(storage, household):
    notifier = Collected()
    walk_by(storage, notifier, FIRST_WALK, T0)
    quiet_one = notifier.alerts[0].stranger_id
    assert quiet_one
    done = run_cli(storage, "household", "--household", "home", "--no-alerts", quiet_one)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["no_alerts"] == [quiet_one]
    again = walk_by(storage, notifier, FIRST_WALK, LATER)
    assert len(notifier.alerts) == 5
    assert quiet_one not in {a.stranger_id for a in notifier.alerts[3:]}
    assert any(a == f"suppressed: {quiet_one} is marked no alerts" for a in alerts_of(again))
    assert held_back_by(again, "is marked no alerts") == {HeldBackBy.NO_ALERTS}


def test_a_named_persons_arrival_is_announced_once_per_visit_only_when_asked(storage, household):
    notifier = Collected()
    walk_by(storage, notifier, FIRST_WALK, T0)
    assert not [a for a in notifier.alerts if a.kind == "arrival"], "off by default"

    rules(storage, arrivals=["biden"])
    first = walk_by(storage, notifier, FIRST_WALK, LATER)
    arrivals = [a for a in notifier.alerts if a.kind == "arrival"]
    assert len(arrivals) == 1 and arrivals[0].faces[0].name == "biden"
    noted = [f.alert for r in first for f in r.faces if f.verdict == "known" and f.alert]
    assert noted == [AlertOutcome(status=DeliveryStatus.SENT, kind="arrival")]
    assert [str(a) for a in noted] == ["arrival sent"]
    walk_by(storage, notifier, FIRST_WALK, LATER + timedelta(hours=1))
    assert len([a for a in notifier.alerts if a.kind == "arrival"]) == 2, "a new visit, a new notice"

    rules(storage, arrivals=["biden"], no_alerts=["biden"])
    walk_by(storage, notifier, FIRST_WALK, LATER + timedelta(hours=2))
    assert len([a for a in notifier.alerts if a.kind == "arrival"]) == 2


def test_quiet_hours_silence_one_channel_and_are_recorded(storage, mosquitto):
    save_household_settings(
        storage,
        "home",
        HouseholdSettings(
            channels=["email", "mqtt"], timezone="Europe/Berlin", quiet_hours={"email": "22:00-07:00"}
        ),
    )
    alert = stranger_alert(storage, alert_id="night").model_copy(
        update={"captured_at": datetime(2026, 12, 3, 22, 30, tzinfo=UTC)}  # 23:30 in Berlin
    )
    subscriber = Subscriber(mosquitto, "facewatch/home/door/visit")
    try:
        outcome = deliver(
            alert,
            storage=storage,
            mail=NO_EMAIL,  # would fail: nothing listens there
            settings=Settings(_env_file=None, mail_to=["family@example.test"], mqtt_url=mosquitto.url),
        )
        assert str(outcome).startswith(
            "sent mqtt"
        ) and "email suppressed: quiet hours 22:00-07:00 (Europe/Berlin)" in str(outcome)
        assert len(subscriber.on("facewatch/home/door/visit")) == 1
        assert [c.held_back_by for c in outcome.of(DeliveryStatus.HELD_BACK)] == [HeldBackBy.QUIET_HOURS]
    finally:
        subscriber.close()
    record = storage.get_json(sent_alert_key("home", "night", "email"))
    assert record["delivery_id"].startswith("suppressed: quiet hours")


def test_an_arrival_is_an_email_about_the_person_and_a_known_visit_on_mqtt(storage, mosquitto, outbox):
    save_household_settings(storage, "home", HouseholdSettings(channels=["email", "mqtt"]))
    alert = stranger_alert(
        storage,
        "arrival-1",
        kind="arrival",
        faces=[FaceVerdict(box=Box(156, 82, 94, 94), verdict="known", name="Alice", distance=0.31)],
    )
    subscriber = Subscriber(mosquitto, "facewatch/home/door/visit")
    try:
        outcome = deliver(
            alert,
            storage=storage,
            mail=SmtpTransport("127.0.0.1", outbox.port),
            settings=Settings(
                _env_file=None,
                mail_to=["family@example.test"],
                mqtt_url=mosquitto.url,
                link_secret="s" * 32,
                feedback_url="http://feedback.test/",
            ),
        )
        assert str(outcome).startswith("sent email"), outcome
        ((visit, _),) = subscriber.on("facewatch/home/door/visit")
    finally:
        subscriber.close()
    body = json.loads(visit)
    assert body["event_type"] == body["verdict"] == "known" and body["name"] == "Alice"
    (eml,) = outbox.messages
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["Subject"].startswith("Alice arrived at door")
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "I know this person" not in text and "stranger" not in text.lower()
