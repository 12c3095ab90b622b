"""Records that cross process boundaries and sit in buckets: what an older facewatch wrote
must still read."""

from datetime import UTC, datetime

from facewatch.frames import Box
from facewatch.records import Alert, FaceVerdict

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
