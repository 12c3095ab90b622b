from datetime import UTC, datetime

import pytest

from facewatch.exceptions import BadInput
from facewatch.frames import MAX_BOXES, Box, FrameMeta


def test_metadata_round_trips_through_s3_metadata():
    meta = FrameMeta(
        "home",
        "door",
        datetime(2026, 11, 25, 1, 2, 3, 456789, tzinfo=UTC),
        1280,
        720,
        (Box(1, 2, 30, 40), Box(100, 50, 80, 80)),
        (7, 9),
    )
    s3 = meta.to_s3_metadata()
    assert all(k.startswith("fw-") and v.isascii() for k, v in s3.items())
    # S3 servers may change the case of metadata names; the parser must not care.
    back = FrameMeta.from_s3_metadata({k.upper(): v for k, v in s3.items()})
    assert back.captured_at == meta.captured_at
    assert (back.width, back.height) == (1280, 720)
    # Largest face first: a frame with too many faces keeps the nearest ones.
    assert back.boxes == (Box(100, 50, 80, 80), Box(1, 2, 30, 40))
    assert back.track_ids == (9, 7)


def test_metadata_stays_under_the_s3_limit_for_a_crowd():
    boxes = tuple(Box(i * 10, i * 5, 40 + i, 40 + i) for i in range(200))
    meta = FrameMeta("home", "street", datetime.now(UTC), 1920, 1080, boxes, tuple(range(200)))
    s3 = meta.to_s3_metadata()
    assert sum(len(k) + len(v) for k, v in s3.items()) < 2048
    assert len(FrameMeta.from_s3_metadata(s3).boxes) == MAX_BOXES


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"fw-size": "axb"},
        {"fw-household": "h", "fw-camera": "c", "fw-size": "1x1", "fw-captured-at": "never"},
        # Forged or broken values a camera's credentials could write: refused, not a crash.
        {
            "fw-household": "h",
            "fw-camera": "c",
            "fw-size": "1x1",
            "fw-captured-at": "2026-11-25T09:00:00+00:00",
            "fw-boxes": "[" * 1900,
        },
        {
            "fw-household": "h",
            "fw-camera": "c",
            "fw-size": "1x1",
            "fw-captured-at": "0001-01-01T00:00:00+14:00",
        },
        {
            "fw-household": "h",
            "fw-camera": "c",
            "fw-size": "-640x480",
            "fw-captured-at": "2026-11-25T09:00:00+00:00",
        },
        {
            "fw-household": "h",
            "fw-camera": "c",
            "fw-size": "640x480",
            "fw-captured-at": "2026-11-25T09:00:00+00:00",
            "fw-boxes": "[[10, 10, -40, 40]]",
        },
    ],
)
def test_malformed_metadata_is_a_clear_error(broken):
    with pytest.raises(BadInput, match="frame metadata"):
        FrameMeta.from_s3_metadata(broken)


def test_box_geometry():
    a, b = Box(0, 0, 10, 10), Box(5, 0, 10, 10)
    assert a.iou(b) == pytest.approx(50 / 150)
    assert Box(-5, -5, 20, 20).clipped(10, 10) == Box(0, 0, 10, 10)
    assert Box(10, 20, 30, 40).scaled(2.0) == Box(20, 40, 60, 80)
