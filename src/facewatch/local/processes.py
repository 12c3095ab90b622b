"""Local processes supervised: servers and functions started in a session of their own,
waited for until they answer, and stopped with everything they started. Used by the
local stack (`stack.py`), `facewatch up` (`up/`), the seaweedfs server and the tests."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import requests

from facewatch.exceptions import FacewatchError

log = logging.getLogger(__name__)

FUNCTIONS = ("detect", "recognize", "notify", "feedback", "console")
# What every local S3 server (moto, seaweedfs) takes and every process talking to one is given.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "facewatch-local",
    "AWS_SECRET_ACCESS_KEY": "facewatch-local-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class StackError(FacewatchError):
    """A local process (a server, a function, a part of the local stack) did not start or
    stopped working."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def functions_dir() -> Path:
    """Where functions/<name>/main.py live: the source checkout (editable install) or
    FACEWATCH_FUNCTIONS_DIR."""
    candidates = [
        Path(os.environ["FACEWATCH_FUNCTIONS_DIR"]) if os.environ.get("FACEWATCH_FUNCTIONS_DIR") else None,
        Path(__file__).resolve().parents[3] / "functions",
        Path.cwd() / "functions",
    ]
    for path in candidates:
        if path is not None and (path / "recognize" / "main.py").is_file():
            return path
    raise StackError("functions/ not found: run from the facewatch checkout or set FACEWATCH_FUNCTIONS_DIR")


def _wait_http(
    url: str, proc: subprocess.Popen[bytes] | None, timeout: float, what: str, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
            raise StackError(f"{what} exited with code {proc.returncode} while starting:\n{tail}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise StackError(f"{what} did not answer at {url} within {timeout:.0f}s (log: {log_path})")


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    url: str | None
    """Where it answers once it is up; None for a process that serves nothing."""
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            # A session of its own, so that stop() reaches what it starts too: a gunicorn
            # master's workers share its listening socket, and one whose master died keeps
            # answering on the port (and holding it from the next start) until it notices.
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        if self.url is not None:
            _wait_http(self.url, self.proc, timeout, self.name, self.log_path)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the process and all it started, SIGKILL after `grace` seconds; and
        SIGKILL to whatever a process that already died left behind."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
        _signal_group(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        _wait_group_gone(self.proc.pid)

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def exit_code(self) -> int | None:
        """None while it runs (or before it started); its exit status once it stopped."""
        return self.proc.poll() if self.proc is not None else None

    def restart(self, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout)

    def peak_rss_mb(self) -> float:
        """Peak resident memory of the process and its children (e.g. a gunicorn worker)."""
        if self.proc is None:
            return 0.0
        total = 0
        for pid in _process_tree(self.proc.pid):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def kill(self) -> None:
        """Die like a crashed instance, all its processes at once: no cleanup, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _signal_group(leader: int, signum: int) -> None:
    """Signal the session `leader` started (its pid is the group's id while any member lives)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signum)


def _wait_group_gone(group: int, timeout: float = 10.0) -> None:
    """Until no process of the group runs: a killed process frees its sockets as its last
    thread exits (an orphan's zombie then waits for pid 1, holding nothing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(
            _in_group(proc, group) and is_running(int(proc.name)) for proc in Path("/proc").glob("[0-9]*")
        ):
            return
        time.sleep(0.02)
    log.warning("processes of group %d still run %.0f s after SIGKILL", group, timeout)


def _stat_fields(stat: Path) -> list[str]:
    """/proc/…/stat after the command name: state, ppid, pgrp, …; [] once it is gone."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _in_group(proc: Path, group: int) -> bool:
    fields = _stat_fields(proc / "stat")
    return len(fields) > 2 and int(fields[2]) == group


def is_running(pid: int) -> bool:
    """Any thread of the process not yet dead: the main thread of a killed process can be a
    zombie while its other threads still exit, and the sockets close with the last of them
    (an orphan's zombie waits for whoever reaps for pid 1)."""
    states = [_stat_fields(task / "stat")[:1] for task in Path(f"/proc/{pid}").glob("task/*")]
    return any(state and state[0] not in ("Z", "X") for state in states)


def _process_tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                queue += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return pids


def function_process(name: str, port: int, source_dir: Path, env: dict[str, str], logs: Path) -> Process:
    """functions/<name>/main.py as a functions-framework process on 127.0.0.1:PORT."""
    ff = Path(sys.executable).with_name("functions-framework")
    argv0 = [str(ff)] if ff.exists() else [sys.executable, "-m", "functions_framework"]
    return Process(
        name,
        [
            *argv0,
            f"--target={name}",
            f"--source={source_dir / name / 'main.py'}",
            "--signature-type=http",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        env,
        logs / f"{name}.log",
        f"http://127.0.0.1:{port}/",
    )


def start_together(processes: Iterable[Process]) -> None:
    """Start the processes side by side (each pays its own interpreter start-up) and wait
    for all of them; the first failure is raised once all have finished starting."""
    errors: list[BaseException] = []

    def start(process: Process) -> None:
        try:
            process.start()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(p,)) for p in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
