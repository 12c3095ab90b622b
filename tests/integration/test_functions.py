"""The three functions as real functions-framework processes, over HTTP, against a real S3
server and a real SMTP server."""

import email
import email.policy
import json
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
import requests

from facewatch.edge.uploads import store_face_frame
from facewatch.frames import FrameMeta
from facewatch.layout import FrameKey
from facewatch.recognize.known import enroll
from facewatch.records import AlertOutcome, DeliveryStatus
from tests.conftest import NOTIFY_AUTH, TESTDATA, clip_frame, s3_event

pytestmark = pytest.mark.integration
TOKEN = "detect-token-for-tests-0123456789abcdef"
OBAMA3 = TESTDATA / "faces" / "obama3.jpg"


def auth(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


# --- detect -----------------------------------------------------------------------------


@pytest.fixture
def detect(start_function, storage):
    # One token for every household (scope deployment): these tests are about detect's
    # inputs; per-household tokens are test_detect_inputs' and the attack suite's.
    return start_function(
        "detect",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_DETECT_TOKEN=TOKEN,
        FACEWATCH_DETECT_TOKEN_SCOPE="deployment",
    )


def test_detect_stores_a_face_frame_as_the_agent_would(detect, storage):
    response = requests.post(
        detect.url, params={"household": "home", "camera": "door"}, data=OBAMA3.read_bytes(), headers=auth()
    )
    assert response.status_code == 201, response.text
    key = response.json()["stored"]
    frame_key = FrameKey.parse(key)
    assert (frame_key.household, frame_key.camera) == ("home", "door")
    obj = storage.get(key)
    meta = FrameMeta.from_s3_metadata(obj.metadata)
    assert meta.source == "detect"
    assert [b.as_list() for b in meta.boxes] == response.json()["faces"]
    assert cv2.imdecode(np.frombuffer(obj.body, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (
        meta.height,
        meta.width,
    )


def test_detect_drops_a_frame_without_faces(detect, storage):
    _, blank = cv2.imencode(".png", np.full((240, 320, 3), 127, np.uint8))
    response = requests.post(
        detect.url, params={"household": "home", "camera": "door"}, data=blank.tobytes(), headers=auth()
    )
    assert response.status_code == 200
    assert response.json()["stored"] is None
    assert list(storage.list_keys("households/")) == []


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "empty image"),
        (b"this is not a jpeg", 400, "not a readable image"),
        (OBAMA3.read_bytes()[:5000], 400, "not a readable image"),
        (OBAMA3.read_bytes()[:-5000], 400, "truncated JPEG"),
    ],
)
def test_detect_refuses_bad_images_clearly_and_stays_up(detect, storage, body, status, message):
    response = requests.post(
        detect.url, params={"household": "home", "camera": "door"}, data=body, headers=auth()
    )
    assert response.status_code == status
    assert message in response.json()["message"]
    ok = requests.post(
        detect.url, params={"household": "home", "camera": "door"}, data=OBAMA3.read_bytes(), headers=auth()
    )
    assert ok.status_code == 201


def test_detect_requires_its_token(detect, storage):
    for headers in ({}, auth("wrong"), {"Authorization": TOKEN}):
        response = requests.post(
            detect.url,
            params={"household": "home", "camera": "door"},
            data=OBAMA3.read_bytes(),
            headers=headers,
        )
        assert response.status_code == 401
        assert TOKEN not in response.text
    assert list(storage.list_keys("households/")) == []


def test_detect_validates_household_and_camera(detect):
    response = requests.post(
        detect.url, params={"household": "../etc", "camera": "door"}, data=OBAMA3.read_bytes(), headers=auth()
    )
    assert response.status_code == 400
    assert "invalid household" in response.json()["message"]


# --- recognize and notify -------------------------------------------------------------


@pytest.fixture
def pipeline(start_function, storage, outbox):
    notify = start_function(
        "notify",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_SMTP_HOST="127.0.0.1",
        FACEWATCH_SMTP_PORT=str(outbox.port),
        FACEWATCH_MAIL_TO="family@example.test",
    )
    recognize = start_function(
        "recognize",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_NOTIFY_URL=notify.url,
        FACEWATCH_WEBHOOK_TOKEN=TOKEN,
    )
    known = TESTDATA / "known" / "obama"
    enroll(storage, "home", "obama", [(p.name, p.read_bytes()) for p in sorted(known.iterdir())], 40_000_000)
    return recognize, notify


