"""Driving `facewatch up` as a real process, for the tests of `up` and of its supervision
(test_up*.py): start it and read its `ready` and export lines, run the other commands against
it, wait for what it does, and check that every frame was judged and every alert sent once."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import boto3

from facewatch.layout import FrameKey, frames_prefix
from facewatch.local.processes import free_port
from facewatch.recognize.recognizer import alert_id_for
from facewatch.recognize.triggers import StorageEvent
from facewatch.records import AlertOutcome, DeliveryStatus
from facewatch.store.storage import Storage
from tests.conftest import TESTDATA
from tests.waiting import wait_until

CLIP = TESTDATA / "video" / "short_hamilton_clip.mp4"
T = TypeVar("T")
PORT_NAMES = ("s3", "detect", "recognize", "notify", "feedback", "console")


def clean_env() -> dict[str, str]:
    """This environment without any FACEWATCH_* or AWS_* setting of the test run."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("FACEWATCH_", "AWS_"))}


def facewatch(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "facewatch.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def write_config(path: Path, ports: dict[str, int], extra: str = "") -> Path:
    """A config with household `home` and PORTS; EXTRA (top-level keys or tables) first.
    The door listens on a free 127.0.0.1 port unless EXTRA has a [web] of its own."""
    lines = ["[households.home]", 'recipients = ["family@example.test"]', 'timezone = "Europe/Berlin"']
    lines += ["[ports]", *(f"{name} = {port}" for name, port in ports.items())]
    if "[web]" not in extra:
        lines += ["[web]", f'listen = "127.0.0.1:{free_port()}"']
    path.write_text(extra + "\n" + "\n".join(lines) + "\n")
    return path


class Up:
    """One `facewatch up` process, read until `ready` and its export line."""

    def __init__(
        self, data: Path, config: Path, outbox: Path, log: Path, env: dict[str, str] | None = None
    ) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "facewatch.cli",
                "up",
                *("--data", str(data), "--config", str(config)),
                "--outbox",
                str(outbox),
            ],
            env={**clean_env(), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=log.open("ab"),
            text=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().strip()
        assert first == "ready", f"{first!r}\n{self.stderr()}"
        export = self.proc.stdout.readline().strip()
        assert export.startswith("export "), export
        self.exports = dict(item.split("=", 1) for item in shlex.split(export.removeprefix("export ")))

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def env(self) -> dict[str, str]:
        return {**clean_env(), **self.exports}

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


def wait_for(what: str, check: Callable[[], T | None], up: Up, timeout: float = 120.0) -> T:
    return wait_until(what, check, timeout, every=0.5, context=up.stderr)


def json_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def status(data: Path) -> dict[str, Any]:
    """`facewatch up --status` of the `up` running on `data`."""
    result = facewatch("up", "--status", "--data", str(data), env=clean_env(), timeout=30)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


# --- shared by the restart tests: every frame judged once, every alert sent once ------------------


def storage_of(up: Up) -> Storage:
    env = up.exports
    client = boto3.client(
        "s3",
        endpoint_url=env["FACEWATCH_S3_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    return Storage(client, env["FACEWATCH_BUCKET"])


def wait_every_frame_judged(up: Up, household: str = "home", timeout: float = 150.0) -> list[FrameKey]:
    """Until every frame in the bucket has its result (one key per frame: never two)."""
    storage = storage_of(up)

    def judged() -> list[FrameKey] | None:
        frames = [FrameKey.parse(k) for k in storage.list_keys(frames_prefix(household))]
        return frames if frames and all(storage.exists(f.result_key) for f in frames) else None

    return wait_for("a result for every frame", judged, up, timeout)


def emailed_alert_ids(outbox: Path) -> list[str]:
    return [
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["X-Facewatch-Alert-Id"])
        for p in sorted(outbox.glob("*.eml"))
    ]


def check_each_alert_sent_once(up: Up, frames: list[FrameKey], outbox: Path) -> int:
    """Every face whose result says its alert was handed over has its email (the alert id is
    derived from the frame and its ETag, as recognize derives it), and no alert id is in two
    emails. A face judged again after a crash may say "suppressed" while its first judging's
    email went out: that is one email, not a lost alert. Returns the number of emails."""
    storage = storage_of(up)
    expected = set()
    for frame in frames:
        result = storage.get_json(frame.result_key)
        event = StorageEvent("created", storage.bucket, str(frame), etag=result.get("frame_etag"))
        for i, face in enumerate(result.get("faces", [])):
            if (said := AlertOutcome.read(face.get("alert"))) and said.status is not DeliveryStatus.HELD_BACK:
                expected.add(alert_id_for(event, i))
    wait_for(
        "an email for every alert handed over", lambda: expected <= set(emailed_alert_ids(outbox)) or None, up
    )
    time.sleep(3)  # a doubled email would come now
    ids = emailed_alert_ids(outbox)
    assert len(ids) == len(set(ids)), f"an alert was emailed twice: {ids}"
    return len(ids)


def enroll_obama_and_play_the_clip(
    env: dict[str, str], log: Path, *, keep_stdout: bool = False
) -> subprocess.Popen[str]:
    """Obama enrolled in household home, then the clip played through an agent as camera
    door against the stack `env` points at; the agent's stderr appended to `log`, its
    stdout piped when `keep_stdout` (its final counts) and dropped otherwise."""
    photos = [str(p) for p in (TESTDATA / "known" / "obama").iterdir()]
    assert facewatch("enroll", "--household", "home", "--name", "Obama", *photos, env=env).returncode == 0
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "facewatch.cli",
            "agent",
            *("--source", str(CLIP), "--household", "home"),
            *("--camera", "door", "--quiet", "--max-fps", "25", "--drain-timeout", "120"),
        ],
        env=env,
        stdout=subprocess.PIPE if keep_stdout else subprocess.DEVNULL,
        stderr=log.open("ab"),
        text=True,
    )
