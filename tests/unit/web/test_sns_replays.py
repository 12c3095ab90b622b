"""The SNS MessageIds recognize has taken (`SeenMessages`), against a real S3 server: a new
id is claimed, a handled one is a duplicate, one being handled is in progress (so SNS is
asked to retry), a claim whose handler died is taken over after it expires, a released
one is taken again, and two takers of one claim never both win."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from facewatch.store.storage import Storage
from facewatch.web.sns import SnsMessage
from facewatch.web.sns_replays import CLAIM_SECONDS, Seen, SeenMessages, _Expired

pytestmark = pytest.mark.integration

STAMP = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


def message(message_id: str = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324") -> SnsMessage:
    return SnsMessage("Notification", {"Type": "Notification", "MessageId": message_id})


class Clock:
    def __init__(self) -> None:
        self.at = STAMP + timedelta(seconds=5)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def seen(storage: Storage, clock: Clock) -> SeenMessages:
    return SeenMessages(storage, now=clock)


def test_a_new_message_is_claimed_and_once_done_is_a_duplicate(seen, storage):
    claim = seen.take(message(), STAMP)
    assert claim == seen.key(message(), STAMP)
    assert isinstance(claim, str)
    record: dict[str, Any] = storage.get_json(claim)
    assert record["done"] is False and record["message_id"] == message().message_id
    seen.done(claim, message())
    assert seen.take(message(), STAMP) is Seen.DONE
    assert storage.get_json(claim)["done"] is True


def test_a_message_being_handled_is_in_progress_not_a_duplicate(seen, clock):
    claim = seen.take(message(), STAMP)
    assert isinstance(claim, str)
    clock.at += timedelta(seconds=CLAIM_SECONDS - 1)  # slow, past SNS's 15 s, but alive
    assert seen.take(message(), STAMP) is Seen.IN_PROGRESS
    assert seen.take(message(), STAMP) is Seen.IN_PROGRESS


def test_a_dead_handlers_claim_is_taken_over_once_after_it_expires(storage, clock):
    first = SeenMessages(storage, now=clock)
    claim = first.take(message(), STAMP)
    assert isinstance(claim, str)
    clock.at += timedelta(seconds=CLAIM_SECONDS + 1)  # its handler died
    retry, other = SeenMessages(storage, now=clock), SeenMessages(storage, now=clock)
    assert retry.take(message(), STAMP) == claim
    assert other.take(message(), STAMP) is Seen.IN_PROGRESS, "the fresh claim is live again"
    retry.done(claim, message())
    assert other.take(message(), STAMP) is Seen.DONE


def test_a_released_claim_lets_the_retry_through(seen):
    claim = seen.take(message(), STAMP)
    assert isinstance(claim, str)
    seen.release(claim)
    assert seen.take(message(), STAMP) == claim


def test_a_copy_stamped_in_the_next_hour_finds_the_first(seen, clock):
    """SNS sends one MessageId with one Timestamp; a copy under the hour beside it still
    finds the first record, in each of its states."""
    claim = seen.take(message(), STAMP)
    assert isinstance(claim, str)
    later = STAMP + timedelta(hours=1)
    assert seen.take(message(), later) is Seen.IN_PROGRESS
    seen.done(claim, message())
    assert seen.take(message(), later) is Seen.DONE
    other = message("5a1e2b3c-0000-4000-8000-000000000001")
    dead = seen.take(other, STAMP)
    clock.at += timedelta(seconds=CLAIM_SECONDS + 1)
    assert seen.take(other, later) == dead, "an expired claim beside it is taken over where it is"


def test_of_two_takers_of_an_expired_claim_one_wins(storage, clock):
    claim = SeenMessages(storage, now=clock).take(message(), STAMP)
    assert isinstance(claim, str)
    clock.at += timedelta(seconds=CLAIM_SECONDS + 1)
    a, b = SeenMessages(storage, now=clock), SeenMessages(storage, now=clock)
    stale = storage.get(claim).etag
    assert a.take(message(), STAMP) == claim
    # b read the record before a took it over: its conditional write loses.
    assert b._take_over(claim, {"message_id": "x", "claimed_at": "y", "done": False}, _Expired(stale)) is (
        Seen.IN_PROGRESS
    )
    assert storage.get_json(claim)["message_id"] == message().message_id


def test_records_written_before_this_change_are_read(seen, storage):
    """The bucket may hold records of the code before: the same two forms."""
    key = seen.key(message(), STAMP)
    storage.put_json(key, {"message_id": message().message_id, "done": True, "handled_at": STAMP.isoformat()})
    assert seen.take(message(), STAMP) is Seen.DONE
    storage.put_json(
        key, {"message_id": message().message_id, "claimed_at": STAMP.isoformat(), "done": False}
    )
    assert seen.take(message(), STAMP) is Seen.IN_PROGRESS