def upload(storage, image, camera="door", boxes_from_edge=True):
    from facewatch.faces.detection import HaarDetector

    boxes = tuple(HaarDetector().detect(image)) if boxes_from_edge else ()
    meta = FrameMeta("home", camera, datetime.now(UTC), image.shape[1], image.shape[0], boxes)
    return store_face_frame(storage, image, meta)


def post_event(recognize, payload, token=TOKEN):
    return requests.post(recognize.url, data=json.dumps(payload), headers=auth(token), timeout=60)


def test_a_known_face_is_recorded_and_sends_nothing(pipeline, storage, outbox):
    recognize, _ = pipeline
    key = upload(storage, cv2.imread(str(OBAMA3)))
    response = post_event(recognize, s3_event(storage.bucket, key))
    assert response.status_code == 200, response.text
    result = storage.get_json(FrameKey.parse(key).result_key)
    assert [f["verdict"] for f in result["faces"]] == ["known"]
    assert result["faces"][0]["name"] == "obama"
    assert result["boxes_from"] == "edge"
    assert result["alert"] is None
    assert outbox.messages == []


def test_a_stranger_is_emailed_with_the_photo(pipeline, storage, outbox):
    recognize, _ = pipeline
    key = upload(storage, clip_frame())
    response = post_event(recognize, s3_event(storage.bucket, key))
    assert response.status_code == 200, response.text
    result = storage.get_json(FrameKey.parse(key).result_key)
    assert "stranger" in [f["verdict"] for f in result["faces"]]
    assert AlertOutcome.read(result["alert"]) == AlertOutcome(status=DeliveryStatus.SENT)
    [eml] = outbox.messages
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert "door" in message["Subject"]
    assert message["To"] == "family@example.test"
    photos = [p for p in message.walk() if p.get_content_type() == "image/jpeg" and p.get_filename()]
    assert photos
    assert cv2.imdecode(np.frombuffer(photos[0].get_content(), np.uint8), cv2.IMREAD_COLOR) is not None


def test_frames_without_edge_boxes_are_searched(pipeline, storage):
    recognize, _ = pipeline
    key = upload(storage, cv2.imread(str(OBAMA3)), boxes_from_edge=False)
    assert post_event(recognize, s3_event(storage.bucket, key)).status_code == 200
    result = storage.get_json(FrameKey.parse(key).result_key)
    assert result["boxes_from"] == "detected"
    assert [f["name"] for f in result["faces"]] == ["obama"]


def test_a_duplicate_delivery_is_judged_once(pipeline, storage, outbox):
    recognize, _ = pipeline
    key = upload(storage, clip_frame())
    for _ in range(3):
        assert post_event(recognize, s3_event(storage.bucket, key)).status_code == 200
    assert len(outbox.messages) == 1


def test_a_new_version_of_a_frame_is_judged_again_a_redelivery_is_not(pipeline, storage, outbox):
    from facewatch.edge.uploads import frame_object, put_frame

    recognize, _ = pipeline
    key = upload(storage, cv2.imread(str(OBAMA3)))
    assert post_event(recognize, s3_event(storage.bucket, key, etag=storage.etag(key))).status_code == 200
    assert storage.get_json(FrameKey.parse(key).result_key)["faces"][0]["verdict"] == "known"
    stranger = clip_frame()
    from facewatch.faces.detection import HaarDetector

    meta = FrameMeta(
        "home",
        "door",
        datetime.now(UTC),
        stranger.shape[1],
        stranger.shape[0],
        tuple(HaarDetector().detect(stranger)),
    )
    _, jpeg, metadata = frame_object(stranger, meta)
    new_etag = put_frame(storage, key, jpeg, metadata)  # the same key, a new version
    for _ in range(2):
        assert post_event(recognize, s3_event(storage.bucket, key, etag=new_etag)).status_code == 200
    result = storage.get_json(FrameKey.parse(key).result_key)
    assert result["frame_etag"] == new_etag
    assert [f["verdict"] for f in result["faces"]] == ["stranger"]
    assert len(outbox.messages) == 1


