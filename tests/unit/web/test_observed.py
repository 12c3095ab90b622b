"""/metrics's refusals, and the figures read from what recognize and notify return."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from facewatch.config import get_settings
from facewatch.records import Alert, ChannelOutcome, Delivery, DeliveryStatus
from facewatch.telemetry import figures
from facewatch.telemetry.prometheus import PrometheusSink
from facewatch.web.observed import delivered, held_back_rule, metrics_reply

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
    ("detail", "rule"),
    [
        ("quiet hours 22:00-07:00 (Europe/Berlin) on email", "quiet_hours"),
        ("s-1 is marked no alerts", "no_alerts"),
        ("s-1 alerted 1.0 h ago (at most once per 4 h)", "once_per_hours"),
        ("same visit as visit-1 (frame 3), already alerted", "open_visit"),
        ("its edge track is obama (known)", "known_track"),
        ("a rule nobody wrote yet", "other"),
    ],
)
def test_the_rule_that_held_an_alert_back_is_one_of_a_few_labels(detail, rule):
    assert held_back_rule(detail) == rule


def test_notify_counts_each_channel_outcome(storage_free_alert):
    sink = PrometheusSink()
    figures.use(sink)
    try:
        delivery = Delivery(
            channels=[
                ChannelOutcome(channel="email", status=DeliveryStatus.SENT, detail="id-1"),
                ChannelOutcome(
                    channel="mqtt", status=DeliveryStatus.HELD_BACK, detail="quiet hours 1-2 on mqtt"
                ),
                ChannelOutcome(channel="webhook", status=DeliveryStatus.DEAD_LETTERED, detail="503"),
            ]
        )
        delivered(storage_free_alert, delivery)
    finally:
        figures.use(figures._Nowhere())
    samples = {
        (s.labels["channel"], s.labels["outcome"], s.labels["rule"]): s.value
        for family in text_string_to_metric_families(sink.exposition().decode())
        for s in family.samples
        if s.name == "facewatch_alerts_total"
    }
    assert samples == {
        ("email", "sent", ""): 1,
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
