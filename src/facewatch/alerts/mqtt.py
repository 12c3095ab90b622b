"""The `mqtt` channel's client: one short session per alert (connect, publish each message
at QoS 1 and wait for its PUBACK, disconnect), with paho-mqtt, MQTT 3.1.1 or 5, plain or
TLS, with a username and password. A session per alert, not a connection kept open: a
function instance may be frozen between invocations, and the broker would drop it.

Failures are DeliveryErrors that name the broker by host and port only (its URL may hold a
password) and say whether trying again may help: a broker down or a connection dropped
mid-publish is retried within delivery's budget; a refused login or an untrusted
certificate is not, and goes straight to a dead letter for `facewatch alerts retry`."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from facewatch.alerts.home_assistant import Message
from facewatch.exceptions import BadInput, DeliveryError
from facewatch.outbound import MQTT_SCHEMES, OutboundPolicy, OutboundRefused, Unresolvable, resolve_target

log = logging.getLogger(__name__)

# CONNACK codes that mean the login itself is wrong (3.1.1: 4, 5; 5: 134, 135).
_REFUSED_LOGIN = {4, 5, 134, 135}


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int
    tls: bool
    username: str | None
    password: SecretStr | None
    ca_file: Path | None = None
    protocol: Literal["3.1.1", "5"] = "3.1.1"

    @property
    def where(self) -> str:
        """How the broker is named in errors and logs: never with its credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"


def parse_broker(
    url: str, *, ca_file: Path | None = None, protocol: Literal["3.1.1", "5"] = "3.1.1"
) -> Broker:
    """mqtt://[user[:pass]@]host[:1883] or mqtts://…[:8883]; user and password may be
    percent-encoded."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadInput(f"MQTT URL is malformed: {exc}") from None
    if parts.scheme not in ("mqtt", "mqtts"):
        raise BadInput(f"MQTT URL must start with mqtt:// or mqtts://, not {parts.scheme or 'nothing'}://")
    if not parts.hostname:
        raise BadInput("MQTT URL has no host")
    tls = parts.scheme == "mqtts"
    return Broker(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=SecretStr(unquote(parts.password)) if parts.password else None,
        ca_file=ca_file,
        protocol=protocol,
    )


def _refused(exc: OutboundRefused) -> DeliveryError:
    # A name that does not resolve may resolve in a moment; a refused address will not.
    return DeliveryError(f"MQTT broker {exc}", retryable=isinstance(exc, Unresolvable))


def check_broker(broker: Broker, policy: OutboundPolicy) -> None:
    """A household's broker against the outbound policy (its name resolved, every address
    checked), before anything is made for it; `publish` checks it again as it connects."""
    try:
        resolve_target(broker.where, policy, MQTT_SCHEMES)
    except OutboundRefused as exc:
        raise _refused(exc) from None


def client_for(broker: Broker, *, policy: OutboundPolicy | None = None) -> Any:
    """A paho client for the broker, not yet connected: its protocol, login and TLS, and
    with a policy (a household's own broker) bound to the checked addresses. What a short
    alert session (`publish`) and a long-lived link (mqtt_link.py) both connect with."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from facewatch.alerts.pinned_mqtt import checked_broker_client

    protocol = paho.MQTTv5 if broker.protocol == "5" else paho.MQTTv311
    if policy is None:
        client = paho.Client(CallbackAPIVersion.VERSION2, protocol=protocol)
    else:
        try:
            client = checked_broker_client(broker.where, policy, protocol=protocol)
        except OutboundRefused as exc:
            raise _refused(exc) from None
    client.enable_logger(log)
    if broker.username is not None:
        client.username_pw_set(
            broker.username, broker.password.get_secret_value() if broker.password else None
        )
    if broker.tls:
        context = ssl.create_default_context(cafile=str(broker.ca_file) if broker.ca_file else None)
        client.tls_set_context(context)
    return client


def publish(
    broker: Broker,
    messages: Sequence[Message],
    *,
    timeout: float,
    policy: OutboundPolicy | None = None,
    settle_after: int = 0,
    settle_seconds: float = 0.0,
) -> str:
    """Publish the messages in order at QoS 1; returns once the broker acknowledged each,
    within `timeout` seconds for the whole session (plus the settling). With a policy (a
    household's own broker), the broker's addresses are checked first and the connection
    goes to them. With `settle_after`, the session waits `settle_seconds` once the first
    that many messages are acknowledged, still connected, before it publishes the rest: a
    discovery config gives Home Assistant time to subscribe to what follows it."""
    import paho.mqtt.client as paho

    client = client_for(broker, policy=policy)
    outcome: dict[str, Any] = {}
    deadline = time.monotonic() + timeout + settle_seconds  # the whole session's, as smtp_timeout is

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        outcome["connack"] = reason

    def on_disconnect(client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        outcome["lost"] = reason

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.connect_timeout = timeout
    try:
        client.connect(broker.host, broker.port, keepalive=max(5, int(timeout * 2)))
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(
            f"MQTT broker {broker.where}: certificate not trusted ({exc.verify_message})", retryable=False
        ) from None
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(
            f"MQTT broker {broker.where} unreachable: {type(exc).__name__}: {exc}", retryable=True
        ) from None

    def pump(done: Callable[[], bool], what: str) -> None:
        """Run the network loop here, not in paho's thread: that thread would reconnect
        after a drop and send the message again after this attempt had given up on it."""
        while not done():
            if "lost" in outcome or ("connack" in outcome and outcome["connack"].is_failure):
                return
            if time.monotonic() > deadline:
                raise DeliveryError(
                    f"MQTT broker {broker.where}: no {what} in {timeout:.0f}s", retryable=True
                )
            if client.loop(timeout=0.05) != paho.MQTT_ERR_SUCCESS and not done():
                outcome.setdefault("lost", "network error")

    try:
        pump(lambda: "connack" in outcome, "answer to CONNECT")
        reason = outcome.get("connack")
        if reason is not None and reason.is_failure:
            raise DeliveryError(
                f"MQTT broker {broker.where} refused the connection: {reason}",
                retryable=reason.value not in _REFUSED_LOGIN,
            )
        for i, message in enumerate(messages):
            if "lost" in outcome:
                break
            if settle_seconds and i == settle_after > 0:
                until = time.monotonic() + settle_seconds

                def settled(until: float = until) -> bool:
                    return time.monotonic() >= until

                pump(settled, "settling")  # the session kept alive meanwhile
            info = client.publish(message.topic, message.payload, qos=1, retain=message.retain)
            pump(info.is_published, f"PUBACK for {message.topic}")
        if "lost" in outcome:
            raise DeliveryError(
                f"MQTT broker {broker.where}: connection lost ({outcome['lost']})", retryable=True
            )
    finally:
        client.disconnect()
    return f"mqtt {len(messages)} message(s) to {broker.where}"
