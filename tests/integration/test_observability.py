"""Metrics and logs of real function processes (issue 29): recognize and notify as
functions-framework processes of two gunicorn workers each (prometheus_client's
multiprocess mode), frames sent side by side, then /metrics scraped and the JSON log
lines read."""

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import cv2
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from facewatch.edge.uploads import store_face_frame
from facewatch.faces.detection import HaarDetector
from facewatch.frames import FrameMeta
from facewatch.layout import FrameKey
from facewatch.local.processes import LOCAL_CREDENTIALS
from facewatch.recognize.known import enroll
from tests.conftest import NOTIFY_TOKEN, TESTDATA, clip_frame, s3_event

pytestmark = pytest.mark.integration
WEBHOOK_TOKEN = "webhook-token-for-observability-0123456789"
LINK_SECRET = "link-secret-for-observability-0123456789abcdef"
METRICS_TOKEN = "metrics-token-for-observability-0123456789"
RECIPIENT = "family-observed@example.test"
STRANGER_HOUSEHOLDS = ("h1", "h2", "h3")


def scrape(process, headers=None):
    response = requests.get(process.url + "metrics", headers=headers or {}, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples, name, **labels):
    return sum(
        value
        for (found, found_labels), value in samples.items()
        if found == name and all(dict(found_labels).get(k) == v for k, v in labels.items())
    )


@pytest.fixture
def pipeline(start_function, storage, outbox, tmp_path):
    common = {
        "FACEWATCH_BUCKET": storage.bucket,
        "FACEWATCH_LOG_FORMAT": "json",
        "FACEWATCH_LINK_SECRET": LINK_SECRET,
        "WORKERS": "2",
        "THREADS": "4",
    }
    (tmp_path / "notify-metrics").mkdir()
    (tmp_path / "recognize-metrics").mkdir()
    notify = start_function(
        "notify",
        **common,
        FACEWATCH_SMTP_HOST="127.0.0.1",
        FACEWATCH_SMTP_PORT=str(outbox.port),
        FACEWATCH_MAIL_TO=RECIPIENT,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "notify-metrics"),
        FACEWATCH_METRICS_TOKEN=METRICS_TOKEN,
    )
    recognize = start_function(
        "recognize",
        **common,
        FACEWATCH_NOTIFY_URL=notify.url,
        FACEWATCH_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "recognize-metrics"),
    )
    known = TESTDATA / "known" / "obama"
    for household in ("home", *STRANGER_HOUSEHOLDS):  # a known set: strangers, not unsure faces
        photos = [(p.name, p.read_bytes()) for p in sorted(known.iterdir())]
        enroll(storage, household, "obama", photos, 40_000_000)
    return recognize, notify


def upload(storage, household, image):
    boxes = tuple(HaarDetector().detect(image))
    meta = FrameMeta(household, "door", datetime.now(UTC), image.shape[1], image.shape[0], boxes)
    return store_face_frame(storage, image, meta)


