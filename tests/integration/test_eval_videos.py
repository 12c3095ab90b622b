"""`facewatch eval --videos`: labelled clips played through the edge agent and recognize's
own code on a real S3 server, judged per visit; and its refusals.

The known person's clip is synthetic (no clip of a single enrolled person exists in
testdata): Obama's photo obama3.jpg, which is not among his enrolled photos, drifting as
someone standing at the door (tests/conftest.make_video). The stranger's is real: the
bundled Hamilton clip's first three seconds, of people nobody in testdata/known is."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from facewatch.cli.main import main
from facewatch.local.video_evaluation import VISIT_FIGURES
from tests.conftest import TESTDATA, make_video

pytestmark = pytest.mark.integration
KNOWN = TESTDATA / "known"


def first_seconds(source: Path, out: Path, seconds: float) -> Path:
    """The first seconds of a real clip, frames unchanged (re-encoded)."""
    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS)
    size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for _ in range(int(seconds * fps)):
        ok, frame = capture.read()
        assert ok
        writer.write(frame)
    writer.release()
    capture.release()
    return out


def eval_videos(videos: Path, known: Path = KNOWN):
    return CliRunner().invoke(main, ["eval", "--videos", str(videos), "--known", str(known)])


@pytest.mark.slow
def test_known_clip_is_named_without_alarm_and_stranger_clips_alert_once(tmp_path):
    videos = tmp_path / "videos"
    (videos / "obama").mkdir(parents=True)
    (videos / "stranger").mkdir()
    make_video(TESTDATA / "faces" / "obama3.jpg", videos / "obama" / "door.mp4", seconds=2, fps=10)
    first_seconds(TESTDATA / "video" / "short_hamilton_clip.mp4", videos / "stranger" / "hamilton.mp4", 3)

    result = eval_videos(videos)

    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    by_clip = {Path(c["clip"]).name: c for c in figures["clips"]}
    assert set(by_clip) == {"door.mp4", "hamilton.mp4"}
    door, hamilton = by_clip["door.mp4"], by_clip["hamilton.mp4"]
    assert door["label"] == "obama" and door["faces"] > 0
    assert (door["known_visits"], door["known_visits_named"], door["known_visits_alerted"]) == (1, 1, 0)
    assert door["names"] == ["obama"] and door["stranger_alerts"] == 0
    assert hamilton["label"] == "stranger" and hamilton["known_visits"] == 0
    assert hamilton["stranger_visits"] == 1
    # One visit, one alert: the visit window holds the rest of the clip's faces back.
    assert hamilton["stranger_alerts"] == 1 and hamilton["stranger_visits_alerted_once"] == 1
    assert hamilton["faces_stranger"] >= 1
    assert hamilton["stranger_visits_named"] == int(bool(hamilton["names"]))
    # The totals are the clips' sums.
    for figure in VISIT_FIGURES:
        assert figures[figure] == sum(c[figure] for c in figures["clips"]), figure
    assert (figures["known_visits"], figures["stranger_visits"]) == (1, 1)
    assert figures["known_visits_alerted"] == 0 and figures["stranger_visits_alerted_once"] == 1
    assert "stranger visits: 1/1 alerted once" in result.stderr


def refusal(result) -> str:
    assert result.exit_code == 2, result.output
    return result.output.strip().splitlines()[-1]


def test_refuses_a_missing_videos_dir(tmp_path):
    assert (
        refusal(eval_videos(tmp_path / "nowhere"))
        == f"error: videos directory {tmp_path / 'nowhere'} does not exist"
    )


def test_refuses_a_label_folder_without_clips(tmp_path):
    (tmp_path / "obama").mkdir()
    (tmp_path / "obama" / "notes.txt").write_text("no clip here")
    assert refusal(eval_videos(tmp_path)).startswith(f"error: {tmp_path / 'obama'} holds no clips")


def test_refuses_a_clip_that_cannot_be_read(tmp_path):
    (tmp_path / "stranger").mkdir()
    (tmp_path / "stranger" / "broken.mp4").write_bytes(b"not a video at all")
    line = refusal(eval_videos(tmp_path))
    assert line == f"error: clip {tmp_path / 'stranger' / 'broken.mp4'} cannot be read as a video"


def test_refuses_a_label_that_is_neither_known_nor_stranger(tmp_path):
    (tmp_path / "lin_manuel").mkdir()
    assert "label 'lin_manuel' is neither a known person (biden, obama) nor 'stranger'" in refusal(
        eval_videos(tmp_path)
    )


def test_refuses_videos_without_known(tmp_path):
    result = CliRunner().invoke(main, ["eval", "--videos", str(tmp_path)])
    assert "--videos needs --known" in refusal(result)


def test_refuses_a_missing_known_dir(tmp_path):
    (tmp_path / "stranger").mkdir()
    line = refusal(eval_videos(tmp_path, tmp_path / "nobody"))
    assert line == f"error: known-people directory {tmp_path / 'nobody'} does not exist"


def test_refuses_photos_and_clips_at_once(tmp_path):
    result = CliRunner().invoke(
        main, ["eval", "--videos", str(tmp_path), "--known", str(KNOWN), "--gallery", str(KNOWN)]
    )
    assert "two separate measures" in refusal(result)
