"""What recognize checks of an SNS message once its signature holds (web/sns.py), and
what it acts on: only the signed `Message`.

A signature covers some fields of the JSON SNS POSTs, not the request around them. So:
- a message with a top-level field SNS does not send (`Records`, say) is refused, as is a
  request that carries CloudEvent (`ce-*`) headers beside SNS's signature: either is
  someone dressing a genuine message up to be read as something else;
- its signed `Timestamp` must be within the last hour (and not more than a few minutes
  ahead): a message captured once is not good for ever;
- its `MessageId` is taken once (`SeenMessages`): a replay within the hour is answered 200
  as a duplicate, and nothing is done; while the first delivery is still being handled,
  another is answered 503 (SNS retries it later: should the first die, it is not lost).
  The ids are kept in the bucket under the hour of their Timestamp (layout.sns_seen_key)
  and swept once no message of that hour is fresh.

With the signed Message the only thing parsed, a replay cannot vary what it carries (an
S3 record's eTag, which would make a new alert id), and with the MessageId kept it cannot
repeat it either."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from facewatch.exceptions import ObjectMissing, WriteConflict
from facewatch.layout import SNS_SEEN_PREFIX, sns_seen_key
from facewatch.store.storage import Storage
from facewatch.web.sns import SnsMessage, SnsRefused

__all__ = [
    "ENVELOPE_FIELDS",
    "MAX_AGE",
    "MAX_AHEAD",
    "Seen",
    "SeenMessages",
    "check_envelope",
    "signed_message",
]

log = logging.getLogger(__name__)

_COMMON = (
    "Type",
    "MessageId",
    "TopicArn",
    "Message",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertURL",
)
ENVELOPE_FIELDS: dict[str, frozenset[str]] = {
    # MessageAttributes is unsigned: SNS sends it when a publisher set attributes; never read.
    "Notification": frozenset((*_COMMON, "Subject", "UnsubscribeURL", "MessageAttributes")),
    "SubscriptionConfirmation": frozenset((*_COMMON, "Token", "SubscribeURL")),
    "UnsubscribeConfirmation": frozenset((*_COMMON, "Token", "SubscribeURL")),
}
"""Every top-level field SNS sends an HTTP(S) subscriber, per type (AWS SNS docs, "HTTP/HTTPS
notification JSON format" and its confirmation siblings)."""

MAX_AGE = timedelta(hours=1)
MAX_AHEAD = timedelta(minutes=5)
"""How far ahead of this clock SNS's may run."""


def check_envelope(message: SnsMessage, headers: Mapping[str, str], now: datetime) -> datetime:
    """Refuse (SnsRefused) what a signature cannot vouch for; returns the signed Timestamp."""
    extra = sorted(set(message.fields) - ENVELOPE_FIELDS[message.type])
    if extra:
        raise SnsRefused(
            f"SNS {message.type} {message.message_id} has fields SNS does not send: {', '.join(extra[:5])}"
        )
    cloud_event = sorted(k for k in headers if k.lower().startswith("ce-"))
    if cloud_event:
        raise SnsRefused(
            f"an SNS message does not come with CloudEvent headers ({', '.join(cloud_event[:5])})"
        )
    raw = message.fields.get("Timestamp")
    try:
        stamp = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise SnsRefused(
            f"SNS {message.type} {message.message_id}: Timestamp {raw!r} is not a time"
        ) from None
    if stamp.tzinfo is None:
        raise SnsRefused(f"SNS {message.type} {message.message_id}: Timestamp {raw!r} has no time zone")
    if stamp < now - MAX_AGE:
        raise SnsRefused(
            f"SNS {message.type} {message.message_id} of {raw} is over {MAX_AGE.seconds // 60} minutes old"
        )
    if stamp > now + MAX_AHEAD:
        raise SnsRefused(f"SNS {message.type} {message.message_id} of {raw} is ahead of this clock")
    return stamp.astimezone(UTC)


def signed_message(message: SnsMessage) -> bytes:
    """The notification's signed `Message`: all of it that recognize reads."""
    text = message.fields.get("Message")
    if not isinstance(text, str):
        raise SnsRefused(f"SNS {message.type} {message.message_id}: Message missing or not a string")
    return text.encode()


CLAIM_SECONDS = 150.0
"""A message being handled holds its id this long: longer than recognize's own timeout
(120 s), so only the claim of an invocation that died is taken over when SNS retries."""
SWEEP_EVERY_SECONDS = 600.0
KEEP = MAX_AGE + MAX_AHEAD + timedelta(hours=1)
"""Ids of hours older than this are swept: a message of theirs is refused as stale anyway."""


class Seen(Enum):
    """Why a message was not claimed: what recognize answers SNS for it."""

    DONE = "done"
    """Handled before: a duplicate (200, nothing done)."""
    IN_PROGRESS = "in progress"
    """Another delivery holds a live claim (503: SNS sends it again, and once that claim
    is done it is a duplicate, once it is released or expired it is taken)."""


@dataclass(frozen=True, slots=True)
class _Expired:
    """A claim older than CLAIM_SECONDS and not done: its handler died; taken over if
    the record is still this version."""

    etag: str


class SeenMessages:
    """The SNS MessageIds recognize has taken, in the bucket, so every instance knows them.

    `take` claims an id (a conditional create: of two deliveries at once, one wins; the
    other learns whether the id is done or still being handled, `Seen`);
    `done` marks it handled for good; `release` lets SNS's retry of a failed one through."""

    def __init__(
        self,
        storage: Storage,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.now = now
        self.clock = clock
        self._swept_at: float | None = None
        self._lock = threading.Lock()

    def key(self, message: SnsMessage, stamp: datetime) -> str:
        return sns_seen_key(stamp.strftime("%Y%m%d%H"), message.message_id)

    def take(self, message: SnsMessage, stamp: datetime) -> str | Seen:
        """The claim's key when this message is new (or its earlier handler died: its
        claim expired); else whether it was handled (DONE: a duplicate) or is being
        handled (IN_PROGRESS: SNS should send it again later)."""
        now = self.now()
        body = {"message_id": message.message_id, "claimed_at": now.isoformat(), "done": False}
        # SNS sends one MessageId with one Timestamp; should a copy carry another, the hours
        # beside it are where the first would be (fresh stamps lie within 65 minutes).
        for hour in (stamp - timedelta(hours=1), stamp + timedelta(hours=1)):
            beside = self.key(message, hour)
            held = self._held(beside, now)
            if held is not None:
                return held if isinstance(held, Seen) else self._take_over(beside, body, held)
        key = self.key(message, stamp)
        try:
            self.storage.put_json(key, body, if_none_match=True)
            return key
        except WriteConflict:
            pass
        held = self._held(key, now)
        if held is None:
            return self.take(message, stamp)  # released meanwhile
        return held if isinstance(held, Seen) else self._take_over(key, body, held)

    def _held(self, key: str, now: datetime) -> Seen | _Expired | None:
        """What the record at `key` says: handled, claimed now, a claim expired, or none."""
        try:
            held = self.storage.get(key)
        except ObjectMissing:
            return None
        record: dict[str, Any] = json.loads(held.body)
        if record.get("done"):
            return Seen.DONE
        claimed_at = datetime.fromisoformat(str(record["claimed_at"]))
        if (now - claimed_at).total_seconds() < CLAIM_SECONDS:
            return Seen.IN_PROGRESS
        return _Expired(held.etag)

    def _take_over(self, key: str, body: dict[str, Any], expired: _Expired) -> str | Seen:
        try:
            self.storage.put_json(key, body, if_match=expired.etag)
        except WriteConflict:
            return Seen.IN_PROGRESS  # another retry took it over first
        return key

    def done(self, key: str, message: SnsMessage) -> None:
        self.storage.put_json(
            key, {"message_id": message.message_id, "done": True, "handled_at": self.now().isoformat()}
        )
        self.sweep()

    def release(self, key: str) -> None:
        try:
            self.storage.delete(key)
        except Exception:  # the caller's failure matters more; the claim expires anyway
            log.exception("could not release SNS claim %s", key)

    def sweep(self) -> None:
        """Delete the ids of hours no fresh message can be from; at most every few minutes
        per instance, and never failing the message that triggered it."""
        with self._lock:
            if self._swept_at is not None and self.clock() - self._swept_at < SWEEP_EVERY_SECONDS:
                return
            self._swept_at = self.clock()
        oldest = (self.now() - KEEP).strftime("%Y%m%d%H")
        try:
            for hour in self.storage.list_folders(SNS_SEEN_PREFIX):
                if hour < oldest:
                    for key in list(self.storage.list_keys(f"{SNS_SEEN_PREFIX}{hour}/")):
                        self.storage.delete(key)
        except Exception:
            log.exception("sweeping old SNS message ids failed; tried again later")
