"""A paho-mqtt client for a household's own broker that connects only to the addresses
outbound.py checked: the broker's name is not resolved again at connect time (so DNS
rebinding does not pass), and it stays the TLS server name and the name the certificate is
checked against. No proxy from the environment is used."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from facewatch.outbound import MQTT_SCHEMES, OutboundPolicy, resolve_target

if TYPE_CHECKING:
    from paho.mqtt.enums import MQTTProtocolVersion


def checked_broker_client(where: str, policy: OutboundPolicy, *, protocol: MQTTProtocolVersion) -> Any:
    """A paho Client bound to the checked addresses of `where` (mqtt[s]://host:port, no
    credentials). Raises OutboundRefused when the policy refuses any of them."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    target = resolve_target(where, policy, MQTT_SCHEMES)

    class CheckedClient(paho.Client):
        def _create_socket_connection(self) -> socket.socket:
            # In place of paho's: the checked addresses, in order, never the name again.
            last: OSError | None = None
            for address in target.addresses:
                try:
                    return socket.create_connection((address, target.port), timeout=self._connect_timeout)
                except OSError as exc:
                    last = exc
            raise last or OSError(f"no address to connect to for {target.host}")

    return CheckedClient(CallbackAPIVersion.VERSION2, protocol=protocol)
