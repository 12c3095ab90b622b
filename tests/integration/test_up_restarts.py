"""Supervision of `facewatch up`, for real: kill -9 recognize and then seaweedfs while an
agent's frames flow; each comes back (counted in `facewatch up --status`), every frame
gets exactly one result (the sweep judges what the webhook could not deliver), and no
alert is lost or doubled."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from facewatch.layout import frames_prefix
from facewatch.local.seaweed import find_weed
from tests.integration.up_harness import (
    PORT_NAMES,
    Up,
    check_each_alert_sent_once,
    enroll_obama_and_play_the_clip,
    status,
    storage_of,
    wait_every_frame_judged,
    wait_for,
    write_config,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_weed() is None, reason="the seaweedfs `weed` binary was not found"),
]


def kill_and_wait_back(data: Path, name: str, up: Up) -> None:
    before = status(data)["processes"][name]
    os.kill(before["pid"], signal.SIGKILL)

    def back() -> dict[str, Any] | None:
        now = status(data)["processes"][name]
        return now if now["restarts"] == before["restarts"] + 1 and now["state"] == "running" else None

    after = wait_for(f"{name} restarted", back, up, timeout=90)
    assert after["pid"] != before["pid"]


def test_kill_9_of_recognize_and_seaweedfs_loses_nothing(tmp_path, running):
    from facewatch.local.processes import free_port

    ports = {name: free_port() for name in PORT_NAMES}
    data, outbox = tmp_path / "data", tmp_path / "outbox"
    config = write_config(tmp_path / "home.toml", ports, "sweep_seconds = 3\n")
    up = Up(data, config, outbox, tmp_path / "up.log")
    running.append(up)
    env = up.env()
    first = status(data)
    assert set(first["processes"]) == {
        "seaweedfs",
        "detect",
        "recognize",
        "notify",
        "feedback",
        "console",
        "door",
    }
    assert all(
        p["restarts"] == 0 and p["state"] == "running" and p["pid"] for p in first["processes"].values()
    )

    agent = enroll_obama_and_play_the_clip(env, tmp_path / "agent.log", keep_stdout=True)
    try:
        wait_for(
            "the agent's frames flowing", lambda: any(storage_of(up).list_keys(frames_prefix("home"))), up
        )
        kill_and_wait_back(data, "recognize", up)
        kill_and_wait_back(data, "seaweedfs", up)
        out, _ = agent.communicate(timeout=240)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == 0, (tmp_path / "agent.log").read_text()
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["frames_uploaded"] == summary["frames_chosen"] > 0

    frames = wait_every_frame_judged(up)
    assert len(frames) == summary["frames_uploaded"]
    emails = check_each_alert_sent_once(up, frames, outbox)
    assert emails > 0, "the clip's strangers should alert"
    final = status(data)["processes"]
    assert final["recognize"]["restarts"] == 1 and final["seaweedfs"]["restarts"] == 1
    # The figures RELIABILITY.md records (visible with pytest -s).
    figures = {"killed": ["recognize", "seaweedfs"], "frames_uploaded": summary["frames_uploaded"]}
    print("figures:", json.dumps({**figures, "frames_judged": len(frames), "emails": emails}))
    assert up.stop() == 0, up.stderr()
