"""No frame stays unjudged: a frame uploaded while recognize was down (seaweedfs's webhook
gives up after a few retries) is found later and judged. At start and then every minute,
the frames of the last SWEEP_DAYS days without a result beside them are sent to recognize
as the storage event their upload would have sent, with the frame's ETag: recognize
(Recognizer.handle) judges each once, and a frame judged meanwhile is skipped there as a
duplicate, with the same alert ids, so no alert is sent twice.

Once an hour (and at start) the same thread removes each household's frames and results
past its retention (household/retention.py)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from facewatch.exceptions import BadKey, FacewatchError
from facewatch.layout import FrameKey, frames_prefix, results_prefix
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)

SWEEP_DAYS = 2
SWEEP_INTERVAL = 60.0
RETENTION_INTERVAL = 3600.0
SETTLE_SECONDS = 20.0
"""A frame captured this recently may still have its own event on the way: left for later."""


def unjudged_frames(
    storage: Storage,
    households: Iterable[str],
    now: datetime,
    days: int = SWEEP_DAYS,
    settle: float = SETTLE_SECONDS,
) -> Iterator[FrameKey]:
    """Frames of the last DAYS days (by their key's day, UTC) with no result beside them,
    captured at least SETTLE seconds before NOW."""
    now = now.astimezone(UTC)
    first_day = (now - timedelta(days=days - 1)).strftime("%Y%m%d")
    newest = (now - timedelta(seconds=settle)).strftime("%Y%m%d%H%M%S%f")
    for household in households:
        results = set(storage.list_keys(results_prefix(household)))
        for key in storage.list_keys(frames_prefix(household)):
            try:
                frame = FrameKey.parse(key)
            except BadKey:
                continue
            captured = f"{frame.day}{frame.name[:12]}"
            if frame.day >= first_day and captured <= newest and frame.result_key not in results:
                yield frame


def storage_event(bucket: str, key: str, etag: str | None) -> dict[str, Any]:
    """The S3 notification an upload of KEY sends (recognize/triggers.py reads it)."""
    obj: dict[str, Any] = {"key": quote(key)}
    if etag:
        obj["eTag"] = etag.strip('"')
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": datetime.now(UTC).isoformat(),
                "s3": {"bucket": {"name": bucket}, "object": obj},
            }
        ]
    }


@dataclass
class Sweeper:
    """Sweeps at start and then every `interval` seconds, on a thread of its own."""

    storage: Storage
    households: list[str]
    recognize_url: str
    token: str
    interval: float = SWEEP_INTERVAL
    judged: int = 0
    failed: int = 0
    last_sweep: str | None = None
    retention_interval: float = RETENTION_INTERVAL
    expired: int = 0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _last_retention: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sweep_once(self) -> int:
        """Send every unjudged frame to recognize; how many it accepted."""
        sent = 0
        session = requests.Session()
        for frame in list(unjudged_frames(self.storage, self.households, datetime.now(UTC))):
            if self._stop.is_set():
                break
            key = str(frame)
            etag = self.storage.etag(key)
            if etag is None:
                continue  # removed since it was listed
            try:
                response = session.post(
                    self.recognize_url,
                    json=storage_event(self.storage.bucket, key, etag),
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=120,
                )
                ok = response.status_code < 300
            except requests.RequestException:
                ok = False
            if ok:
                sent += 1
                log.warning("sweep: %s had no result; judged now", key)
            else:
                self.failed += 1
                log.warning("sweep: %s: recognize did not judge it yet; next sweep tries again", key)
        self.judged += sent
        self.last_sweep = datetime.now(UTC).isoformat()
        return sent

    def retention_once(self) -> int:
        """Frames and results past each household's retention, deleted; how many."""
        from facewatch.config import get_settings
        from facewatch.tenant.retention_sweep import sweep_households

        # the functions' own settings; a household that fails is tried again next time
        done = sweep_households(self.storage, get_settings(), self.households, self.clock())
        deleted = sum(s.deleted for s in done.swept)
        self.expired += deleted
        return deleted

    def start(self) -> Sweeper:
        self._thread = threading.Thread(target=self._run, name="facewatch-sweep", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=150)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep_once()
                due = self._last_retention is None or (
                    time.monotonic() - self._last_retention >= self.retention_interval
                )
                if due:
                    self._last_retention = time.monotonic()
                    self.retention_once()
            except FacewatchError as exc:  # storage down (seaweedfs restarting): next time
                log.warning("sweep: %s", exc)
            self._stop.wait(self.interval)

    def status(self) -> dict[str, Any]:
        return {
            "sweep": {
                "last": self.last_sweep,
                "judged": self.judged,
                "failed": self.failed,
                "expired": self.expired,
            }
        }
