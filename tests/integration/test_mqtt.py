"""The mqtt channel against a real Mosquitto (password file, TLS with a test CA): what a
subscriber really receives (Home Assistant's discovery config, the visit, the retained
face), and the faults: broker down, wrong password, wrong CA, a connection dropped
mid-publish. An alert is never lost and never published twice under redelivery."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from facewatch.alerts.dead_letters import retry_dead_letters
from facewatch.alerts.delivery import deliver
from facewatch.alerts.home_assistant import Topics, device_id
from facewatch.alerts.retries import RetryPolicy
from facewatch.config import Settings
from facewatch.edge.uploads import store_face_frame
from facewatch.frames import Box, FrameMeta
from facewatch.household.settings import HouseholdSettings, save_household_settings
from facewatch.images import decode_bgr
from facewatch.layout import alert_face_key, dead_alert_key, sent_alert_key
from facewatch.local.processes import free_port
from facewatch.records import DeliveryStatus, FaceVerdict
from facewatch.store.storage import Storage
from tests.conftest import NO_EMAIL, clip_frame, run_cli, stranger_alert
from tests.mqtt_broker import Mosquitto, Subscriber

pytestmark = pytest.mark.integration

TOPICS = Topics("facewatch", "homeassistant")
VISIT = "facewatch/home/door/visit"
FACE = "facewatch/home/door/face"
CONFIG = f"homeassistant/device/{device_id('home', 'door')}/config"


def settings(**kw) -> Settings:
    return Settings(_env_file=None, **{"mail_to": ["family@example.test"], **kw})


DETAILS = {
    "faces": [FaceVerdict(box=Box(156, 82, 94, 94), verdict="stranger", distance=0.71)],
    "stranger_id": "stranger-0a1b2c",
    "visit_id": "visit-1",
}


def mqtt_only(storage: Storage) -> None:
    save_household_settings(storage, "home", HouseholdSettings(channels=["mqtt"]))


@pytest.fixture
def subscriber(mosquitto: Mosquitto) -> Iterator[Subscriber]:
    sub = Subscriber(mosquitto)
    yield sub
    sub.close()


def check_device_discovery(config: dict) -> None:
    """Home Assistant's schema for the device form of discovery (DEVICE_DISCOVERY_SCHEMA):
    device with identifiers, origin with a name, components each with a platform and a
    unique_id, and each platform's own required keys."""
    assert config["device"]["identifiers"], "device needs identifiers"
    assert config["origin"]["name"] == "facewatch"
    components = config["components"]
    assert {c["platform"] for c in components.values()} == {"event", "image", "sensor"}
    for component in components.values():
        assert component["unique_id"].startswith(device_id("home", "door"))
        if component["platform"] == "event":
            assert component["state_topic"] == VISIT
            assert component["event_types"] == ["stranger", "known"]
        elif component["platform"] == "image":
            assert component["image_topic"] == FACE and "url_topic" not in component
        else:
            assert component["state_topic"] == VISIT and "value_json.name" in component["value_template"]
    assert len({c["unique_id"] for c in components.values()}) == len(components)


def test_an_alert_publishes_discovery_the_retained_face_and_the_visit(storage, mosquitto, subscriber):
    mqtt_only(storage)
    alert = stranger_alert(storage, "m1", **DETAILS)
    outcome = deliver(alert, storage=storage, mail=NO_EMAIL, settings=settings(mqtt_url=mosquitto.url))
    assert str(outcome).startswith("sent mqtt"), outcome

    ((config, _),) = subscriber.on(CONFIG)
    check_device_discovery(json.loads(config))
    ((visit, visit_retained),) = subscriber.on(VISIT)
    assert visit_retained is False, "Home Assistant ignores retained events"
    body = json.loads(visit)
    assert body["event_type"] == body["verdict"] == "stranger" and body["name"] is None
    assert body["stranger_id"] == "stranger-0a1b2c" and body["visit_id"] == "visit-1"
    assert body["camera"] == "door" and body["distance"] == pytest.approx(0.71)
    assert body["captured_at"] == alert.captured_at.isoformat()
    assert body["frame_url"].startswith("http") and body["face_url"].startswith("http")
    assert "console_url" in body
    ((face, _),) = subscriber.on(FACE)
    assert decode_bgr(face, 10_000_000).shape[2] == 3
    assert storage.get(alert_face_key("home", alert.alert_id)).body == face

    # A Home Assistant that starts later still finds the camera and its last face.
    late = Subscriber(mosquitto, "homeassistant/#")
    late_face = Subscriber(mosquitto, FACE)
    try:
        assert [r for _, r in late.on(CONFIG)] == [True]
        assert late_face.on(FACE) == [(face, True)]
    finally:
        late.close()
        late_face.close()

    # Delivered again (a redelivered event): nothing is published twice.
    again = deliver(alert, storage=storage, mail=NO_EMAIL, settings=settings(mqtt_url=mosquitto.url))
    assert again.status is DeliveryStatus.ALREADY_SENT
    assert len(subscriber.on(VISIT, count=2, timeout=1.0)) == 1


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
    for camera in ("door", "garden"):
        ((config, _),) = subscriber.on(f"homeassistant/device/{device_id('home', camera)}/config")
        assert json.loads(config)["components"]["visit"]["state_topic"] == f"facewatch/home/{camera}/visit"

    wrong = run_cli(storage, "household", "--household", "home", "--channels", "email,pager")
    assert wrong.returncode == 2 and "channels" in wrong.stderr and "Traceback" not in wrong.stderr
