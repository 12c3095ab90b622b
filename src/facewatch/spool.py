"""Store-and-forward for the edge agent: every frame chosen for upload is first written to a
bounded on-disk spool, and one background thread uploads the spool in order, with backoff
while storage is unreachable. Capture never waits for the network, a restart finds what
was not yet sent, and a frame is deleted from the spool only after its upload succeeded.

An item is two files, `<seq>.jpg` and `<seq>.json` (its key and metadata), each written to a
temporary name and renamed, the .json last: an item without its .json was never complete.
A frame sent but not yet deleted when the agent dies is sent again on restart under the
same key, with the same bytes: the same object and ETag, which recognize takes as a
duplicate delivery."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facewatch.exceptions import StorageError

log = logging.getLogger(__name__)

Upload = Callable[[str, bytes, dict[str, str]], object]


@dataclass
class SpoolStats:
    spooled: int = 0
    uploaded: int = 0
    uploaded_bytes: int = 0
    dropped: int = 0
    failures: int = 0


class Spool:
    def __init__(self, directory: Path, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        existing = self.items()
        self._next = (int(existing[-1].stem) + 1) if existing else 1
        self.dropped = 0

    def items(self) -> list[Path]:
        """Complete items, oldest first (the .json is written last)."""
        return sorted(self.directory.glob("*.json"), key=lambda p: int(p.stem))

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.directory.iterdir() if p.is_file())

    def put(self, key: str, jpeg: bytes, metadata: dict[str, str]) -> None:
        with self._lock:
            seq = self._next
            self._next += 1
            self._make_room(len(jpeg))
            self._write(self.directory / f"{seq:012d}.jpg", jpeg)
            self._write(
                self.directory / f"{seq:012d}.json", json.dumps({"key": key, "metadata": metadata}).encode()
            )

    def _make_room(self, incoming: int) -> None:
        items = self.items()
        while items and self.size() + incoming > self.max_bytes:
            oldest = items.pop(0)
            self._remove(oldest)
            self.dropped += 1
            log.warning(
                "spool full (%d bytes): dropped the oldest frame; %d dropped so far",
                self.max_bytes,
                self.dropped,
            )

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        temp = path.with_name(f".{path.name}.tmp")
        with temp.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)

    @staticmethod
    def _remove(item: Path) -> None:
        item.unlink(missing_ok=True)  # the .json first: the item is no longer complete
        item.with_suffix(".jpg").unlink(missing_ok=True)

    def oldest(self) -> tuple[Path, str, bytes, dict[str, str]] | None:
        for item in self.items():
            try:
                record = json.loads(item.read_text())
                return item, record["key"], item.with_suffix(".jpg").read_bytes(), record["metadata"]
            except (OSError, ValueError, KeyError):
                log.error("spool item %s is damaged; removing it", item.name)
                self._remove(item)
        return None

    def done(self, item: Path) -> None:
        with self._lock:
            self._remove(item)


class Forwarder:
    """Drains a Spool in order through `upload`, backing off while it fails."""

    def __init__(
        self, spool: Spool, upload: Upload, *, first_backoff: float = 0.5, max_backoff: float = 15.0
    ) -> None:
        self.spool = spool
        self.upload = upload
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.stats = SpoolStats()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="facewatch-forwarder", daemon=True)

    def start(self) -> Forwarder:
        self._thread.start()
        return self

    def submit(self, key: str, jpeg: bytes, metadata: dict[str, str]) -> None:
        self.spool.put(key, jpeg, metadata)
        self.stats.spooled += 1
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self.spool.items())

    def _run(self) -> None:
        backoff = self.first_backoff
        while not self._stop.is_set():
            head = self.spool.oldest()
            if head is None:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            item, key, jpeg, metadata = head
            try:
                self.upload(key, jpeg, metadata)
            except StorageError as exc:
                self.stats.failures += 1
                log.warning("upload of %s failed (%s); retrying in %.1fs", key, exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            self.spool.done(item)
            self.stats.uploaded += 1
            self.stats.uploaded_bytes += len(jpeg)
            backoff = self.first_backoff

    def flush(self, timeout: float) -> bool:
        """Wait until the spool is empty (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        return self.pending == 0

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)