def test_an_event_for_a_missing_object_is_a_clear_404(pipeline, storage):
    recognize, _ = pipeline
    key = "households/home/frames/door/20261125/140312000005-abcdef123456.jpg"
    response = post_event(recognize, s3_event(storage.bucket, key))
    assert response.status_code == 404
    assert "does not exist" in response.json()["message"]
    assert "recognize: 404 ObjectMissing" in recognize.log_path.read_text()


def test_an_event_for_another_bucket_is_refused(pipeline, storage):
    recognize, _ = pipeline
    key = upload(storage, clip_frame())
    response = post_event(recognize, s3_event("someone-elses-bucket", key))
    assert response.status_code == 400
    assert "someone-elses-bucket" in response.json()["message"]
    assert not storage.exists(FrameKey.parse(key).result_key)


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"Records": [{"eventSource": "aws:s3"}]}'])
def test_malformed_events_are_400_and_recognize_stays_up(pipeline, body):
    recognize, _ = pipeline
    response = requests.post(recognize.url, data=body, headers=auth(), timeout=30)
    assert response.status_code == 400
    assert response.json()["error"] == "BadEvent"
    assert recognize.proc.poll() is None


def test_recognize_requires_the_webhook_token(pipeline, storage):
    recognize, _ = pipeline
    key = upload(storage, clip_frame())
    assert post_event(recognize, s3_event(storage.bucket, key), token="wrong").status_code == 401
    assert not storage.exists(FrameKey.parse(key).result_key)


def test_notify_says_so_when_the_smtp_server_is_down_and_keeps_the_alert(start_function, storage):
    from facewatch.local.processes import free_port
    from facewatch.records import Alert, FaceVerdict

    notify = start_function(
        "notify",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_SMTP_HOST="127.0.0.1",
        FACEWATCH_SMTP_PORT=str(free_port()),
        FACEWATCH_MAIL_TO="family@example.test",
    )
    key = upload(storage, clip_frame())
    alert = Alert(
        alert_id="a1",
        household="home",
        camera="door",
        bucket=storage.bucket,
        frame_key=key,
        captured_at=datetime.now(UTC),
        faces=[
            FaceVerdict(
                box=FrameMeta.from_s3_metadata(storage.get(key).metadata).boxes[0], verdict="stranger"
            )
        ],
        faces_in_frame=1,
    )
    response = requests.post(notify.url, data=alert.model_dump_json(), headers=NOTIFY_AUTH, timeout=30)
    assert response.status_code == 202
    assert "dead-lettered" in response.json()["delivered"]
    assert "refused the connection" in response.json()["delivered"]
    assert storage.exists(f"households/home/alerts/dead/{alert.alert_id}.json")
    assert "refused the connection" in notify.log_path.read_text()


def minio_webhook(bucket: str, key: str, etag: str) -> bytes:
    """The MinIO bucket-notification body of tests/events/minio_put.json, for this upload."""
    from urllib.parse import quote

    from tests.conftest import EVENTS

    body = json.loads((EVENTS / "minio_put.json").read_text())
    body["Key"] = f"{bucket}/{key}"
    record = body["Records"][0]["s3"]
    record["bucket"]["name"] = bucket
    record["object"]["key"] = quote(key, safe="")  # MinIO URL-encodes the whole key
    record["object"]["eTag"] = etag
    return json.dumps(body).encode()


def test_the_minio_webhook_over_http_with_its_bearer_token(pipeline, storage, outbox):
    recognize, _ = pipeline
    key = upload(storage, clip_frame())
    body = minio_webhook(storage.bucket, key, storage.etag(key))
    refused = requests.post(
        recognize.url, data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert refused.status_code == 401
    assert not storage.exists(FrameKey.parse(key).result_key)
    # MinIO sends its configured auth_token as "Bearer <token>".
    response = requests.post(
        recognize.url, data=body, headers={"Content-Type": "application/json", **auth()}, timeout=60
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcomes"][0]["action"] == "judged"
    assert [f["verdict"] for f in storage.get_json(FrameKey.parse(key).result_key)["faces"]] == ["stranger"]
    assert len(outbox.messages) == 1
