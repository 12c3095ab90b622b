"""What a household's MQTT broker has been told about its devices, and telling it: the
retained discovery configs of the household and its cameras, announced once per config
(a marker per device in the bucket, keyed by a digest of what was published). Taking them
back is broker_sync.py's (the CLI's), which reads the same markers.

Why markers: Home Assistant subscribes to a new device's topics a moment after its config
arrives, so the first visit of a camera must not follow its config at once (delivery.py
waits `mqtt_announce_seconds` after a new announcement, in the same session); and what was
announced is what removal must clear, whatever the settings say now."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from facewatch.alerts import mqtt
from facewatch.alerts.home_assistant import (
    HouseholdView,
    Message,
    Topics,
    announcement,
    cleared,
    config_digest,
    config_message,
    household_config,
)
from facewatch.config import Settings
from facewatch.exceptions import BadInput, ObjectMissing, StorageError
from facewatch.household.settings import HouseholdSettings
from facewatch.layout import announced_key
from facewatch.outbound import OutboundPolicy, policy_from_settings
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)

HOUSEHOLD_DEVICE = "household"
"""The household device's marker; a camera's is `camera_<camera>`."""


@dataclass(frozen=True, slots=True)
class HouseholdBroker:
    """Where a household's mqtt channel publishes, and with which topics."""

    broker: mqtt.Broker
    topics: Topics
    policy: OutboundPolicy | None
    """The outbound policy for a household's own broker; None for the deployment's."""
    timeout: float

    def publish(self, messages: list[Message], **settle: Any) -> str:
        return mqtt.publish(self.broker, messages, timeout=self.timeout, policy=self.policy, **settle)


def household_broker(own: HouseholdSettings, settings: Settings) -> HouseholdBroker:
    """The household's broker (its own, or the deployment's); BadInput without one or for
    a URL that is not an MQTT broker's."""
    url = own.mqtt_url or settings.mqtt_url
    if url is None:
        raise BadInput("the mqtt channel needs a broker: FACEWATCH_MQTT_URL or --mqtt-url")
    broker = mqtt.parse_broker(
        url.get_secret_value(), ca_file=settings.mqtt_ca_file, protocol=settings.mqtt_protocol
    )
    # The household's own broker is checked like its webhook; the deployment's is its operator's.
    households_own = url != settings.mqtt_url
    return HouseholdBroker(
        broker,
        Topics.for_broker(
            settings.mqtt_prefix, settings.mqtt_discovery_prefix, households_own=households_own
        ),
        policy_from_settings(settings) if households_own else None,
        settings.mqtt_timeout,
    )


def household_view(household: str, own: HouseholdSettings, settings: Settings) -> HouseholdView:
    window = own.visit_window_seconds or settings.visit_window_seconds
    return HouseholdView(
        household,
        visit_window_seconds=max(1, round(window)),
        presence=list(own.arrivals) if own.presence else [],
        presence_away_minutes=own.presence_away_after_minutes,
    )


@dataclass(frozen=True, slots=True)
class Marker:
    """One device as announced: enough to take it back later."""

    device: str
    digest: str
    broker: str
    prefix: str
    discovery_prefix: str
    camera: str | None = None
    presence: tuple[str, ...] = ()

    def body(self, now: datetime) -> dict[str, Any]:
        return {
            "device": self.device,
            "digest": self.digest,
            "broker": self.broker,
            "prefix": self.prefix,
            "discovery_prefix": self.discovery_prefix,
            "camera": self.camera,
            "presence": list(self.presence),
            "announced_at": now.isoformat(),
        }

    @classmethod
    def parse(cls, body: bytes) -> Marker:
        data = json.loads(body)
        return cls(
            data["device"],
            data["digest"],
            data["broker"],
            data["prefix"],
            data["discovery_prefix"],
            data.get("camera"),
            tuple(data.get("presence", ())),
        )

    @property
    def topics(self) -> Topics:
        return Topics(self.prefix, self.discovery_prefix)


def _camera_device(camera: str) -> str:
    return f"camera_{camera}"


def read_marker(storage: Storage, household: str, device: str) -> Marker | None:
    try:
        return Marker.parse(storage.get(announced_key(household, device)).body)
    except ObjectMissing:
        return None
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: announced again, which is harmless


@dataclass(frozen=True, slots=True)
class Announcement:
    messages: list[Message]
    markers: list[Marker]


def pending_announcement(
    storage: Storage, hb: HouseholdBroker, view: HouseholdView, cameras: list[str]
) -> Announcement:
    """The configs of the household device and these cameras that this broker has not had
    as they are now (none when all were announced unchanged). A camera announced for the
    first time also clears its config at its pre-issue-26 topic, once."""
    topics, household = hb.topics, view.household
    messages: list[Message] = []
    markers: list[Marker] = []

    def consider(
        device: str, published: list[Message], camera: str | None, presence: tuple[str, ...]
    ) -> None:
        digest = config_digest(published[0])
        marker = Marker(
            device, digest, hb.broker.where, topics.prefix, topics.discovery_prefix, camera, presence
        )
        known = read_marker(storage, household, device)
        if known is not None and known.digest == digest and known.broker == marker.broker:
            return
        if camera is not None and known is None:
            messages.append(cleared(topics.old_discovery(household, camera)))
        if known is not None:
            # No longer followed (presence turned off, or not in arrivals): where they
            # were last seen is not left on the broker.
            dropped = [p for p in known.presence if p not in presence]
            messages.extend(cleared(known.topics.presence(household, p)) for p in dropped)
        messages.extend(published)
        markers.append(marker)

    consider(
        HOUSEHOLD_DEVICE,
        [config_message(topics.household_discovery(household), household_config(topics, view))],
        None,
        tuple(view.presence),
    )
    for camera in cameras:
        consider(_camera_device(camera), announcement(topics, household, camera), camera, ())
    return Announcement(messages, markers)


def record_announced(storage: Storage, household: str, markers: list[Marker], now: datetime) -> None:
    """Keep the markers once their configs are on the broker. A marker that cannot be kept
    only means the device is announced again with the next alert: not worth failing an
    alert already published."""
    for marker in markers:
        try:
            storage.put_json(announced_key(household, marker.device), marker.body(now))
        except StorageError as exc:
            log.warning("household %s: %s announced, marker not kept: %s", household, marker.device, exc)
