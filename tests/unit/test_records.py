"""Records that cross process boundaries and sit in buckets: what an older facewatch wrote
must still read."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from facewatch.frames import Box
from facewatch.records import Alert, AlertOutcome, ChannelOutcome, Delivery, DeliveryStatus, FaceVerdict

FACE = FaceVerdict(box=Box(1, 2, 3, 4), verdict="stranger")


def alert_json(**changes: object) -> dict[str, object]:
    base = Alert(
        alert_id="a1",
        household="home",
        camera="door",
        bucket="b",
        frame_key="k",
        captured_at=datetime(2026, 11, 25, tzinfo=UTC),
        faces=[FACE],
        faces_in_frame=1,
    ).model_dump(mode="json")
    return {**base, **changes}


def test_an_alert_in_flight_or_a_dead_letter_with_the_old_strangers_key_reads_as_its_faces():
    old = alert_json()
    old["strangers"] = old.pop("faces")
    assert Alert.parse(old).faces == [FACE]
    assert "strangers" not in Alert.parse(old).model_dump()


OLD_TEXTS = [
    "sent",
    "sent (email suppressed: quiet hours 22:00-07:00 (Europe/Berlin))",
    "suppressed: stranger-ab12 is marked no alerts",
    "suppressed: email suppressed: quiet hours 22:00-07:00 (UTC)",
    "dead-lettered",
    "queued",
    "not configured",
    "arrival sent",
    "operator queued",
]


@pytest.mark.parametrize("text", OLD_TEXTS)
def test_an_alert_outcome_stored_as_text_reads_as_a_record_and_reads_out_as_it_was(text):
    outcome = AlertOutcome.read(text)
    assert outcome is not None and str(outcome) == text
    assert AlertOutcome.read(outcome.model_dump(mode="json")) == outcome


def test_only_a_stranger_alert_that_went_out_counts_as_alerted():
    assert [AlertOutcome.read(t).alerted for t in OLD_TEXTS] == [  # type: ignore[union-attr]
        True, True, False, False, False, False, False, False, False
    ]  # fmt: skip
    assert AlertOutcome.read(None) is None and AlertOutcome.read("") is None


def test_a_text_that_is_no_outcome_is_refused_clearly():
    with pytest.raises(ValidationError, match="not an alert outcome"):
        AlertOutcome.read("maybe")


def channel(name: str | None, status: DeliveryStatus, detail: str = "") -> ChannelOutcome:
    return ChannelOutcome(channel=name, status=status, detail=detail)


def test_a_delivery_is_dead_lettered_if_any_channel_failed_and_says_which():
    delivery = Delivery(
        channels=[
            channel("email", DeliveryStatus.SENT, "<1@x>"),
            channel("webhook", DeliveryStatus.DEAD_LETTERED, "webhook 500"),
        ]
    )
    assert delivery.status is DeliveryStatus.DEAD_LETTERED
    assert str(delivery) == "dead-lettered: webhook: webhook 500"


def test_a_delivery_sent_on_one_channel_and_held_back_on_another_is_sent():
    delivery = Delivery(
        channels=[
            channel("email", DeliveryStatus.HELD_BACK, "quiet hours"),
            channel("mqtt", DeliveryStatus.SENT, "2 message(s)"),
        ]
    )
    assert delivery.status is DeliveryStatus.SENT
    assert str(delivery) == "sent mqtt 2 message(s), email suppressed: quiet hours"
    assert Delivery.model_validate_json(delivery.model_dump_json()) == delivery


def test_a_delivery_with_nothing_new_is_already_sent_or_held_back():
    assert (
        Delivery(channels=[channel("email", DeliveryStatus.ALREADY_SENT)]).status
        is DeliveryStatus.ALREADY_SENT
    )
    assert str(Delivery(channels=[])) == "already sent"
    held = Delivery(channels=[channel("email", DeliveryStatus.HELD_BACK, "quiet hours")])
    assert str(held) == "suppressed: email suppressed: quiet hours"
