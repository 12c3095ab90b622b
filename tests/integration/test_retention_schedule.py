"""The retention sweep over every household as the AWS template's scheduled RetentionFunction
runs it (tenant/retention_sweep.py), on a real S3 server (moto's, over HTTP): frames past a
household's days go, a marked one stays and loses the lifecycle rule's tag in the week
before the rule would reach it, a run short of time hands the rest on to a new invocation
(moto's Lambda), and the sweep touches only what its IAM policy grants."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from facewatch.config import Settings, get_settings
from facewatch.edge.uploads import frame_tags
from facewatch.household.settings import HouseholdSettings, save_household_settings
from facewatch.layout import EXPIRY_TAG, FrameKey, known_photo_key, strangers_key
from facewatch.store.storage import Storage
from facewatch.tenant import retention_sweep
from facewatch.tenant.retention_sweep import households_of, run_scheduled, sweep_households

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
EXPIRY = 60
SETTINGS = Settings(frame_expiry_days=EXPIRY, stranger_memory_days=30)


def frame(storage: Storage, household: str, days_ago: float, *, tagged: bool = True) -> FrameKey:
    key = FrameKey.new(household, "door", NOW - timedelta(days=days_ago))
    storage.put(str(key), b"jpeg", content_type="image/jpeg", tags=frame_tags(EXPIRY if tagged else None))
    storage.put_json(key.result_key, {"faces": []})
    return key


def tags(storage: Storage, key: FrameKey) -> dict[str, str]:
    out = storage.client.get_object_tagging(Bucket=storage.bucket, Key=str(key))
    return {t["Key"]: t["Value"] for t in out["TagSet"]}


def named(storage: Storage, key: FrameKey) -> None:
    """A person named the face of `key`: the known photo cut from it names its frame."""
    storage.put(known_photo_key(key.household, "Ann", f"face-{key.name}-10-20.jpg"), b"jpeg")


@pytest.fixture
def deployment(storage: Storage) -> dict[str, Any]:
    save_household_settings(storage, "home", HouseholdSettings(retention_days=30))
    save_household_settings(storage, "shop", HouseholdSettings(retention_days=7))
    return {
        "old": frame(storage, "home", 40),
        "new": frame(storage, "home", 2),
        "marked_near_expiry": frame(storage, "home", EXPIRY - 3),
        "marked_young": frame(storage, "home", 35),
        "shop_old": frame(storage, "shop", 10),
        "shop_seen": frame(storage, "shop", 9),
    }


def test_every_household_is_swept_by_its_own_days_and_marked_frames_are_spared_from_the_rule(
    storage: Storage, deployment: dict[str, Any]
):
    named(storage, deployment["marked_near_expiry"])
    named(storage, deployment["marked_young"])
    storage.put_json(strangers_key("shop"), {"strangers": [_stranger_book_entry(deployment["shop_seen"])]})

    done = sweep_households(storage, SETTINGS, households_of({}, storage), NOW)

    assert {s.household: s.deleted for s in done.swept} == {"home": 2, "shop": 2}
    assert not done.failed and not done.left
    left = set(storage.list_keys("households/"))
    for gone in ("old", "shop_old"):
        assert str(deployment[gone]) not in left and deployment[gone].result_key not in left
    for kept in ("new", "marked_near_expiry", "marked_young", "shop_seen"):
        assert str(deployment[kept]) in left
    # The rule would reach this one within the week: untagged, no rule reaches it. The
    # younger marked one keeps its tag until then; an unmarked new one keeps it for good.
    assert tags(storage, deployment["marked_near_expiry"]) == {}
    assert tags(storage, deployment["marked_young"]) == dict([EXPIRY_TAG])
    assert tags(storage, deployment["new"]) == dict([EXPIRY_TAG])


def _stranger_book_entry(seen: FrameKey) -> dict[str, Any]:
    """A stranger remembered (as an older facewatch kept the memory, one object) whose
    recent sighting is `seen`: its frame must stay."""
    at = (NOW - timedelta(days=1)).isoformat()
    return {
        "stranger_id": "stranger-0a1b2c",
        "first_seen": at,
        "last_seen": at,
        "sightings": 1,
        "visits": 1,
        "representatives": [],
        "recent": [
            {
                "verdict_id": f"{seen.camera}/{seen.day}/{seen.name}#0",
                "frame_key": str(seen),
                "camera": "door",
                "seen_at": at,
                "box": [1, 2, 3, 4],
            }
        ],
    }


class Context:
    """What a Lambda handler reads of its context: the time left, falling by `step` a call."""

    def __init__(self, seconds: float, step: float) -> None:
        self.seconds, self.step = seconds, step

    def get_remaining_time_in_millis(self) -> int:
        self.seconds -= self.step
        return int(self.seconds * 1000)


@pytest.fixture
def lambda_client(aws_env: None) -> Iterator[Any]:
    """moto's Lambda (no Docker: an invocation is recorded and answered, not run)."""
    import boto3
    from moto import mock_aws

    with mock_aws(config={"lambda": {"use_docker": False}}):
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="retention", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client = boto3.client("lambda", region_name="us-east-1")
        client.create_function(
            FunctionName="facewatch-retention",
            Role=role,
            Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/facewatch:retention"},
            PackageType="Image",
        )
        yield client


