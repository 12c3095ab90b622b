"""The detect function finds what the edge agent finds, and refuses capture times it cannot
store: a real functions-framework process over HTTP against a real S3 server."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
import requests

from facewatch.faces.detection import HaarDetector
from facewatch.frames import FrameMeta
from tests.conftest import TESTDATA

pytestmark = pytest.mark.integration
TOKEN = "detect-token-for-tests-0123456789abcdef"
OBAMA3 = TESTDATA / "faces" / "obama3.jpg"
PARAMS = {"household": "home", "camera": "door"}


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def detect(start_function, storage):
    return start_function(
        "detect",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_DETECT_TOKEN=TOKEN,
        FACEWATCH_DETECT_TOKEN_SCOPE="deployment",
    )


def small_face_frame(width: int, face_px: int) -> bytes:
    """A grey frame `width` wide (16:9) with the photo's face shrunk to about face_px."""
    photo = cv2.imread(str(OBAMA3))
    face = max(HaarDetector().detect(photo), key=lambda b: b.area)
    small = cv2.resize(photo, None, fx=face_px / face.w, fy=face_px / face.w, interpolation=cv2.INTER_AREA)
    height = width * 9 // 16
    canvas = np.full((height, width, 3), 128, np.uint8)
    h, w = small.shape[:2]
    y, x = (height - h) // 2, (width - w) // 2
    canvas[y : y + h, x : x + w] = small
    return cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def test_detect_stores_a_small_face_in_a_1080p_frame_as_the_agent_would(detect, storage):
    # A 60 px face at 1080p is above the agent's 40 px minimum; shrinking the whole frame
    # to 640 px first (what `detect()` does) leaves it 20 px, under Haar's 24 px window.
    response = requests.post(detect.url, params=PARAMS, data=small_face_frame(1920, 60), headers=auth())
    assert response.status_code == 201, response.text
    faces = response.json()["faces"]
    assert len(faces) == 1
    assert 40 <= faces[0][2] <= 90
    meta = FrameMeta.from_s3_metadata(storage.get(response.json()["stored"]).metadata)
    assert (meta.width, meta.height) == (1920, 1080)


@pytest.mark.parametrize(
    "captured_at",
    [
        "1970-01-01T00:00:00Z",
        "1999-12-31T23:59:59+00:00",
        "0001-01-01T00:00:00+01:00",  # overflows when turned into UTC
        "9999-12-31T23:59:59-05:00",
        (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    ],
)
def test_detect_refuses_a_capture_time_out_of_range_and_stores_nothing(detect, storage, captured_at):
    response = requests.post(
        detect.url, params={**PARAMS, "captured_at": captured_at}, data=OBAMA3.read_bytes(), headers=auth()
    )
    assert response.status_code == 400, response.text
    assert "captured_at" in response.json()["message"]
    assert "out of range" in response.json()["message"]
    assert list(storage.list_keys("households/")) == []


def test_detect_takes_a_naive_capture_time_as_utc(detect, storage):
    taken = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0, tzinfo=None)
    response = requests.post(
        detect.url,
        params={**PARAMS, "captured_at": taken.isoformat()},
        data=OBAMA3.read_bytes(),
        headers=auth(),
    )
    assert response.status_code == 201, response.text
    meta = FrameMeta.from_s3_metadata(storage.get(response.json()["stored"]).metadata)
    assert meta.captured_at == taken.replace(tzinfo=UTC)


def test_with_household_tokens_a_camera_files_frames_under_its_own_household_only(start_function, storage):
    detect = start_function(
        "detect",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_DETECT_TOKEN=TOKEN,
        FACEWATCH_DETECT_TOKEN_SCOPE="household",
    )
    derived = subprocess.run(
        [sys.executable, "-m", "facewatch.cli", "detect-token", "--household", "home"],
        env={**os.environ, "FACEWATCH_DETECT_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    frame = OBAMA3.read_bytes()

    def post(token: str, household: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return requests.post(
            detect.url, params={**PARAMS, "household": household}, data=frame, headers=headers, timeout=60
        )

    assert post(derived, "home").status_code == 201
    assert post(derived, "shop").status_code == 401  # home's token is not shop's
    assert post(TOKEN, "home").status_code == 401  # the deployment's secret is no camera token
    assert [
        k for k in storage.list_keys("households/") if "/frames/" in k and k.startswith("households/shop/")
    ] == []
