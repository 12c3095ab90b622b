"""Cameras from the config as supervised agents of `facewatch up`, against a real RTSP
camera (tests/rtsp_server.py): the stream is killed and comes back mid-run, the agent
reconnects (counted in `facewatch up --status`), frames flow again, and a SIGTERM stops
the agent first."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest

from facewatch.local.processes import free_port
from facewatch.local.seaweed import find_weed
from tests.integration.up_harness import (
    PORT_NAMES,
    Up,
    check_each_alert_sent_once,
    status,
    wait_every_frame_judged,
    wait_for,
    write_config,
)
from tests.rtsp_camera import FFMPEG_ENV, RtspCamera, require_gst_rtsp

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_weed() is None, reason="the seaweedfs `weed` binary was not found"),
]


def test_an_rtsp_camera_that_drops_is_reconnected(tmp_path, running):
    require_gst_rtsp()
    camera = RtspCamera()
    camera.start()
    try:
        ports = {name: free_port() for name in PORT_NAMES}
        extra = f'[[cameras]]\nid = "front"\nhousehold = "home"\nsource = "{camera.url}"\n'
        config = write_config(tmp_path / "home.toml", ports, extra)
        data = tmp_path / "data"
        up = Up(data, config, tmp_path / "outbox", tmp_path / "up.log", env=FFMPEG_ENV)
        running.append(up)

        def stats() -> dict[str, Any]:
            return dict(status(data)["cameras"]["home/front"])

        first = wait_for("frames read from the stream", lambda: (s := stats())["frames_read"] > 20 and s, up)
        assert first["reconnects"] == 0
        camera.kill()
        time.sleep(2)
        camera.start()  # the same port
        back = wait_for(
            "a reconnect and frames again",
            lambda: (s := stats())["reconnects"] >= 1 and s["frames_read"] > first["frames_read"] + 20 and s,
            up,
        )
        assert back["last_error"], "the drop should be the last problem reported"
        print(
            "figures:",
            json.dumps({"rtsp_reconnects": back["reconnects"], "frames_read": back["frames_read"]}),
        )
        agent = status(data)["processes"]["agent home/front"]
        assert agent["restarts"] == 0 and agent["state"] == "running"
        assert up.stop() == 0, up.stderr()
        log = (data / "logs" / "agent-home-front.log").read_text(errors="replace")
        assert "stopping capture" in log
    finally:
        camera.close()


def test_kill_9_of_notify_and_of_an_agent_loses_no_frame_and_no_alert(tmp_path, running):
    require_gst_rtsp()
    camera = RtspCamera()
    camera.start()
    try:
        ports = {name: free_port() for name in PORT_NAMES}
        extra = f'sweep_seconds = 3\n[[cameras]]\nid = "front"\nhousehold = "home"\nsource = "{camera.url}"\n'
        data, outbox = tmp_path / "data", tmp_path / "outbox"
        up = Up(
            data,
            write_config(tmp_path / "home.toml", ports, extra),
            outbox,
            tmp_path / "up.log",
            env=FFMPEG_ENV,
        )
        running.append(up)

        def uploaded() -> int:
            return int(status(data)["cameras"]["home/front"]["frames_uploaded"])

        wait_for("frames uploaded", lambda: uploaded() >= 2, up)
        for name in ("notify", "agent home/front"):
            before = status(data)["processes"][name]
            os.kill(before["pid"], signal.SIGKILL)
            wait_for(
                f"{name} restarted",
                lambda name=name, before=before: (
                    (p := status(data)["processes"][name])["restarts"] == 1
                    and p["state"] == "running"
                    and p["pid"] != before["pid"]
                ),
                up,
            )
        wait_for("frames uploaded after the restarts", lambda: uploaded() >= 2, up)
        camera.kill()  # no more frames: what was uploaded must now all be judged

        frames = wait_every_frame_judged(up)
        emails = check_each_alert_sent_once(up, frames, outbox)
        print(
            "figures:",
            json.dumps({"killed": ["notify", "agent"], "frames_judged": len(frames), "emails": emails}),
        )
        assert up.stop() == 0, up.stderr()
    finally:
        camera.close()
