"""A household's data as a whole, on seaweedfs (one server for the module, a bucket per
test) with recognize's real code judging real frames: retention with the clock set
forward, and export → erase → import, with the retained MQTT topics on a real Mosquitto."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from facewatch.alerts import mqtt
from facewatch.alerts.announce import household_broker
from facewatch.alerts.broker_sync import sync_announcements
from facewatch.alerts.home_assistant import Message
from facewatch.config import Settings
from facewatch.exceptions import BadInput
from facewatch.household.retention import sweep_household
from facewatch.household.settings import (
    HouseholdSettings,
    load_household_settings,
    save_household_settings,
)
from facewatch.layout import frames_prefix, household_prefix, known_photo_key, results_prefix
from facewatch.local.seaweed import SeaweedServer, find_weed
from facewatch.recognize.naming import name_face
from facewatch.recognize.stranger_store import remembered_strangers
from facewatch.records import FrameResult
from facewatch.store.storage import Storage
from facewatch.tenant.erase import erase_household, left_under
from facewatch.tenant.export import export_household
from facewatch.tenant.imports import import_household
from tests.conftest import TESTDATA
from tests.mqtt_broker import Subscriber
from tests.street import MAX_PIXELS, Collected, Walker, enroll_household, walk_by

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_weed() is None, reason="the seaweedfs `weed` binary was not found"),
]

STRANGER = Walker("alex-lacamoire.png", 0, frames=3)
NAMED_LATER = Walker("kit-harington.jpeg", 3, frames=3)
KNOWN = Walker("biden2.jpg", 6, frames=2)


@pytest.fixture(scope="module")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    with SeaweedServer(tmp_path_factory.mktemp("weed")) as server:
        yield server


def bucket(weed: SeaweedServer, *, versioned: bool = False) -> Storage:
    storage = Storage(weed.client(), f"hd-{uuid.uuid4().hex[:10]}")
    storage.ensure_bucket()
    if versioned:
        storage.client.put_bucket_versioning(
            Bucket=storage.bucket, VersioningConfiguration={"Status": "Enabled"}
        )
    return storage


def faces(results: list[FrameResult]) -> list[tuple[str, str | None, str | None]]:
    """(verdict, name, stranger id) of each face judged."""
    return [(f.verdict, f.name, f.stranger_id) for r in results for f in r.faces]


def stranger_ids(results: list[FrameResult]) -> set[str]:
    return {f.stranger_id for r in results for f in r.faces if f.stranger_id}


def test_retention_removes_old_frames_but_keeps_a_named_face_and_the_household_still_works(weed):
    storage = bucket(weed)
    enroll_household(storage)
    start = datetime.now(UTC)
    first = walk_by(storage, Collected(), [STRANGER, NAMED_LATER, KNOWN], start)
    by_frame = {round((r.captured_at - start).total_seconds() * 2): r for r in first}
    remembered = stranger_ids([by_frame[i] for i in range(STRANGER.frames) if i in by_frame])
    assert remembered
    # "this is Kit": a face of the second walker named from its verdict (a person's mark).
    named_result = by_frame[NAMED_LATER.start + 1]
    named = name_face(storage, "home", str(named_result.faces[0].verdict_id), "Kit", MAX_PIXELS)
    assert named.learned >= 1
    frames_before = set(storage.list_keys(frames_prefix("home")))
    assert len(frames_before) == len(first)

    # The clock 40 days on: a visit long over, the strangers past the memory.
    later = datetime.now(UTC) + timedelta(days=40)
    swept = sweep_household(storage, "home", later, strangers=remembered_strangers(storage))

    assert set(storage.list_keys(frames_prefix("home"))) == {named_result.frame_key}
    assert len(list(storage.list_keys(results_prefix("home")))) == 1
    assert swept.deleted == 2 * (len(first) - 1)
    assert swept.kept_marked == 1
    # Known photos, strangers' crops and the books are not frames: all still there.
    again = walk_by(storage, Collected(), [STRANGER, KNOWN], datetime.now(UTC) + timedelta(hours=1))
    seen = faces(again)
    assert ("known", "biden", None) in seen
    assert stranger_ids(again) & remembered, seen  # the stranger remembered, without their frames


def test_a_household_within_its_retention_loses_nothing(weed):
    storage = bucket(weed)
    save_household_settings(storage, "home", HouseholdSettings(retention_days=60))
    first = walk_by(storage, Collected(), [Walker(STRANGER.photo, 0, frames=2)], datetime.now(UTC))
    swept = sweep_household(
        storage, "home", datetime.now(UTC) + timedelta(days=40), strangers=remembered_strangers(storage)
    )
    assert swept.deleted == 0
    assert len(list(storage.list_keys(frames_prefix("home")))) == len(first)


def retained(broker: object, topics: list[str]) -> dict[str, bytes]:
    """What a client connecting now is handed as retained, of these topics."""
    subscriber = Subscriber(broker)  # type: ignore[arg-type]
    try:
        found = {t: subscriber.on(t, timeout=1.0) for t in topics}
    finally:
        subscriber.close()
    return {t: msgs[0][0] for t, msgs in found.items() if msgs and msgs[0][1] and msgs[0][0]}


def test_export_erase_import_round_trip(weed, mosquitto):
    storage = bucket(weed, versioned=True)
    settings = Settings(bucket=storage.bucket)
    enroll_household(storage)
    own = HouseholdSettings(
        channels=["email", "mqtt"],
        mqtt_url=mosquitto.url,
        retention_days=14,
        no_alerts=["neighbour"],
        quiet_hours={"email": "22:00-07:00"},
    )
    save_household_settings(storage, "home", own)
    first = walk_by(storage, Collected(), [STRANGER, KNOWN], datetime.now(UTC))
    remembered = stranger_ids(first)
    assert remembered
    topics = household_broker(own, settings).topics
    assert sync_announcements(storage, settings, "home", own).announced == ["street"]
    mqtt.publish(
        mqtt.parse_broker(mosquitto.url),
        [Message(topics.face("home", "street"), b"\xff\xd8face", retain=True)],
        timeout=5,
    )
    ours = [topics.discovery("home", "street"), topics.face("home", "street")]
    assert set(retained(mosquitto, ours)) == set(ours)  # the control: there before erasing

    out = io.BytesIO()
    exported = export_household(storage, "home", out)
    assert exported.verdicts == len(first)
    names = set(zipfile.ZipFile(io.BytesIO(out.getvalue())).namelist())
    assert {"manifest.json", "verdicts.jsonl", "settings.json", "state/strangers/index.json"} <= names
    assert any(n.startswith("known/obama/") for n in names)
    assert any(n.startswith("strangers/") and n.endswith(".crop") for n in names)
    assert not any(n.startswith(("sessions/", "encodings.npz")) for n in names)

    storage.put(f"{household_prefix('home')}sessions/{'s' * 20}.json", b"{}")  # someone signed in
    erased = erase_household(storage, settings, "home")
    assert erased.left == 0 and left_under(storage, household_prefix("home")) == 0
    assert erased.objects > exported.files  # versions, the session and the encodings too
    assert erased.topics >= 2
    assert retained(mosquitto, ours) == {}

    imported = import_household(storage, io.BytesIO(out.getvalue()), MAX_PIXELS)
    assert imported.verdicts == len(first) and imported.known_photos >= 2
    kept = load_household_settings(storage, "home")
    assert kept.model_dump(mode="json") == own.model_dump(mode="json")
    again = walk_by(storage, Collected(), [STRANGER, KNOWN], datetime.now(UTC) + timedelta(minutes=30))
    assert ("known", "biden", None) in faces(again)
    assert stranger_ids(again) & remembered  # remembered across the round trip
    history = [json.loads(line) for line in zipfile.ZipFile(out).read("verdicts.jsonl").splitlines()]
    assert {h["frame_key"] for h in history} <= set(storage.list_keys(frames_prefix("home")))


def test_import_refuses_a_tampered_zip_and_an_existing_household(weed):
    storage = bucket(weed)
    photo = TESTDATA / "known" / "biden" / "biden.jpg"
    storage.put(known_photo_key("home", "biden", photo.name), photo.read_bytes(), content_type="image/jpeg")
    out = io.BytesIO()
    export_household(storage, "home", out)

    with pytest.raises(BadInput, match="already has data"):
        import_household(storage, io.BytesIO(out.getvalue()), MAX_PIXELS)

    tampered = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as source, zipfile.ZipFile(tampered, "w") as target:
        for item in source.infolist():
            body = source.read(item)
            target.writestr(item, b"not the photo" if item.filename.startswith("known/") else body)
    other = bucket(weed)
    with pytest.raises(BadInput, match=r"known/biden/biden\.jpg: 13 bytes, the manifest says"):
        import_household(other, io.BytesIO(tampered.getvalue()), MAX_PIXELS)
    assert list(other.list_keys("")) == []  # refused whole: nothing written

    done = import_household(storage, io.BytesIO(out.getvalue()), MAX_PIXELS, replace=True)
    assert done.replaced > 0
