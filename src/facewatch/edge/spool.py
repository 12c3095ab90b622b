"""Store-and-forward for the edge agent: every frame chosen for upload is first written to a
bounded on-disk spool, and one background thread uploads the spool in order, with backoff
while storage is unreachable. Capture never waits for the network, a restart finds what
was not yet sent, and a frame is deleted from the spool only after its upload succeeded.

An item is two files, `<seq>.jpg` and `<seq>.json` (its key and metadata), each written to a
temporary name, flushed to disk and renamed, the .json last: an item without its .json was
never complete, and one whose .json cannot be read is dropped with a log line. A frame sent
but not yet deleted when the agent dies is sent again on restart under the same key, with
the same bytes: the same object and ETag, which recognize takes as a duplicate delivery.

The spool keeps its index and byte count in memory (read once at start), so a full spool
of thousands of frames costs no directory scan per frame. One agent per spool directory:
a second one would send the same frames, so it is refused (an OS lock, released when the
process dies).

A full disk (the spool's own limit not reached, but the disk's) costs the oldest frame and
one more try; if the frame still cannot be written it is lost, counted and logged, and
capture goes on: an agent that crashed there would crash again on every restart."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from facewatch.exceptions import FacewatchError, StorageError

log = logging.getLogger(__name__)

Upload = Callable[[str, bytes, dict[str, str]], object]
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
FAILURE_LOG_INTERVAL = 60.0
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


class SpoolLocked(FacewatchError):
    """Another agent is using this spool directory."""


@dataclass(frozen=True, slots=True)
class SpoolOptions:
    """Where the agent keeps the frames it has not uploaded yet, how it retries them, and how
    long it waits for them when it ends."""

    directory: Path | None = None
    """None: Settings.spool_dir or ~/.cache/facewatch/spool, per household-camera."""
    max_bytes: int = DEFAULT_MAX_BYTES
    max_backoff: float = 15.0
    """Longest wait between upload tries while storage is away."""
    drain_timeout: float = 120.0
    """When the source ends, seconds to wait for the spool to drain."""
    stop_flush_timeout: float = 5.0
    """When stopped (e.g. by SIGINT), seconds to wait at most."""


@dataclass
class SpoolStats:
    spooled: int = 0
    uploaded: int = 0
    uploaded_bytes: int = 0
    dropped: int = 0
    failures: int = 0


class Spool:
    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        # Frames lost: the oldest, to make room, and new ones a full disk would not take.
        self.dropped = 0
        self.write_failures = 0
        self._last_failure_log: float | None = None
        self._lock = threading.Lock()
        self._lockfile: IO[bytes] | None = _lock_directory(self.directory)
        self._sizes: dict[int, int] = {}
        for leftover in self.directory.glob(".*.tmp"):  # a write cut short by a crash
            leftover.unlink(missing_ok=True)
        for item in self.directory.glob("*.json"):
            if item.stem.isdigit():
                self._sizes[int(item.stem)] = _size(item) + _size(item.with_suffix(".jpg"))
        self._queue: deque[int] = deque(sorted(self._sizes))
        self._bytes = sum(self._sizes.values())
        self._next = (self._queue[-1] + 1) if self._queue else 1
        if self._queue:
            log.info("spool %s: %d frame(s) left from a previous run", self.directory, len(self._queue))

    def close(self) -> None:
        if self._lockfile is not None:
            self._lockfile.close()
            self._lockfile = None

    def __len__(self) -> int:
        return len(self._queue)

    def items(self) -> list[Path]:
        """Complete items, oldest first."""
        with self._lock:
            return [self._path(seq, ".json") for seq in self._queue]

    def size(self) -> int:
        """Bytes the spool holds."""
        return self._bytes

    def _path(self, seq: int, suffix: str) -> Path:
        return self.directory / f"{seq:012d}{suffix}"

    def put(self, key: str, jpeg: bytes, metadata: dict[str, str]) -> bool:
        """Spool a frame; False if the disk would not take it (the frame is lost, counted
        and logged, but capture goes on: a full disk must not stop the camera)."""
        record = json.dumps({"key": key, "metadata": metadata}).encode()
        with self._lock:
            seq = self._next
            self._next += 1
            self._make_room(len(jpeg) + len(record))
            for attempt in (1, 2):
                try:
                    self._write_item(seq, jpeg, record)
                    break
                except OSError as exc:
                    if attempt == 1:
                        # A disk filled by something else: the oldest frame is the one to
                        # lose, as when the spool itself is full, then one more try.
                        if exc.errno in _NO_SPACE and self._queue:
                            self._forget(self._queue.popleft())
                            self.dropped += 1
                        continue
                    self.dropped += 1
                    self.write_failures += 1
                    self._log_write_failure(exc)
                    return False
            self._sizes[seq] = len(jpeg) + len(record)
            self._bytes += self._sizes[seq]
            self._queue.append(seq)
            return True

    def _write_item(self, seq: int, jpeg: bytes, record: bytes) -> None:
        try:
            _write(self._path(seq, ".jpg"), jpeg)
            _write(self._path(seq, ".json"), record)
        except OSError:
            self._path(seq, ".json").unlink(missing_ok=True)
            self._path(seq, ".jpg").unlink(missing_ok=True)
            raise

    def _log_write_failure(self, exc: OSError) -> None:
        # One line a minute at most: a full disk fails every frame, several a second.
        now = time.monotonic()
        if self._last_failure_log is not None and now - self._last_failure_log < FAILURE_LOG_INTERVAL:
            return
        self._last_failure_log = now
        log.error(
            "spool %s cannot be written (%s): frames are being lost, %d so far; free some disk space",
            self.directory,
            exc.strerror or exc,
            self.write_failures,
        )

    def _make_room(self, incoming: int) -> None:
        dropped = 0
        while self._queue and self._bytes + incoming > self.max_bytes:
            self._forget(self._queue.popleft())
            dropped += 1
        if dropped:
            self.dropped += dropped
            log.warning(
                "spool full (%d bytes): dropped the %d oldest frame(s); %d dropped so far",
                self.max_bytes,
                dropped,
                self.dropped,
            )

    def _forget(self, seq: int) -> None:
        self._bytes -= self._sizes.pop(seq, 0)
        self._path(seq, ".json").unlink(missing_ok=True)  # first: the item is no longer complete
        self._path(seq, ".jpg").unlink(missing_ok=True)

    def oldest(self) -> tuple[Path, str, bytes, dict[str, str]] | None:
        """The oldest complete item as (handle, key, jpeg, metadata); damaged ones are dropped."""
        while True:
            with self._lock:
                if not self._queue:
                    return None
                seq = self._queue[0]
                item = self._path(seq, ".json")
                try:
                    record = json.loads(item.read_text())
                    return item, record["key"], self._path(seq, ".jpg").read_bytes(), record["metadata"]
                except (OSError, ValueError, KeyError, TypeError):
                    log.error("spool item %s is damaged; removing it", item.name)
                    self._queue.popleft()
                    self._forget(seq)

    def done(self, item: Path) -> None:
        """The item was uploaded: remove it (if a full spool has not dropped it already)."""
        seq = int(item.stem)
        with self._lock:
            if seq in self._sizes:
                with contextlib.suppress(ValueError):
                    self._queue.remove(seq)
                self._forget(seq)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _write(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except OSError:
        temp.unlink(missing_ok=True)  # a half-written file would only take more of a full disk
        raise


def _lock_directory(directory: Path) -> IO[bytes]:
    handle = (directory / ".lock").open("ab")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise SpoolLocked(f"spool {directory} is in use by another agent") from exc
    return handle


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
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="facewatch-forwarder", daemon=True)

    def start(self) -> Forwarder:
        self._thread.start()
        return self

    def submit(self, key: str, jpeg: bytes, metadata: dict[str, str]) -> None:
        """Spool a frame for upload; returns once it is on disk (or lost to a full disk),
        never waits for the network."""
        if not self.spool.put(key, jpeg, metadata):
            return
        self.stats.spooled += 1
        with self._changed:
            self._changed.notify_all()

    @property
    def pending(self) -> int:
        return len(self.spool)

    def _run(self) -> None:
        backoff, outage_since = self.first_backoff, None
        while not self._stop.is_set():
            head = self.spool.oldest()
            if head is None:
                with self._changed:
                    if not len(self.spool) and not self._stop.is_set():
                        self._changed.wait(0.5)
                continue
            item, key, jpeg, metadata = head
            try:
                self.upload(key, jpeg, metadata)
            except Exception as exc:
                # Anything but a StorageError is a bug, but losing the frame or the thread
                # over it would be worse: it is logged and retried like an outage.
                self.stats.failures += 1
                if not isinstance(exc, StorageError):
                    log.exception("upload of %s failed unexpectedly; retrying in %.1fs", key, backoff)
                elif outage_since is None:
                    # One line per outage, not one per retry: the spool keeps everything.
                    log.warning("storage unreachable (%s); spooling frames, retrying with backoff", exc)
                else:
                    log.debug("upload of %s failed again (%s); retrying in %.1fs", key, exc, backoff)
                if outage_since is None:
                    outage_since = time.monotonic()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            self.spool.done(item)
            self.stats.uploaded += 1
            self.stats.uploaded_bytes += len(jpeg)
            backoff = self.first_backoff
            if outage_since is not None:
                log.warning(
                    "storage back after %.0fs; %d frame(s) still to send",
                    time.monotonic() - outage_since,
                    len(self.spool),
                )
                outage_since = None
            with self._changed:
                self._changed.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until the spool is empty (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.pending:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    break
                self._changed.wait(min(left, 0.5))
        return self.pending == 0

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        self._thread.join(timeout=30)