def test_a_run_short_of_time_hands_the_households_left_to_a_new_invocation(
    storage: Storage, deployment: dict[str, Any], lambda_client: Any, monkeypatch: pytest.MonkeyPatch
):
    handed: list[tuple[str, dict[str, Any]]] = []

    def invoke(name: str, event: dict[str, Any]) -> None:
        retention_sweep._invoke_async(name, event)  # moto's Lambda accepts it
        handed.append((name, event))

    # Enough time for one household: the second is handed on, not started.
    context = Context(seconds=retention_sweep.HOUSEHOLD_SECONDS + 30, step=20)
    out = run_scheduled(
        {"version": "0", "detail-type": "Scheduled Event"},  # EventBridge's: names no household
        storage,
        SETTINGS,
        now=NOW,
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
        function_name="facewatch-retention",
        invoke=invoke,
    )
    assert [s["household"] for s in out["swept"]] == ["home"] and out["handed_on"] == 1
    assert handed == [("facewatch-retention", {"households": ["shop"]})]
    assert str(deployment["shop_old"]) in set(storage.list_keys("households/shop/"))

    # The hand-over's invocation sweeps what it was given, and only that.
    again = run_scheduled(
        handed[0][1], storage, SETTINGS, now=NOW, seconds_left=lambda: 900, function_name="x", invoke=invoke
    )
    assert [s["household"] for s in again["swept"]] == ["shop"] and again["handed_on"] == 0
    assert str(deployment["shop_old"]) not in set(storage.list_keys("households/shop/"))
    assert len(handed) == 1


@pytest.mark.parametrize("event", [{"households": "home"}, {"households": ["../etc"]}])
def test_an_event_naming_households_badly_is_refused(storage: Storage, event: dict[str, Any]):
    from facewatch.exceptions import BadInput

    with pytest.raises(BadInput):
        households_of(event, storage)


def test_the_handler_reads_its_settings_and_sweeps(
    storage: Storage, deployment: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FACEWATCH_BUCKET", storage.bucket)
    monkeypatch.setenv("FACEWATCH_S3_ENDPOINT_URL", storage.client.meta.endpoint_url)
    monkeypatch.setattr(retention_sweep, "datetime", _Frozen)
    get_settings.cache_clear()  # a process reads its settings once: an earlier test's stay otherwise
    try:
        out = retention_sweep.handler({"households": ["shop"]}, Context(900, 0))
    finally:
        get_settings.cache_clear()
    assert out == {
        "swept": [{"household": "shop", "deleted": 4, "kept_marked": 0}],
        "failed": [],
        "handed_on": 0,
    }


class _Frozen(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> _Frozen:  # type: ignore[override]
        return cls.fromtimestamp(NOW.timestamp(), tz)


# What each S3 operation may touch, as the template's RetentionFunction policy grants it.
GRANTED = {
    "ListObjectsV2": None,  # s3:ListBucket, under households/
    "GetObject": (
        "settings.json",
        "state/visits.json",
        "state/strangers.json",
        "state/strangers/",
        "negatives.npz",
    ),
    "HeadObject": (
        "settings.json",
        "state/visits.json",
        "state/strangers.json",
        "state/strangers/",
        "negatives.npz",
    ),
    "DeleteObjects": ("frames/", "results/"),
    "DeleteObjectTagging": ("frames/",),
}


def test_retention_only_reads_the_stranger_memory_and_settings_and_deletes_only_frames_and_verdicts(
    storage: Storage, deployment: dict[str, Any]
):
    """The IAM test's ENTRY_SKIP reasons for retention, kept true: the sweep's calls, as
    the S3 client makes them, are only those its policy grants (reads of the books, the
    deletes of frames and verdicts, the tag lifted)."""
    named(storage, deployment["marked_near_expiry"])
    storage.put_json(strangers_key("shop"), {"strangers": [_stranger_book_entry(deployment["shop_seen"])]})
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, params))

    storage.client.meta.events.register(
        "provide-client-params.s3.*", lambda params, model, **kw: record(model, params)
    )
    sweep_households(storage, SETTINGS, ["home", "shop"], NOW)
    assert calls
    refused = []
    for operation, params in calls:
        allowed = GRANTED.get(operation, ())
        if allowed is None:
            assert params.get("Prefix", "").startswith("households/")
            continue
        keys = (
            [o["Key"] for o in params["Delete"]["Objects"]]
            if operation == "DeleteObjects"
            else [params["Key"]]
        )
        for key in keys:
            inside = key.split("/", 2)[2] if key.startswith("households/") else key
            if not inside.startswith(allowed):
                refused.append(f"{operation} {key}")
    assert not refused, "the sweep does what RetentionFunction's policy does not grant:\n" + "\n".join(
        refused
    )
    assert {op for op, _ in calls} >= {"ListObjectsV2", "GetObject", "DeleteObjects", "DeleteObjectTagging"}
