"""A versioned bucket (as the AWS template makes it) through recognize's real code and a real
S3 server: the agent's retried PUT of one frame makes two versions of the same bytes, and
the stranger in it must still be alerted exactly once, whichever delivery fails."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from facewatch.edge.uploads import frame_object
from facewatch.exceptions import AlertError
from facewatch.faces.detection import HaarDetector
from facewatch.frames import FrameMeta
from facewatch.recognize.triggers import StorageEvent
from tests.street import Collected, Walker, enroll_household, recognizer, scene

pytestmark = pytest.mark.integration


class NotifyDown(Collected):
    """notify unreachable until `down` is cleared."""

    down = True

    def send(self, alert):
        if self.down:
            raise AlertError("notify is down")
        return super().send(alert)


def test_two_versions_of_one_frame_alert_once_when_the_first_hand_over_failed(storage):
    storage.client.put_bucket_versioning(Bucket=storage.bucket, VersioningConfiguration={"Status": "Enabled"})
    enroll_household(storage)
    frame = next(iter(scene([Walker("alex-lacamoire.png", 0, frames=1)])))
    meta = FrameMeta(
        "home",
        "street",
        datetime.now(UTC),
        frame.shape[1],
        frame.shape[0],
        tuple(HaarDetector().detect(frame)),
    )
    key, jpeg, metadata = frame_object(frame, meta)
    puts = [
        storage.client.put_object(
            Bucket=storage.bucket, Key=key, Body=jpeg, Metadata=metadata, ContentType="image/jpeg"
        )
        for _ in range(2)
    ]
    assert puts[0]["VersionId"] != puts[1]["VersionId"] and puts[0]["ETag"] == puts[1]["ETag"]
    first, second = (
        StorageEvent("created", storage.bucket, key, put["ETag"].strip('"'), version_id=put["VersionId"])
        for put in puts
    )
    notifier = NotifyDown()
    judge = recognizer(storage, notifier)

    with pytest.raises(AlertError):
        judge.handle(first)  # the visit is recorded, the hand-over fails: delivered again later
    notifier.down = False
    judge.handle(second)
    judge.handle(first)  # the redelivery

    assert len(notifier.alerts) >= 1, "the stranger was never alerted"
    assert len({a.alert_id for a in notifier.alerts}) == 1  # notify sends each id once