def test_scraped_counts_match_the_frames_sent_and_the_alerts_delivered(pipeline, storage, outbox):
    recognize, notify = pipeline
    known = [upload(storage, "home", cv2.imread(str(TESTDATA / "faces" / "obama3.jpg"))) for _ in range(3)]
    strangers = [upload(storage, h, clip_frame()) for h in STRANGER_HOUSEHOLDS]
    deliveries = [*known, *strangers, strangers[0]]  # the last: a redelivery, judged once

    def send(key):
        return requests.post(
            recognize.url,
            data=json.dumps(s3_event(storage.bucket, key)),
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
            timeout=120,
        )

    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(send, deliveries[:-1]))
    replies.append(send(deliveries[-1]))
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]

    results = [storage.get_json(FrameKey.parse(k).result_key) for k in [*known, *strangers]]
    verdicts = [f["verdict"] for r in results for f in r["faces"]]
    seen = scrape(recognize)
    assert total(seen, "facewatch_frames_received_total") == len(deliveries)
    assert total(seen, "facewatch_frames_judged_total") == len(known) + len(strangers)
    for verdict in ("known", "stranger", "unsure"):
        assert total(seen, "facewatch_faces_total", verdict=verdict) == verdicts.count(verdict)
    assert total(seen, "facewatch_visits_total") == len(STRANGER_HOUSEHOLDS)
    assert total(seen, "facewatch_upload_to_result_seconds_count") == len(known) + len(strangers)
    assert total(seen, "facewatch_result_to_delivered_seconds_count") == len(STRANGER_HOUSEHOLDS)
    assert total(seen, "facewatch_encoder_seconds_per_face_count") == len(known) + len(strangers)

    # notify's /metrics asks for its token; the emails in the outbox are the alerts it counted.
    assert requests.get(notify.url + "metrics", timeout=10).status_code == 401
    sent = scrape(notify, {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert len(outbox.messages) == len(STRANGER_HOUSEHOLDS)
    assert total(sent, "facewatch_alerts_total", channel="email", outcome="sent") == len(outbox.messages)
    assert total(sent, "facewatch_alerts_total") == len(outbox.messages)

    # A request a proxy passed on is not answered without the token, even from 127.0.0.1.
    proxied = requests.get(recognize.url + "metrics", headers={"X-Forwarded-For": "192.168.1.20"}, timeout=10)
    assert proxied.status_code == 403

    # The logs: JSON lines, the stranger frame's request id on recognize's and notify's lines.
    lines = {
        name: [json.loads(line) for line in p.log_path.read_text().splitlines() if line.startswith("{")]
        for name, p in (("recognize", recognize), ("notify", notify))
    }
    for key in strangers:
        assert any(line.get("request_id") == key for line in lines["recognize"]), key
        assert any(line.get("request_id") == key for line in lines["notify"]), key

    # No secret, no face, no address in any line the two processes wrote.
    text = recognize.log_path.read_text() + notify.log_path.read_text()
    secrets = [
        WEBHOOK_TOKEN,
        NOTIFY_TOKEN,
        LINK_SECRET,
        METRICS_TOKEN,
        LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    ]
    for secret in secrets:
        assert secret not in text
    assert RECIPIENT not in text
    assert "/9j/" not in text and "\\xff\\xd8" not in text  # a JPEG, base64 or escaped
    assert not re.search(r"(-?\d\.\d{3,}[, ]+){8}", text), "an encoding's numbers in a log line"


def test_console_errors_are_counted_by_kind(start_function, storage, tmp_path):
    """The console answers its failures with pages of its own (not `guarded`'s JSON), and
    counts each in `errors` by kind as the other functions do: a page without a session, a
    forged sign-in link, a picture link that is not one."""
    (tmp_path / "console-metrics").mkdir()
    console = start_function(
        "console",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_LINK_SECRET=LINK_SECRET,
        FACEWATCH_METRICS_TOKEN=METRICS_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "console-metrics"),
        # One request at a time: the start's readiness polls (on a page that needs a
        # session) are all answered before the first scrape, so the counts before are exact.
        WORKERS="1",
        THREADS="1",
    )
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}

    def errors(**labels):
        return total(scrape(console, auth), "facewatch_errors_total", function="console", **labels)

    before = {kind: errors(kind=kind) for kind in ("NotSignedIn", "BadToken")}
    before_all = errors()
    for _ in range(3):
        assert requests.get(console.url + "faces", timeout=10).status_code == 401
    forged = requests.get(console.url + "signin", params={"token": "not-a-token"}, timeout=10)
    assert forged.status_code == 400
    picture = requests.get(console.url + "picture", params={"token": "nope"}, timeout=10)
    assert picture.status_code == 400
    assert errors(kind="NotSignedIn") - before["NotSignedIn"] == 3
    assert errors(kind="BadToken") - before["BadToken"] == 2
    assert errors() - before_all == 5
