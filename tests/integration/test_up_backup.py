"""`facewatch up backup` of a running one-box while an agent uploads, and `facewatch up
restore` into a new data folder: every verdict given before the backup is there after the
restore, the frames the backup caught unjudged are judged by the restored stack's sweep,
and no alert the first stack emailed is emailed again."""

from __future__ import annotations

import zipfile

import pytest

from facewatch.layout import frames_prefix, results_prefix
from facewatch.local.processes import free_port
from facewatch.local.seaweed import find_weed
from tests.integration.up_harness import (
    PORT_NAMES,
    Up,
    clean_env,
    emailed_alert_ids,
    enroll_obama_and_play_the_clip,
    facewatch,
    storage_of,
    wait_every_frame_judged,
    wait_for,
    write_config,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_weed() is None, reason="the seaweedfs `weed` binary was not found"),
]


def test_backup_while_uploading_and_restore_into_a_new_folder(tmp_path, running):
    ports = {name: free_port() for name in PORT_NAMES}
    data, outbox = tmp_path / "data", tmp_path / "outbox"
    config = write_config(tmp_path / "home.toml", ports, "sweep_seconds = 3\n")
    up = Up(data, config, outbox, tmp_path / "up.log")
    running.append(up)
    env = up.env()
    agent = enroll_obama_and_play_the_clip(env, tmp_path / "agent.log")
    storage = storage_of(up)
    try:
        judged_before = wait_for(
            "a few frames judged", lambda: set(storage.list_keys(results_prefix("home"))) or None, up
        )
        backup = tmp_path / "home.zip"
        made = facewatch(
            "up",
            "backup",
            "--data",
            str(data),
            "--out",
            str(backup),
            "--config",
            str(config),
            env=clean_env(),
        )
        assert made.returncode == 0, made.stderr
        assert agent.wait(timeout=240) == 0, (tmp_path / "agent.log").read_text()
    finally:
        if agent.poll() is None:
            agent.kill()
    wait_every_frame_judged(up)
    verdicts_before = {k: storage.get_json(k) for k in judged_before}
    wait_for("the first stack's emails", lambda: emailed_alert_ids(outbox) or None, up)
    assert up.stop() == 0, up.stderr()
    assert (backup.stat().st_mode & 0o077) == 0  # every face and the secrets: owner-only
    assert "secrets.json" in zipfile.ZipFile(backup).namelist()

    second = tmp_path / "data2"
    refused = facewatch("up", "restore", str(backup), "--data", str(data), env=clean_env())
    assert refused.returncode == 2 and "new data folder" in refused.stderr
    restored = facewatch("up", "restore", str(backup), "--data", str(second), env=clean_env())
    assert restored.returncode == 0, restored.stderr

    ports2 = {name: free_port() for name in PORT_NAMES}
    config2 = write_config(tmp_path / "home2.toml", ports2, "sweep_seconds = 3\n")
    outbox2 = tmp_path / "outbox2"
    up2 = Up(second, config2, outbox2, tmp_path / "up2.log")
    running.append(up2)
    frames = wait_every_frame_judged(up2)
    storage2 = storage_of(up2)
    for key, verdict in verdicts_before.items():  # nothing judged is lost, nor judged again
        assert storage2.get_json(key) == verdict
    assert {str(f) for f in frames} <= set(storage2.list_keys(frames_prefix("home")))
    first_ids = set(emailed_alert_ids(outbox))
    again = emailed_alert_ids(outbox2) if outbox2.exists() else []
    assert not first_ids & set(again), "an alert the first stack sent was sent again"
    assert len(again) == len(set(again))
    assert up2.stop() == 0, up2.stderr()
