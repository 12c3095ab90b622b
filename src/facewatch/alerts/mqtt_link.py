"""A long-lived connection to the broker, for the processes that stay up: the edge agent
(its camera's availability) and the away switch's bridge. Alerts use a short session per
alert instead (mqtt.py); both connect with `mqtt.client_for`, so the URL, login, TLS and
outbound policy are handled in one place.

paho's network thread keeps the connection and reconnects after a drop (1 s, doubling to
30 s), also when the broker is down at the start: a process whose broker is away keeps
doing its main job. What must hold after every (re)connect, a retained `online` or the
subscriptions, is done again in `on_connected`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from facewatch.alerts.home_assistant import Message
from facewatch.alerts.mqtt import Broker, client_for, parse_broker
from facewatch.config import Settings
from facewatch.outbound import OutboundPolicy

log = logging.getLogger(__name__)

RECONNECT_MIN_SECONDS = 1
RECONNECT_MAX_SECONDS = 30


def deployment_broker(settings: Settings, url: str | None = None) -> Broker | None:
    """The broker of `url`, else the deployment's (FACEWATCH_MQTT_URL), with its CA file and
    protocol; None when there is neither. BadInput for a malformed URL."""
    chosen = url or (settings.mqtt_url.get_secret_value() if settings.mqtt_url else None)
    if not chosen:
        return None
    return parse_broker(chosen, ca_file=settings.mqtt_ca_file, protocol=settings.mqtt_protocol)


class Link:
    """One connection kept open by paho's thread: `start`, `publish`, `close`."""

    def __init__(
        self,
        broker: Broker,
        *,
        will: Message | None = None,
        on_connected: Callable[[Link], None] | None = None,
        on_message: Callable[[str, bytes, bool], None] | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.broker = broker
        self.connected = threading.Event()
        self._closing = False
        self._on_connected = on_connected
        self._on_message = on_message
        self._client = client_for(broker, policy=policy)
        if will is not None:
            # The broker publishes it when the connection dies without a DISCONNECT: a
            # process killed, a power cut, a network gone for longer than the keepalive.
            self._client.will_set(will.topic, will.payload, qos=1, retain=will.retain)
        self._client.reconnect_delay_set(RECONNECT_MIN_SECONDS, RECONNECT_MAX_SECONDS)
        self._client.on_connect = self._connect
        self._client.on_disconnect = self._disconnect
        self._client.on_message = self._message

    def start(self, keepalive: int = 30) -> Link:
        """Connect in the background: returns at once, and keeps trying until `close`."""
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=keepalive)
        self._client.loop_start()
        return self

    def subscribe(self, topic: str) -> None:
        self._client.subscribe(topic, qos=1)

    def publish(self, message: Message) -> Any:
        """Queued at QoS 1 (paho sends it once connected); returns paho's MQTTMessageInfo."""
        return self._client.publish(message.topic, message.payload, qos=1, retain=message.retain)

    def close(self, last: Message | None = None, *, timeout: float = 5.0) -> None:
        """A clean end: `last` published (and acknowledged, within `timeout`) first, then a
        DISCONNECT, after which the broker does not publish the will."""
        try:
            if last is not None and self.connected.is_set():
                try:
                    self.publish(last).wait_for_publish(timeout)
                except (RuntimeError, ValueError) as exc:  # the connection went meanwhile
                    log.warning("MQTT broker %s: %s not published: %s", self.broker.where, last.topic, exc)
        finally:
            self._closing = True
            self._client.disconnect()
            self._client.loop_stop()

    def _connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s refused the connection: %s", self.broker.where, reason)
            return
        log.info("connected to MQTT broker %s", self.broker.where)
        self.connected.set()
        if self._on_connected is not None:
            self._on_connected(self)

    def _disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self.connected.is_set() and not self._closing:
            log.warning("MQTT broker %s: connection lost (%s); reconnecting", self.broker.where, reason)
        self.connected.clear()

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        if self._on_message is None:
            return
        try:
            self._on_message(message.topic, bytes(message.payload), bool(message.retain))
        except Exception:  # paho's thread must live on: the next message may be fine
            log.exception("MQTT message on %s not handled", message.topic)
