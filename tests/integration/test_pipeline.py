"""The whole flow on the embedded local stack: camera clip → edge agent → S3 → (bucket
notification) → recognize → notify → .eml in the outbox."""

import json
import os
import subprocess
import sys

import pytest

from facewatch.local.demo import run_demo
from tests.conftest import REPO, TESTDATA, make_video
from tests.mqtt_broker import LateSubscriber, Subscriber

pytestmark = [pytest.mark.integration, pytest.mark.slow]
KEYS = {"frames_read", "frames_uploaded", "faces_seen", "strangers", "emails", "outbox"}


def test_facewatch_demo_ends_with_a_stranger_email_and_tells_home_assistant(tmp_path, mosquitto):
    outbox = tmp_path / "outbox"
    subscriber = Subscriber(mosquitto)
    # The demo's broker is the deployment's: the household's own discovery prefix.
    config = "homeassistant/home/device/facewatch_home/camera_front-door/config"
    visit = "facewatch/home/front-door/visit"
    # As Home Assistant does: the visit topic subscribed to only once the config arrived.
    late = LateSubscriber(mosquitto, config, visit)
    done = subprocess.run(
        [sys.executable, "-m", "facewatch.cli", "demo", "--outbox", str(outbox)],
        cwd=REPO,
        env={**os.environ, "FACEWATCH_MQTT_URL": mosquitto.url},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary.keys() >= KEYS
    assert summary["frames_read"] == 275
    assert 0 < summary["frames_uploaded"] < 50
    assert summary["strangers"] >= 1
    assert summary["emails"] >= 1
    emls = sorted(outbox.glob("*.eml"))
    assert len(emls) == summary["emails"]
    assert b"Content-Type: image/jpeg" in emls[0].read_bytes()
    # With FACEWATCH_MQTT_URL set, the demo household's alerts also reach MQTT: the camera's
    # config and availability first, then the visit, which a late subscriber still gets.
    try:
        assert subscriber.on(config)
        visits = [json.loads(p) for p, _ in subscriber.on(visit)]
        assert visits and all(v["verdict"] == "stranger" for v in visits)
        assert len(visits) == summary["emails"], "one MQTT visit per alert, as one email"
        order = [t for t, _, _ in subscriber.messages]
        availability = "facewatch/home/front-door/availability"
        assert order.index(config) < order.index(availability) < order.index(visit)
        assert [json.loads(v)["alert_id"] for v in late.visits] == [v["alert_id"] for v in visits]
    finally:
        subscriber.close()
        late.close()
    assert mosquitto.password not in done.stdout + done.stderr


def test_a_video_of_a_known_person_sends_no_email(tmp_path):
    video = make_video(TESTDATA / "faces" / "obama3.jpg", tmp_path / "obama.mp4", seconds=4, fps=10)
    summary = run_demo(video, TESTDATA / "known", tmp_path / "outbox", say=lambda _: None)
    assert summary["frames_uploaded"] >= 1
    assert summary["known"] >= 1
    assert summary["strangers"] == 0
    assert summary["emails"] == 0


def test_a_video_of_someone_not_known_sends_an_email(tmp_path):
    video = make_video(TESTDATA / "faces" / "obama3.jpg", tmp_path / "obama.mp4", seconds=4, fps=10)
    known = tmp_path / "known"
    (known / "biden").mkdir(parents=True)
    (known / "biden" / "biden.jpg").write_bytes((TESTDATA / "known" / "biden" / "biden.jpg").read_bytes())
    summary = run_demo(video, known, tmp_path / "outbox", say=lambda _: None)
    assert summary["strangers"] >= 1
    assert summary["emails"] == 1  # one person standing at the door: one visit, one email


def test_demo_refuses_a_known_tree_of_the_wrong_shape(tmp_path):
    (tmp_path / "empty").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "facewatch.cli", "demo", "--known", str(tmp_path / "empty")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "holds no <name>/*.jpg|*.png folders" in done.stderr


def test_after_the_demo_on_a_street_facewatch_strangers_lists_one_identity_per_passer_by(tmp_path):
    """Issue 8's check, as a person would run it: `facewatch demo --keep-running` on a street
    scene, then `facewatch strangers --json` against the stack it left up."""
    import os
    import signal

    from tests.street import Walker, scene, write_video

    street = [
        Walker("alex-lacamoire.png", 0, frames=30),
        Walker("rose-leslie.jpg", 20, frames=30, row=1, left_to_right=False),
        Walker("kit-harington.jpeg", 45, frames=30),
        Walker("biden2.jpg", 80, frames=30, row=1),  # known in the demo's household
    ]
    video = write_video(list(scene(street)), tmp_path / "street.mp4", fps=10)
    out_dir = str(tmp_path / "out")
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "facewatch.cli",
            "demo",
            "--video",
            str(video),
            "--outbox",
            out_dir,
            "--keep-running",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        exports = None
        for line in demo.stderr:  # the demo says how to reach its stack once it is done
            if line.strip().startswith("export "):
                exports = dict(item.split("=", 1) for item in line.split()[1:])
                break
        assert exports, "the demo never said where its stack is"
        listed = subprocess.run(
            [sys.executable, "-m", "facewatch.cli", "strangers", "--household", "home", "--json"],
            env={**os.environ, **exports},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        strangers = [json.loads(line) for line in listed.stdout.splitlines()]
        assert len(strangers) == 3  # three unknown passers-by, not one per frame; Biden is known
        assert all(s["stranger_id"].startswith("stranger-") and s["sightings"] >= 2 for s in strangers)
    finally:
        demo.send_signal(signal.SIGINT)
        out, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0
    assert json.loads(out.strip().splitlines()[-1])["emails"] >= 1
