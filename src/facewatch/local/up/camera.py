"""One camera of `facewatch up`: the edge agent (edge/agent.py's run_agent) as a process of
its own, supervised like the functions, writing its counts to a small JSON file at most
once a second for `facewatch up --status`: frames read and uploaded, reconnects, and the
last warning or error it logged (a stream that dropped, an upload that failed).

    python -m facewatch.local.up.camera --source S --household H --camera C --stats FILE

Its settings (bucket, endpoint, spool folder) come from the environment the stack gives it.
SIGTERM and SIGINT stop the capture; what the spool holds is flushed or kept for the next
start (SpoolOptions.stop_flush_timeout)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from facewatch.config import get_settings
from facewatch.edge.pipeline import AgentSummary, EdgeOptions
from facewatch.edge.spool import SpoolOptions

log = logging.getLogger(__name__)

STOP_FLUSH_SECONDS = 5.0


class LastProblem(logging.Handler):
    """Remembers the last warning or error logged in this process."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.message: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.message = (
            f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(record.created))} {record.getMessage()}"
        )


class StatsFile:
    """The agent's counts in a JSON file, replaced whole (a reader never sees half)."""

    def __init__(self, path: Path, problem: LastProblem, every: float = 1.0) -> None:
        self.path = path
        self.problem = problem
        self.every = every
        self._last = 0.0

    def write(self, summary: AgentSummary, *, force: bool = False, state: str = "running") -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        stats: dict[str, Any] = {
            **summary.as_dict(),
            "state": state,
            "last_error": self.problem.message,
            "pid": os.getpid(),
        }
        temp = self.path.with_suffix(".tmp")
        temp.write_text(json.dumps(stats))
        os.replace(temp, self.path)


def read_stats(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="facewatch up's edge agent for one camera")
    parser.add_argument("--source", required=True)
    parser.add_argument("--household", required=True)
    parser.add_argument("--camera", required=True)
    parser.add_argument("--stats", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    problem = LastProblem()
    logging.getLogger().addHandler(problem)

    from facewatch.alerts.availability import camera_availability
    from facewatch.edge.agent import run_agent
    from facewatch.store.storage import Storage

    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping capture, flushing the spool", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    stats = StatsFile(args.stats, problem)
    stats.write(AgentSummary(), force=True, state="starting")
    settings = get_settings()
    # Online for Home Assistant while it runs, when `facewatch up` has a broker (FACEWATCH_MQTT_URL).
    with camera_availability(settings, args.household, args.camera):
        summary = run_agent(
            args.source,
            household=args.household,
            camera=args.camera,
            settings=settings,
            storage=Storage.from_settings(settings),
            options=EdgeOptions(spool=SpoolOptions(stop_flush_timeout=STOP_FLUSH_SECONDS)),
            stop=stop,
            on_frame=stats.write,
        )
    stats.write(summary, force=True, state="stopped" if stop.is_set() else "source ended")
    print(json.dumps(summary.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
