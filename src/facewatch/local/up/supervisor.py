"""Supervision of `facewatch up`'s child processes: each is watched; one that dies is
logged, counted and started again after a backoff that doubles (1 s, 2 s, 4 s … at most
60 s); one that died KEEPS_DYING times within DYING_WINDOW seconds is marked failing, in the
status and by one operator email, and is still retried with the backoff, while the
rest keep running. The status (every process's pid, uptime, restarts, state) is written
to a JSON file after every look, for `facewatch up --status`."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

KEEPS_DYING = 5
DYING_WINDOW = 300.0
FIRST_BACKOFF = 1.0
LONGEST_BACKOFF = 60.0


class Child(Protocol):
    """What the supervisor needs of a process: start (until it answers), stop, and whether
    it still runs."""

    name: str
    finishes: bool
    """True for a child whose clean exit (status 0) is the end of its work (an agent at the
    end of a video file), not a death: it is not restarted."""

    def start(self) -> None: ...

    def stop(self) -> None:
        """Stop it and everything it started; for one that already exited, end only what it
        left running."""
        ...

    def pid(self) -> int | None: ...

    def exit_code(self) -> int | None:
        """None while it runs; its exit status once it stopped."""
        ...


@dataclass
class Watched:
    """One child and what the supervisor knows about it."""

    child: Child
    started_at: float = field(default_factory=time.time)
    restarts: int = 0
    deaths: deque[float] = field(default_factory=deque)
    failing: bool = False
    restart_at: float | None = None
    last_error: str | None = None
    finished: bool = False

    def state(self) -> str:
        if self.finished:
            return "finished"
        if self.restart_at is not None:
            return "failing" if self.failing else "restarting"
        return "failing" if self.failing else "running"

    def backoff(self) -> float:
        return min(LONGEST_BACKOFF, FIRST_BACKOFF * 2 ** max(0, len(self.deaths) - 1))


class Supervisor:
    """Watches children on a thread of its own until stop()."""

    def __init__(
        self,
        children: Sequence[Child],
        status_path: Path,
        *,
        on_failing: Callable[[str, str], None] = lambda name, why: None,
        interval: float = 0.5,
        extra_status: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self.watched = [Watched(child) for child in children]
        self.status_path = status_path
        self.on_failing = on_failing
        self.interval = interval
        self.extra_status = extra_status
        self.started_at = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Supervisor:
        self.write_status()
        self._thread = threading.Thread(target=self._run, name="facewatch-supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (the children are stopped by their owner, in its order)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=120)
        self.status_path.unlink(missing_ok=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for watched in self.watched:
                if self._stop.is_set():
                    return
                self.look(watched, time.time())
            self.write_status()

    def look(self, watched: Watched, now: float) -> None:
        """One look at one child: note a death, or restart it when its backoff is over."""
        if watched.finished:
            return
        if watched.restart_at is None:
            code = watched.child.exit_code()
            if code is None:
                return
            if code == 0 and watched.child.finishes:
                watched.finished = True
                log.warning("%s: finished", watched.child.name)
                return
            # What it started may outlive it (a gunicorn worker holding the port the
            # restart needs): stopping a dead child ends those, as systemd ends a cgroup.
            watched.child.stop()
            self._died(watched, now, f"exited with status {code}")
            return
        if now < watched.restart_at:
            return
        try:
            watched.child.start()
        except Exception as exc:  # it did not come up: that is one more death
            watched.child.stop()
            self._died(watched, now, f"did not start again: {exc}")
            return
        watched.restarts += 1
        watched.started_at = time.time()
        watched.restart_at = None
        log.warning("%s: restarted (restart %d)", watched.child.name, watched.restarts)

    def _died(self, watched: Watched, now: float, why: str) -> None:
        watched.deaths.append(now)
        while watched.deaths and watched.deaths[0] < now - DYING_WINDOW:
            watched.deaths.popleft()
        watched.last_error = why
        watched.restart_at = now + watched.backoff()
        log.error("%s %s; restarting in %.0f s", watched.child.name, why, watched.backoff())
        if len(watched.deaths) >= KEEPS_DYING and not watched.failing:
            watched.failing = True
            message = (
                f"{watched.child.name} died {len(watched.deaths)} times within "
                f"{DYING_WINDOW:.0f} s (last: {why}); it is retried, at most {LONGEST_BACKOFF:.0f} s apart"
            )
            log.error("%s", message)
            try:
                self.on_failing(watched.child.name, message)
            except Exception:
                log.exception("could not report that %s keeps dying", watched.child.name)
        elif len(watched.deaths) < KEEPS_DYING:
            watched.failing = False

    def status(self) -> dict[str, Any]:
        now = time.time()
        return {
            "pid": os.getpid(),
            "uptime_seconds": round(now - self.started_at, 1),
            "processes": {
                w.child.name: {
                    "pid": w.child.pid() if w.state() in ("running", "failing") else None,
                    "uptime_seconds": round(now - w.started_at, 1) if w.state() == "running" else 0.0,
                    "restarts": w.restarts,
                    "state": w.state(),
                    "last_error": w.last_error,
                }
                for w in self.watched
            },
            **self.extra_status(),
        }

    def write_status(self) -> None:
        temp = self.status_path.with_suffix(".tmp")
        temp.write_text(json.dumps(self.status(), indent=1))
        os.replace(temp, self.status_path)


def read_status(status_path: Path) -> dict[str, Any] | None:
    """The status a running `facewatch up` wrote, or None when none runs on that folder."""
    try:
        status = json.loads(status_path.read_text())
    except (OSError, ValueError):
        return None
    try:
        os.kill(int(status["pid"]), 0)
    except (OSError, KeyError, ValueError):
        return None
    return dict(status)
