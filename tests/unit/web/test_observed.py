"""/metrics's refusals, and the figures read from what recognize and notify return."""

from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from facewatch.config import get_settings
from facewatch.frames import Box
from facewatch.recognize.recognizer import Outcome
from facewatch.records import (
    Alert,
    AlertOutcome,
    ChannelOutcome,
    Delivery,
    DeliveryStatus,
    FaceVerdict,
    FrameResult,
    HeldBackBy,
)
from facewatch.telemetry import figures
from facewatch.telemetry.prometheus import PrometheusSink
from facewatch.web.observed import delivered, held_back_rule, metrics_reply, recognized

TOKEN = "metrics-token-for-unit-tests-0123456789abcd"


@pytest.fixture
def settings(monkeypatch):
    def use(**env):
        for name, value in env.items():
            monkeypatch.setenv(f"FACEWATCH_{name.upper()}", value)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def text():
    return b"facewatch_frames_received_total 1.0\n"


def test_metrics_answer_a_direct_request_from_this_host(settings):
    settings()
    reply = metrics_reply(text, {}, "127.0.0.1")
    assert reply.status == 200 and reply.body == text()
    assert reply.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("remote", ["192.168.1.20", "10.0.0.5", None])
def test_metrics_refuse_another_host_without_a_token(settings, remote):
    settings()
    assert metrics_reply(text, {}, remote).status == 403


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_metrics_refuse_what_a_proxy_passed_on_from_this_host(settings, header):
    settings()
    assert metrics_reply(text, {header: "192.168.1.20"}, "127.0.0.1").status == 403


def test_with_a_token_metrics_ask_for_it_from_everyone(settings):
    settings(metrics_token=TOKEN)
    assert metrics_reply(text, {}, "127.0.0.1").status == 401
    assert metrics_reply(text, {"Authorization": "Bearer wrong"}, "10.0.0.5").status == 401
    assert metrics_reply(text, {"Authorization": f"Bearer {TOKEN}"}, "10.0.0.5").status == 200


@pytest.mark.parametrize(
    ("by", "rule"),
    [
        (HeldBackBy.QUIET_HOURS, "quiet_hours"),
        (HeldBackBy.NO_ALERTS, "no_alerts"),
        (HeldBackBy.ONCE_PER_HOURS, "once_per_hours"),
        (HeldBackBy.DISARMED, "disarmed"),
        (HeldBackBy.OPEN_VISIT, "open_visit"),
        (HeldBackBy.KNOWN_TRACK, "known_track"),
        (None, "other"),
    ],
)
def test_the_rule_that_held_an_alert_back_is_one_of_a_few_labels(by, rule):
    assert held_back_rule(by) == rule


def alert_samples(sink: PrometheusSink) -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["channel"], s.labels["outcome"], s.labels["rule"]): s.value
        for family in text_string_to_metric_families(sink.exposition().decode())
        for s in family.samples
        if s.name == "facewatch_alerts_total"
    }


def held(detail: str, by: HeldBackBy | None) -> AlertOutcome:
    return AlertOutcome(status=DeliveryStatus.HELD_BACK, detail=detail, held_back_by=by)


def test_recognize_labels_what_its_rules_held_back_by_the_rule_named_not_by_the_words():
    """The words are for people and may change; the label follows the typed rule. A later
    frame of a visit (alerted or held back by the switch) is no alert at all; an outcome
    that names no rule (written before they were named) is `other`."""
    faces = [
        # Words that once read as another rule: the label must not follow them.
        held("the household is disarmed (away switch off), same visit?", HeldBackBy.DISARMED),
        held("quiet hours", HeldBackBy.NO_ALERTS),
        held("same visit as v (frame 2), held back: disarmed", HeldBackBy.DISARMED_VISIT),
        held("same visit as v (frame 3), already alerted", HeldBackBy.OPEN_VISIT),
        held("its edge track is obama (known)", HeldBackBy.KNOWN_TRACK),
        held("stranger-1 is marked no alerts", None),
    ]
    now = datetime.now(UTC)
    result = FrameResult(
        household="home",
        camera="door",
        frame_key="households/home/frames/door/20261125/091500000000-abc.jpg",
        captured_at=now,
        processed_at=now,
        boxes_from="detected",
        faces=[
            FaceVerdict(box=Box(1, 1, 10, 10), verdict="stranger", visit_id="v", alert=alert)
            for alert in faces
        ],
    )
    sink = PrometheusSink()
    figures.use(sink)
    try:
        recognized(Outcome(key=result.frame_key, action="judged", result=result), now)
    finally:
        figures.use(figures._Nowhere())
    assert alert_samples(sink) == {
        ("none", "held_back", "disarmed"): 1,
        ("none", "held_back", "no_alerts"): 1,
        ("none", "held_back", "other"): 1,
    }


def test_notify_counts_each_channel_outcome(storage_free_alert):
    sink = PrometheusSink()
    figures.use(sink)
    try:
        delivery = Delivery(
            channels=[
                ChannelOutcome(channel="email", status=DeliveryStatus.SENT, detail="id-1"),
                ChannelOutcome(
                    channel="mqtt",
                    status=DeliveryStatus.HELD_BACK,
                    detail="quiet hours 1-2 on mqtt",
                    held_back_by=HeldBackBy.QUIET_HOURS,
                ),
                # An answer from a notify older than the typed rule: no rule named.
                ChannelOutcome(channel="email", status=DeliveryStatus.HELD_BACK, detail="quiet hours"),
                ChannelOutcome(channel="webhook", status=DeliveryStatus.DEAD_LETTERED, detail="503"),
            ]
        )
        delivered(storage_free_alert, delivery)
    finally:
        figures.use(figures._Nowhere())
    assert alert_samples(sink) == {
        ("email", "sent", ""): 1,
        ("email", "held_back", "other"): 1,
        ("mqtt", "held_back", "quiet_hours"): 1,
        ("webhook", "dead_lettered", ""): 1,
    }


@pytest.fixture
def storage_free_alert():
    from datetime import UTC, datetime

    from facewatch.frames import Box
    from facewatch.records import FaceVerdict

    return Alert(
        alert_id="a1",
        household="home",
        camera="door",
        bucket="facewatch",
        frame_key="households/home/frames/door/20261125/091500000000-abc.jpg",
        captured_at=datetime.now(UTC),
        faces_in_frame=1,
        faces=[FaceVerdict(box=Box(1, 1, 10, 10), verdict="stranger")],
    )
