"""Supervision: a child that dies is restarted after a doubling backoff and counted; one
that keeps dying is reported once and still retried; the status says it all."""

from __future__ import annotations

import json
import os
from pathlib import Path

from facewatch.local.up.supervisor import (
    FIRST_BACKOFF,
    KEEPS_DYING,
    LONGEST_BACKOFF,
    Supervisor,
    read_status,
)


class FakeChild:
    def __init__(self, name: str, *, fails_to_start: bool = False, finishes: bool = False) -> None:
        self.name = name
        self.finishes = finishes
        self.code = -9
        self.running = True
        self.starts = 0
        self.stops = 0
        self.fails_to_start = fails_to_start
        self.next_pid = 100

    def start(self) -> None:
        self.starts += 1
        if self.fails_to_start:
            raise RuntimeError("port in use")
        self.running = True
        self.next_pid += 1

    def stop(self) -> None:
        self.stops += 1
        self.running = False

    def pid(self) -> int | None:
        return self.next_pid if self.running else None

    def exit_code(self) -> int | None:
        return None if self.running else self.code


def test_a_dead_child_is_restarted_after_a_backoff_and_counted(tmp_path: Path):
    child, other = FakeChild("recognize"), FakeChild("notify")
    supervisor = Supervisor([child, other], tmp_path / "status.json")
    watched = supervisor.watched[0]
    supervisor.look(watched, 1000.0)
    assert watched.restart_at is None  # alive: nothing to do
    child.running = False
    supervisor.look(watched, 1000.0)
    assert watched.restart_at == 1000.0 + FIRST_BACKOFF
    assert watched.state() == "restarting" and watched.last_error == "exited with status -9"
    supervisor.look(watched, 1000.0 + FIRST_BACKOFF / 2)
    assert child.starts == 0  # still backing off
    supervisor.look(watched, 1000.0 + FIRST_BACKOFF)
    assert child.starts == 1 and child.running and watched.restarts == 1 and watched.state() == "running"
    status = supervisor.status()
    assert status["processes"]["recognize"]["restarts"] == 1
    assert status["processes"]["recognize"]["pid"] == child.pid()
    assert status["processes"]["notify"] == {
        "pid": other.pid(),
        "uptime_seconds": status["processes"]["notify"]["uptime_seconds"],
        "restarts": 0,
        "state": "running",
        "last_error": None,
    }


def test_the_backoff_doubles_up_to_the_longest(tmp_path: Path):
    child = FakeChild("seaweedfs", fails_to_start=True)
    supervisor = Supervisor([child], tmp_path / "status.json")
    watched = supervisor.watched[0]
    child.running = False
    now = 1000.0
    waits = []
    for _ in range(9):
        supervisor.look(watched, now)
        assert watched.restart_at is not None
        waits.append(watched.restart_at - now)
        now = watched.restart_at
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(waits) == LONGEST_BACKOFF
    assert watched.restarts == 0 and child.stops >= 1


def test_one_that_keeps_dying_is_reported_once_and_the_rest_keep_running(tmp_path: Path):
    reports: list[tuple[str, str]] = []
    child, other = FakeChild("notify"), FakeChild("detect")
    supervisor = Supervisor(
        [child, other], tmp_path / "status.json", on_failing=lambda name, why: reports.append((name, why))
    )
    watched = supervisor.watched[0]
    now = 1000.0
    for _ in range(KEEPS_DYING + 2):
        child.running = False
        supervisor.look(watched, now)  # dies
        assert watched.restart_at is not None
        now = watched.restart_at
        supervisor.look(watched, now)  # comes back, to die again
    assert [name for name, _ in reports] == ["notify"]
    assert f"died {KEEPS_DYING} times" in reports[0][1]
    assert watched.failing and watched.state() == "failing"
    assert supervisor.status()["processes"]["notify"]["state"] == "failing"
    assert other.starts == 0 and supervisor.status()["processes"]["detect"]["state"] == "running"


def test_the_status_file_is_read_only_while_its_writer_runs(tmp_path: Path):
    path = tmp_path / "status.json"
    supervisor = Supervisor([FakeChild("detect")], path, extra_status=lambda: {"cameras": {}})
    supervisor.write_status()
    status = read_status(path)
    assert status is not None and status["pid"] == os.getpid() and status["cameras"] == {}
    path.write_text(json.dumps({**status, "pid": 2**22 + 12345}))
    assert read_status(path) is None
    assert read_status(tmp_path / "missing.json") is None


def test_a_child_that_finishes_its_work_is_not_restarted(tmp_path: Path):
    agent = FakeChild("agent home/door", finishes=True)
    supervisor = Supervisor([agent], tmp_path / "status.json")
    watched = supervisor.watched[0]
    agent.running, agent.code = False, 0
    supervisor.look(watched, 1000.0)
    supervisor.look(watched, 2000.0)
    assert agent.starts == 0 and watched.state() == "finished"
    assert supervisor.status()["processes"]["agent home/door"]["pid"] is None


def test_a_child_that_finishes_is_restarted_when_it_fails(tmp_path: Path):
    agent = FakeChild("agent home/door", finishes=True)
    supervisor = Supervisor([agent], tmp_path / "status.json")
    watched = supervisor.watched[0]
    agent.running, agent.code = False, 1
    supervisor.look(watched, 1000.0)
    supervisor.look(watched, 1000.0 + FIRST_BACKOFF)
    assert agent.starts == 1 and watched.restarts == 1 and watched.state() == "running"


def test_a_dead_childs_leftovers_are_stopped_before_it_is_started_again(tmp_path: Path):
    child = FakeChild("notify")
    supervisor = Supervisor([child], tmp_path / "status.json")
    watched = supervisor.watched[0]
    child.running = False
    supervisor.look(watched, 1000.0)
    assert child.stops == 1 and child.starts == 0
    supervisor.look(watched, 1000.0 + FIRST_BACKOFF)
    assert child.starts == 1 and watched.restarts == 1
