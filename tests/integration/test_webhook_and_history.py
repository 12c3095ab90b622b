"""The generic webhook channel against a real HTTP server, and `facewatch events`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from facewatch import config
from facewatch.alerts.delivery import deliver
from facewatch.alerts.mail_transport import SmtpTransport
from facewatch.alerts.retries import RetryPolicy
from facewatch.config import Settings
from facewatch.edge.uploads import store_face_frame
from facewatch.frames import Box, FrameMeta
from facewatch.household.settings import HouseholdSettings, save_household_settings
from facewatch.records import Alert, FaceVerdict
from tests.conftest import clip_frame

pytestmark = pytest.mark.integration


def test_the_webhook_channel_posts_json_with_links_once(storage, hook):
    url, received = hook
    save_household_settings(storage, "home", HouseholdSettings(channels=["webhook"], webhook_url=url))
    frame = clip_frame()
    key = store_face_frame(storage, frame, FrameMeta("home", "door", datetime.now(UTC), 640, 360, ()))
    alert = Alert(
        alert_id="hook1",
        household="home",
        camera="door",
        bucket=storage.bucket,
        frame_key=key,
        captured_at=datetime.now(UTC),
        faces_in_frame=1,
        visit_frames=3,
        faces=[FaceVerdict(box=Box(156, 82, 94, 94), verdict="stranger")],
        stranger_id="stranger-0123456789",
        stranger_visits=2,
        stranger_previous_seen=datetime(2026, 11, 24, 18, 30, tzinfo=UTC),
    )
    settings = Settings(
        link_secret="s3cret-0123456789abcdef0123456789abcdef", feedback_url="https://fw.example/feedback"
    )
    smtp_unused = SmtpTransport("127.0.0.1", 9)
    for _ in range(2):
        deliver(alert, storage=storage, mail=smtp_unused, settings=settings, retry=RetryPolicy(attempts=1))
    [payload] = received
    assert payload["event"] == "facewatch.stranger"
    assert payload["camera"] == "door"
    assert payload["visit_frames"] == 3
    assert payload["stranger_id"] == "stranger-0123456789"  # "the same stranger as last time"
    assert payload["stranger_visits"] == 2
    assert payload["stranger_previous_seen"] == "2026-11-24T18:30:00+00:00"
    assert key in payload["photo_url"]
    assert "Expires" in payload["photo_url"]
    assert payload["known_url"].startswith("https://fw.example/feedback/?token=")


def test_facewatch_events_lists_verdicts_since(storage, monkeypatch, s3_endpoint, aws_env):
    now = datetime.now(UTC)
    for i, (verdict, name) in enumerate([("known", "obama"), ("stranger", None)]):
        captured = now - timedelta(hours=3 - 2 * i)
        storage.put_json(
            f"households/home/results/door/{captured:%Y%m%d}/{captured:%H%M%S%f}-abcdef12345{i}.json",
            {
                "frame_key": "k",
                "captured_at": captured.isoformat(),
                "faces": [
                    {
                        "verdict": verdict,
                        "name": name,
                        "distance": 0.4 + i / 10,
                        "visit_id": None if name else "visit-1",
                        "alert": None if name else "sent",
                        "reason": "r",
                        "box": {"x": 0, "y": 0, "w": 1, "h": 1},
                    }
                ],
            },
        )
    monkeypatch.setenv("FACEWATCH_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("FACEWATCH_BUCKET", storage.bucket)
    config.get_settings.cache_clear()
    from facewatch.cli.main import main

    everything = CliRunner().invoke(main, ["events", "--household", "home", "--json"])
    assert everything.exit_code == 0, everything.output
    rows = [json.loads(line) for line in everything.output.splitlines()]
    assert [r["verdict"] for r in rows] == ["known", "stranger"]
    recent = CliRunner().invoke(main, ["events", "--household", "home", "--since", "2h", "--json"])
    assert [json.loads(line)["visit_id"] for line in recent.output.splitlines()] == ["visit-1"]
    table = CliRunner().invoke(main, ["events", "--household", "home"])
    assert "stranger" in table.output and "obama" in table.output
    config.get_settings.cache_clear()
