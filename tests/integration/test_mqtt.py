"""The mqtt channel against a real Mosquitto (password file, TLS with a test CA): what a
subscriber really receives (Home Assistant's discovery config, the visit, the retained
face), and the faults: broker down, wrong password, wrong CA, a connection dropped
mid-publish. An alert is never lost and never published twice under redelivery."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from facewatch.alerts.broker_sync import forget_announcements, sync_announcements
from facewatch.alerts.dead_letters import retry_dead_letters
from facewatch.alerts.delivery import deliver
from facewatch.alerts.home_assistant import Topics, device_id
from facewatch.alerts.retries import RetryPolicy
from facewatch.config import Settings
from facewatch.edge.uploads import store_face_frame
from facewatch.frames import Box, FrameMeta
from facewatch.household.settings import HouseholdSettings, load_household_settings, save_household_settings
from facewatch.images import decode_bgr
from facewatch.layout import FrameKey, alert_face_key, dead_alert_key, frames_prefix, sent_alert_key
from facewatch.local.processes import free_port
from facewatch.records import DeliveryStatus, FaceVerdict
from facewatch.store.storage import Storage
from tests.conftest import NO_EMAIL, clip_frame, run_cli, stranger_alert
from tests.mqtt_broker import HOST, LateSubscriber, Mosquitto, Subscriber

pytestmark = pytest.mark.integration

# The deployment's broker: each household under its own discovery prefix by default.
TOPICS = Topics("facewatch", "homeassistant/{household}")
VISIT = "facewatch/home/door/visit"
LAST = "facewatch/home/door/last"
FACE = "facewatch/home/door/face"
CONFIG = TOPICS.discovery("home", "door")
HOUSEHOLD_CONFIG = TOPICS.household_discovery("home")
assert CONFIG == "homeassistant/home/device/facewatch_home/camera_door/config"


def settings(**kw) -> Settings:
    # No wait after an announcement unless a test is about it: every test's bucket is new.
    return Settings(_env_file=None, **{"mail_to": ["family@example.test"], "mqtt_announce_seconds": 0, **kw})


DETAILS = {
    "faces": [FaceVerdict(box=Box(156, 82, 94, 94), verdict="stranger", distance=0.71)],
    "stranger_id": "stranger-0a1b2c",
    "visit_id": "visit-1",
}


def mqtt_only(storage: Storage, household: str = "home", **own: object) -> None:
    save_household_settings(
        storage, household, HouseholdSettings.model_validate({"channels": ["mqtt"], **own})
    )


@pytest.fixture
def subscriber(mosquitto: Mosquitto) -> Iterator[Subscriber]:
    sub = Subscriber(mosquitto)
    yield sub
    sub.close()


def test_an_alert_publishes_discovery_the_retained_face_last_visit_and_the_visit(
    storage, mosquitto, subscriber
):
    mqtt_only(storage)
    alert = stranger_alert(storage, "m1", **DETAILS)
    verdict_id = FrameKey.parse(alert.frame_key).verdict_id(0)
    alert = alert.model_copy(update={"faces": [alert.faces[0].model_copy(update={"verdict_id": verdict_id})]})
    linked = settings(
        mqtt_url=mosquitto.url,
        link_secret="a-link-secret-of-at-least-32-characters!",
        feedback_url="https://door.example.test/feedback",
        console_url="https://door.example.test/console",
    )
    outcome = deliver(alert, storage=storage, mail=NO_EMAIL, settings=linked)
    assert str(outcome).startswith("sent mqtt"), outcome

    ((config, _),) = subscriber.on(CONFIG)
    camera = json.loads(config)
    assert camera["components"]["last_name"]["state_topic"] == LAST
    assert (
        camera["device"]["via_device"]
        == json.loads(subscriber.on(HOUSEHOLD_CONFIG)[0][0])["device"]["identifiers"][0]
    )
    assert [p for p, _ in subscriber.on("facewatch/home/door/availability")] == [b"online"]
    ((visit, visit_retained),) = subscriber.on(VISIT)
    assert visit_retained is False, "Home Assistant ignores retained events"
    body = json.loads(visit)
    assert body["event_type"] == body["verdict"] == "stranger" and body["name"] is None
    assert body["stranger_id"] == "stranger-0a1b2c" and body["visit_id"] == "visit-1"
    assert body["camera"] == "door" and body["distance"] == pytest.approx(0.71)
    assert body["captured_at"] == alert.captured_at.isoformat()
    assert body["frame_url"].startswith("http") and body["face_url"].startswith("http")
    assert body["console_url"].startswith("https://door.example.test/console/signin?token=")
    assert body["known_url"].startswith("https://door.example.test/feedback/?token=")
    ((face, _),) = subscriber.on(FACE)
    assert decode_bgr(face, 10_000_000).shape[2] == 3
    assert storage.get(alert_face_key("home", alert.alert_id)).body == face
    # The visit and the face last published, also as the household's last stranger.
    assert [p for p, _ in subscriber.on(LAST)] == [visit]
    assert [p for p, _ in subscriber.on("facewatch/home/stranger")] == [visit]
    assert [p for p, _ in subscriber.on("facewatch/home/stranger/face")] == [face]
    today = json.loads(subscriber.on("facewatch/home/today")[0][0])
    assert today["strangers"] == 1 and today["known"] == 0

    # A Home Assistant that starts later (or restarts) still finds the camera, its last
    # face and its last visit ("Last seen" is not unknown after a restart).
    late = Subscriber(mosquitto, "homeassistant/#")
    late_face = Subscriber(mosquitto, "facewatch/#")
    try:
        assert [r for _, r in late.on(CONFIG)] == [True]
        assert late_face.on(FACE) == [(face, True)]
        assert late_face.on(LAST) == [(visit, True)]
        assert late_face.on("facewatch/home/stranger") == [(visit, True)]
        assert late_face.on("facewatch/home/door/availability") == [(b"online", True)]
        assert late_face.on(VISIT, timeout=0.3) == []
    finally:
        late.close()
        late_face.close()

    # Delivered again (a redelivered event): nothing is published twice.
    again = deliver(alert, storage=storage, mail=NO_EMAIL, settings=linked)
    assert again.status is DeliveryStatus.ALREADY_SENT
    assert len(subscriber.on(VISIT, count=2, timeout=1.0)) == 1


@pytest.mark.parametrize("wait", [1.0, 0.0], ids=["waits", "control-no-wait"])
def test_the_first_visit_of_a_new_camera_reaches_a_subscriber_that_subscribes_after_its_config(
    storage, mosquitto, wait
):
    mqtt_only(storage)
    late = LateSubscriber(mosquitto, CONFIG, VISIT, delay=0.3)
    try:
        alert = stranger_alert(storage, "first", **DETAILS)
        config = settings(mqtt_url=mosquitto.url, mqtt_announce_seconds=wait)
        assert str(deliver(alert, storage=storage, mail=NO_EMAIL, settings=config)).startswith("sent mqtt")
        wait_until(lambda: late.subscribed_at is not None, 2)
        if wait:
            wait_until(lambda: late.visits, 2)
            assert [json.loads(v)["alert_id"] for v in late.visits] == ["first"]
        else:
            # The control: without the wait the visit is gone before anyone listens.
            time.sleep(0.3)
            assert late.visits == []
        # The next alert of the same camera finds the camera announced.
        second = stranger_alert(storage, "second", **{**DETAILS, "visit_id": "visit-2"})
        assert str(deliver(second, storage=storage, mail=NO_EMAIL, settings=config)).startswith("sent mqtt")
        wait_until(lambda: len(late.visits) == (2 if wait else 1), 2)
    finally:
        late.close()


def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_colliding_household_and_camera_names_get_different_devices_and_old_topics_are_cleared_once(
    storage, mosquitto, subscriber
):
    # A shared broker with one discovery prefix for all (as before issue 26).
    shared = settings(mqtt_url=mosquitto.url, mqtt_discovery_prefix="homeassistant")
    old = "homeassistant/device/facewatch_smith_front_door/config"
    import paho.mqtt.publish as paho_publish

    auth = {"username": mosquitto.username, "password": mosquitto.password}
    paho_publish.single(
        old, b'{"old": true}', qos=1, retain=True, hostname=HOST, port=mosquitto.port, auth=auth
    )
    configs = {}
    for household, camera in (("smith", "front_door"), ("smith_front", "door")):
        mqtt_only(storage, household)
        alert = stranger_alert(storage, f"{household}-1", household=household, camera=camera, **DETAILS)
        assert str(deliver(alert, storage=storage, mail=NO_EMAIL, settings=shared)).startswith("sent mqtt")
        topic = Topics("facewatch", "homeassistant").discovery(household, camera)
        configs[topic] = json.loads(subscriber.on(topic)[0][0])
    assert len(configs) == 2
    (a, b) = configs.values()
    assert a["device"]["identifiers"] != b["device"]["identifiers"]
    ids = [c["unique_id"] for config in configs.values() for c in config["components"].values()]
    assert len(ids) == len(set(ids)) == 6
    assert device_id("smith", "front_door") != device_id("smith_front", "door")
    # Both cameras had the old topic; it is cleared (an empty retained payload) once each.
    assert [p for p, _ in subscriber.on(old, count=3)] == [b'{"old": true}', b"", b""]
    again = stranger_alert(storage, "smith-2", household="smith", camera="front_door", **DETAILS)
    deliver(again, storage=storage, mail=NO_EMAIL, settings=shared)
    assert len(subscriber.on(old, count=4, timeout=0.5)) == 3
    smith = Topics("facewatch", "homeassistant").discovery("smith", "front_door")
    assert len(subscriber.on(smith, count=2, timeout=0.3)) == 1, "announced once"
    late = Subscriber(mosquitto, old)
    try:
        assert late.on(old, timeout=0.3) == []
    finally:
        late.close()


def retained(mosquitto: Mosquitto, topic: str = "#") -> dict[str, bytes]:
    """What a subscriber that comes now receives: the retained messages."""
    late = Subscriber(mosquitto, topic)
    try:
        time.sleep(0.3)  # retained messages follow the SUBACK at once; nothing else is published
        return {t: p for t, p, r in late.messages if r}
    finally:
        late.close()


def test_removing_a_camera_dropping_mqtt_and_forgetting_a_household_clear_what_was_announced(
    storage, mosquitto, subscriber
):
    config = settings(mqtt_url=mosquitto.url)
    mqtt_only(storage, presence=True, arrivals=["Mum"])
    for camera in ("door", "garden"):
        frame = clip_frame()
        store_face_frame(storage, frame, FrameMeta("home", camera, datetime.now(UTC), 640, 360, ()))
    synced = sync_announcements(storage, config, "home", load_household_settings(storage, "home"))
    assert synced.announced == ["door", "garden"] and synced.withdrawn == []
    alert = stranger_alert(storage, "rm", **DETAILS)
    assert str(deliver(alert, storage=storage, mail=NO_EMAIL, settings=config)).startswith("sent mqtt")
    before = retained(mosquitto)
    garden = {t for t in before if "garden" in t}
    assert TOPICS.discovery("home", "garden") in garden and "facewatch/home/garden/availability" in garden
    assert {CONFIG, HOUSEHOLD_CONFIG, FACE, LAST, "facewatch/home/stranger/face"} <= set(before)

    # The garden camera's frames are gone: its device is taken back.
    for key in list(storage.list_keys(frames_prefix("home") + "garden/")):
        storage.delete(key)
    synced = sync_announcements(storage, config, "home", load_household_settings(storage, "home"))
    assert synced.withdrawn == ["garden"]
    assert subscriber.on(TOPICS.discovery("home", "garden"), count=2)[-1][0] == b""
    assert not {t for t in retained(mosquitto) if "garden" in t}

    # mqtt dropped from the household: everything announced is taken back.
    save_household_settings(
        storage, "home", HouseholdSettings(channels=["email"], presence=True, arrivals=["Mum"])
    )
    synced = sync_announcements(storage, config, "home", load_household_settings(storage, "home"))
    assert synced.withdrawn == ["door"]
    assert subscriber.on(HOUSEHOLD_CONFIG, count=2)[-1][0] == b""
    assert subscriber.on("facewatch/home/presence/Mum")[-1][0] == b""
    assert retained(mosquitto) == {}

    # Announced again, then the household is forgotten: nothing is left on the broker.
    mqtt_only(storage)
    sync_announcements(storage, config, "home", load_household_settings(storage, "home"))
    assert CONFIG in retained(mosquitto)
    assert forget_announcements(storage, config, "home", load_household_settings(storage, "home")) == ["door"]
    assert retained(mosquitto) == {}
    assert forget_announcements(storage, config, "home", load_household_settings(storage, "home")) == []


def test_a_households_presence_and_todays_count(storage, mosquitto, subscriber):
    mqtt_only(storage, presence=True, arrivals=["Mum"], timezone="Europe/Berlin")
    config = settings(mqtt_url=mosquitto.url)
    mum = FaceVerdict(box=Box(156, 82, 94, 94), verdict="known", name="Mum", distance=0.38)
    arrival = stranger_alert(storage, "mum-1", kind="arrival", faces=[mum], visit_id="v-mum")
    assert str(deliver(arrival, storage=storage, mail=NO_EMAIL, settings=config)).startswith("sent mqtt")
    household = json.loads(subscriber.on(HOUSEHOLD_CONFIG)[0][0])
    (sensor,) = [c for c in household["components"].values() if c.get("state_topic", "").endswith("/Mum")]
    assert sensor["state_topic"] == "facewatch/home/presence/Mum" and "expire_after" not in sensor
    ((seen, _),) = subscriber.on("facewatch/home/presence/Mum")
    assert "facewatch/home/presence/Mum" in retained(mosquitto)
    assert json.loads(seen) == {
        "camera": "door",
        "at": arrival.captured_at.isoformat(),
        "distance": 0.38,
        "visit_id": "v-mum",
    }
    assert json.loads(subscriber.on(VISIT)[0][0])["name"] == "Mum"
    assert subscriber.on("facewatch/home/stranger", timeout=0.3) == [], "an arrival is no stranger"
    for n, alert_id in enumerate(["s-1", "s-2"], start=1):
        alert = stranger_alert(storage, alert_id, **{**DETAILS, "visit_id": alert_id})
        deliver(alert, storage=storage, mail=NO_EMAIL, settings=config)
        deliver(alert, storage=storage, mail=NO_EMAIL, settings=config)  # counted once
        assert json.loads(subscriber.on("facewatch/home/today", count=n + 1)[-1][0])["strangers"] == n
    assert json.loads(subscriber.on("facewatch/home/today", count=3)[-1][0])["known"] == 1

    # Presence is off by default: no sensor, nothing published about where people are.
    save_household_settings(storage, "home", HouseholdSettings(channels=["mqtt"], arrivals=["Mum"]))
    again = stranger_alert(storage, "mum-2", kind="arrival", faces=[mum], visit_id="v-mum-2")
    deliver(again, storage=storage, mail=NO_EMAIL, settings=config)
    assert len(subscriber.on(VISIT, count=4)) == 4
    # Turned off, where Mum was last seen is taken off the broker.
    assert subscriber.on("facewatch/home/presence/Mum", count=2)[-1][0] == b""
    assert "facewatch/home/presence/Mum" not in retained(mosquitto)
    household = json.loads(subscriber.on(HOUSEHOLD_CONFIG, count=2)[-1][0])
    assert not [c for c in household["components"].values() if "presence" in c.get("state_topic", "")]


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_tls_with_the_brokers_ca_and_both_protocol_versions(storage, mosquitto, subscriber, protocol):
    mqtt_only(storage)
    alert = stranger_alert(storage, f"tls-{protocol}", **DETAILS)
    config = settings(mqtt_url=mosquitto.tls_url, mqtt_ca_file=mosquitto.ca_file, mqtt_protocol=protocol)
    assert str(deliver(alert, storage=storage, mail=NO_EMAIL, settings=config)).startswith("sent mqtt")
    assert json.loads(subscriber.on(VISIT)[0][0])["alert_id"] == alert.alert_id


def test_a_households_own_broker_is_used(storage, mosquitto, subscriber):
    save_household_settings(
        storage, "home", HouseholdSettings.model_validate({"channels": ["mqtt"], "mqtt_url": mosquitto.url})
    )
    alert = stranger_alert(storage, "own", **DETAILS)
    assert str(deliver(alert, storage=storage, mail=NO_EMAIL, settings=settings())).startswith("sent mqtt")
    assert subscriber.on(VISIT)


@pytest.mark.parametrize("fault", ["wrong password", "wrong CA"])
def test_a_refusal_that_retrying_cannot_fix_is_a_dead_letter_at_once(storage, mosquitto, fault, caplog):
    mqtt_only(storage)
    alert = stranger_alert(storage, fault.replace(" ", "-"), **DETAILS)
    if fault == "wrong password":
        config = settings(mqtt_url=mosquitto.url.replace(mosquitto.password, "not-the-password"))
    else:
        config = settings(mqtt_url=mosquitto.tls_url, mqtt_ca_file=mosquitto.wrong_ca_file)
    paused = []
    outcome = deliver(alert, storage=storage, mail=NO_EMAIL, settings=config, pause=paused.append)
    assert str(outcome).startswith("dead-lettered: mqtt: MQTT broker mqtt"), outcome
    assert ("refused" in str(outcome)) if fault == "wrong password" else ("not trusted" in str(outcome))
    assert paused == [], "no retry for a refusal"
    assert storage.exists(dead_alert_key("home", alert.alert_id))
    assert mosquitto.password not in str(outcome) and mosquitto.password not in caplog.text


def test_broker_down_is_retried_then_kept_and_sent_by_alerts_retry(storage, mosquitto, subscriber):
    mqtt_only(storage)
    alert = stranger_alert(storage, "down", **DETAILS)
    config = settings(mqtt_url=mosquitto.url, mqtt_timeout=2)
    subscriber.close()
    mosquitto.stop()
    paused: list[float] = []
    outcome = deliver(alert, storage=storage, mail=NO_EMAIL, settings=config, pause=paused.append)
    assert str(outcome).startswith("dead-lettered: mqtt: MQTT broker") and "unreachable" in str(outcome)
    assert paused == [1.0, 2.0, 4.0], "retried with backoff within the budget"
    assert not storage.exists(sent_alert_key("home", alert.alert_id, "mqtt"))

    mosquitto.start()
    back = Subscriber(mosquitto, VISIT)
    try:
        outcomes = retry_dead_letters(storage=storage, mail=NO_EMAIL, settings=config, household="home")
        assert str(outcomes[alert.alert_id]).startswith("sent mqtt")
        assert len(back.on(VISIT)) == 1
        assert not storage.exists(dead_alert_key("home", alert.alert_id))
    finally:
        back.close()


class CuttingProxy:
    """A TCP proxy to the broker that cuts its first connection after `cut_after` bytes
    from the client (mid-publish), and relays every later connection whole."""

    def __init__(self, upstream_port: int, cut_after: int) -> None:
        self.upstream_port, self.cut_after = upstream_port, cut_after
        self.connections = 0
        self.port = free_port()
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            limit = self.cut_after if self.connections == 1 else None
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(client, upstream, limit), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, None), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(4096):
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: limit - sent])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._server.close()


def test_a_connection_dropped_mid_publish_is_retried_and_the_visit_arrives_once(
    storage, mosquitto, subscriber
):
    mqtt_only(storage)
    alert = stranger_alert(storage, "cut", **DETAILS)
    # Past CONNECT and into the discovery config's PUBLISH: the face and the visit never
    # reached the broker on the first attempt.
    proxy = CuttingProxy(mosquitto.port, cut_after=300)
    try:
        url = mosquitto.url.replace(f":{mosquitto.port}", f":{proxy.port}")
        paused: list[float] = []
        outcome = deliver(
            alert,
            storage=storage,
            mail=NO_EMAIL,
            settings=settings(mqtt_url=url, mqtt_timeout=3),
            pause=paused.append,
            retry=RetryPolicy(attempts=3),
        )
    finally:
        proxy.close()
    assert str(outcome).startswith("sent mqtt"), outcome
    assert proxy.connections == 2 and len(paused) == 1
    assert len(subscriber.on(VISIT, count=2, timeout=1.5)) == 1
    assert len(subscriber.on(FACE)) == 1


def test_broker_urls_are_checked_and_never_echoed(storage):
    mqtt_only(storage)
    alert = stranger_alert(storage, "badurl", **DETAILS)
    outcome = deliver(
        alert,
        storage=storage,
        mail=NO_EMAIL,
        settings=settings(mqtt_url="http://user:s3cret@example.test"),
    )
    assert "must start with mqtt:// or mqtts://" in str(outcome) and "s3cret" not in str(outcome)
    assert not storage.exists(sent_alert_key("home", "badurl", "mqtt"))
    assert storage.exists(dead_alert_key("home", "badurl"))


def test_choosing_mqtt_announces_every_camera_and_prints_no_password(storage, mosquitto, subscriber):
    for camera in ("door", "garden"):
        frame = clip_frame()
        meta = FrameMeta("home", camera, datetime.now(UTC), frame.shape[1], frame.shape[0], ())
        store_face_frame(storage, frame, meta)
    done = run_cli(
        storage, "household", "--household", "home", "--channels", "email,mqtt", "--mqtt-url", mosquitto.url
    )
    assert done.returncode == 0, done.stderr
    assert "announced 2 camera(s) to Home Assistant: door, garden" in done.stderr
    assert mosquitto.password not in done.stdout + done.stderr
    shown = json.loads(done.stdout)
    assert shown["channels"] == ["email", "mqtt"] and shown["mqtt_url"].endswith(
        ":***@127.0.0.1:" + str(mosquitto.port)
    )
    # The household's own broker is its alone: Home Assistant's default discovery prefix.
    own = Topics("facewatch", "homeassistant")
    for camera in ("door", "garden"):
        ((config, _),) = subscriber.on(own.discovery("home", camera))
        assert json.loads(config)["components"]["visit"]["state_topic"] == f"facewatch/home/{camera}/visit"

    wrong = run_cli(storage, "household", "--household", "home", "--channels", "email,pager")
    assert wrong.returncode == 2 and "channels" in wrong.stderr and "Traceback" not in wrong.stderr
