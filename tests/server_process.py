"""A real server process for the tests (Mosquitto, the RTSP camera): started in a session of
its own, ready only once it answers, stopped or killed with its whole process group.

A subclass says how to spawn the process, how to tell that it answers, and which start-up
failure is worth another try (a port still held right after a kill); the start, the
deadline, the stop and the kill are here, once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Self


class ServerStartError(RuntimeError):
    """The server did not come up."""


class ServerProcess:
    """One server process at a time; `start()` again after `stop()` or `kill()`."""

    name = "server"
    error: type[ServerStartError] = ServerStartError

    def __init__(self, *, startup_timeout: float, prefix: str) -> None:
        self.startup_timeout = startup_timeout
        self.startup_seconds: float | None = None  # of the last start()
        self._tmp = tempfile.TemporaryDirectory(prefix=prefix)
        self.dir = Path(self._tmp.name)
        self.log_path = self.dir / "server.log"
        self._proc: subprocess.Popen[Any] | None = None

    # -- what a subclass says ---------------------------------------------------------------
    def _spawn(self) -> subprocess.Popen[Any]:
        """The process, started with `start_new_session=True` (its pid is its group's id)."""
        raise NotImplementedError

    def _wait_ready(self, proc: subprocess.Popen[Any], deadline: float) -> str | None:
        """None once the server answers, else why not (by `deadline`)."""
        raise NotImplementedError

    def _worth_retrying(self, log: str) -> bool:
        """Whether a start that failed with this log (of that start only) may be tried again."""
        return False

    # -- state ------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        """The server's output so far (all starts)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> Self:
        if self.running:
            raise RuntimeError(f"{self.name} already running")
        t0 = time.monotonic()
        deadline = t0 + self.startup_timeout
        while True:
            log_offset = len(self.log_text())
            self._proc = self._spawn()
            error = self._wait_ready(self._proc, deadline)
            if error is None:
                break
            self.kill()
            if not (self._worth_retrying(self.log_text()[log_offset:]) and time.monotonic() < deadline):
                raise self.error(f"{self.name} did not start ({error}):\n{self.log_text()[-3000:]}")
            time.sleep(0.05)  # the port held by the last one: let it go
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to its process group, then SIGKILL after `timeout` seconds."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        _reap(proc)

    def kill(self) -> None:
        """SIGKILL to its process group: the server dies abruptly (clients see the link drop)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _reap(proc)

    def restart(self) -> Self:
        """stop() then start() (on the same ports, if the server had them given)."""
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _signal_group(proc: subprocess.Popen[Any], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def _reap(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL to what is left of its group, wait for it, close our ends of its pipes."""
    _signal_group(proc, signal.SIGKILL)
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe:
            pipe.close()
