"""Look again through recognize's real code and a real S3 server: yesterday's passers-by
were strangers; once one of them is enrolled, their faces of the last week are judged again
and shown as known (with what they were), nobody else changes, no alert goes out, and a
second look changes nothing. The street is walked once for the module; each test judges a
copy of that bucket."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from facewatch.alerts import handover
from facewatch.layout import FrameKey, results_prefix, stranger_crops_prefix
from facewatch.recognize.decisions import MatchPolicy
from facewatch.recognize.history import verdict_rows
from facewatch.recognize.known import enroll
from facewatch.recognize.look_again import look_again
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.records import FrameResult
from facewatch.store.storage import Storage
from tests.conftest import REPO, copy_bucket, run_cli
from tests.street import MAX_PIXELS, Collected, Walker, enroll_household, walk_by

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)
YESTERDAY = NOW - timedelta(days=1)
ALEX_PHOTO = (
    REPO.parent / "shared" / "testdata" / "faces" / "knn_examples" / "train" / "alex_lacamoire" / "img1.jpg"
)
WALK = [Walker("alex-lacamoire.png", 0, frames=6), Walker("rose-leslie.jpg", 3, frames=6, row=1)]
POLICY = MatchPolicy()  # the default deployment's rule (Settings' defaults)


@pytest.fixture(scope="module")
def walked(s3_endpoint, aws_env):
    """Household home (Obama, Biden) saw Alex Lacamoire and Rose Leslie pass by yesterday."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    storage = Storage(client, f"fw-walked-{uuid.uuid4().hex[:12]}")
    storage.ensure_bucket()
    enroll_household(storage)
    notifier = Collected()
    results = walk_by(storage, notifier, WALK, YESTERDAY)
    assert notifier.alerts, "the passers-by alerted when they passed"
    return storage, results


@pytest.fixture
def street(walked, storage):
    source, results = walked
    return copy_bucket(source, storage), results


def faces_by_result(storage):
    out = {}
    for key in storage.list_keys(results_prefix("home")):
        out[key] = storage.get_json(key)
    return out


def test_faces_of_someone_enrolled_today_are_known_now_with_what_they_were(street, monkeypatch):
    storage, results = street
    sent = []
    for notifier in (handover.HttpNotifier, handover.LambdaNotifier, handover.LogNotifier):
        monkeypatch.setattr(notifier, "send", lambda self, alert: sent.append(alert) or "sent")
    before = faces_by_result(storage)
    stranger_faces = [f for r in results for f in r.faces if f.verdict == "stranger"]
    alex_stranger = {f.stranger_id for r in results for f in r.faces if f.box.y < 200 and f.stranger_id}
    assert len(alex_stranger) == 1 and len(stranger_faces) >= 6

    enroll(storage, "home", "Alex", [(ALEX_PHOTO.name, ALEX_PHOTO.read_bytes())], MAX_PIXELS)
    done = look_again(
        storage, "home", since=NOW - timedelta(days=7), now=NOW, max_pixels=MAX_PIXELS, policy=POLICY
    )

    assert done.checked >= len(stranger_faces) and not done.capped
    assert done.changed, "Alex's faces should now be known"
    assert {c.after["name"] for c in done.changed} == {"Alex"}
    for change in done.changed:
        assert change.before["verdict"] == "stranger"
        assert change.after["looked_again"]["was"] == {
            "verdict": "stranger",
            "stranger_id": change.before["stranger_id"],
            "distance": change.before["distance"],
        }
        assert change.after["looked_again"]["at"] == NOW.isoformat()
        assert change.before["stranger_id"] in alex_stranger
        frame, index = FrameKey.from_verdict_id(change.verdict_id)
        stored = FrameResult.model_validate(storage.get_json(frame.result_key))
        face = stored.faces[index]
        assert (face.verdict, face.name, face.looked_again) == ("known", "Alex", change.after["looked_again"])
    # Rose's faces, and every other field of every result, are as they were.
    after = faces_by_result(storage)
    changed = {c.verdict_id for c in done.changed}
    for key, result in after.items():
        for old, new in zip(before[key]["faces"], result["faces"], strict=True):
            if new.get("verdict_id") not in changed:
                assert new == old
            else:
                assert new["alert"] == old["alert"] and new["visit_id"] == old["visit_id"]
    assert sent == []  # no alert was handed to notify
    assert not list(storage.list_keys("households/home/alerts/"))
    # Every face kept of Alex's stranger is Alex now: that memory is forgotten, crops too.
    (alex_id,) = alex_stranger
    assert done.forgotten == [alex_id]
    assert StrangerStore(storage).load("home")[0].get(alex_id) is None
    assert not list(storage.list_keys(stranger_crops_prefix("home", alex_id)))
    assert len(StrangerStore(storage).load("home")[0].strangers) == 1  # Rose
    # The history shows what changed.
    rows = [r for r in verdict_rows(storage, "home") if r["verdict_id"] in changed]
    assert len(rows) == len(changed) and all(r["looked_again"]["was"]["verdict"] == "stranger" for r in rows)

    again = look_again(
        storage, "home", since=NOW - timedelta(days=7), now=NOW + timedelta(hours=1), max_pixels=MAX_PIXELS
    )
    assert again.changed == [] and again.forgotten == []
    assert faces_by_result(storage) == after


def test_faces_older_than_since_or_past_the_cap_are_left_alone(street):
    storage, _ = street
    enroll(storage, "home", "Alex", [(ALEX_PHOTO.name, ALEX_PHOTO.read_bytes())], MAX_PIXELS)
    before = faces_by_result(storage)

    later = look_again(storage, "home", since=NOW - timedelta(hours=1), now=NOW, max_pixels=MAX_PIXELS)
    assert (later.checked, later.changed) == (0, [])
    capped = look_again(
        storage, "home", since=NOW - timedelta(days=7), now=NOW, max_pixels=MAX_PIXELS, limit=1
    )
    assert capped.capped and capped.checked <= 1
    assert "capped at the newest 1" in capped.line()
    assert len(faces_by_result(storage)) == len(before)


def test_enroll_and_look_again_commands_print_what_they_looked_at(street):
    storage, _ = street
    enrolled = run_cli(storage, "enroll", "--household", "home", "--name", "Alex", str(ALEX_PHOTO))
    assert enrolled.returncode == 0, enrolled.stderr
    lines = enrolled.stdout.strip().splitlines()
    assert lines[0].startswith("Alex: 1 of 1 photo(s)")
    said = re.fullmatch(r"looked again: (\d+) faces, (\d+) now known", lines[-1])
    assert said and int(said.group(2)) >= 1 and int(said.group(1)) >= int(said.group(2)), lines[-1]

    again = run_cli(storage, "look-again", "--household", "home", "--since", "7d")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith(", 0 now known")
    refused = run_cli(storage, "look-again", "--household", "../x")
    assert refused.returncode == 2 and "invalid household" in refused.stderr
