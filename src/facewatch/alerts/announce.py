"""Announcing a household's cameras to Home Assistant when its channels change: the
retained discovery config of every camera that has sent frames, on the household's broker.
Alerts announce their own camera too (`home_assistant.alert_messages`), so a camera added
later is announced before its first message."""

from __future__ import annotations

from facewatch.alerts import mqtt
from facewatch.alerts.home_assistant import Topics, discovery_messages
from facewatch.config import Settings
from facewatch.exceptions import BadInput
from facewatch.household.settings import HouseholdSettings, resolve
from facewatch.layout import frames_prefix
from facewatch.outbound import policy_from_settings
from facewatch.store.storage import Storage


def announce_cameras(
    storage: Storage, settings: Settings, household: str, own: HouseholdSettings
) -> list[str]:
    """Publish the discovery config of each of the household's cameras; returns them."""
    recipients = resolve(own, settings)
    if "mqtt" not in recipients.channels:
        return []
    if recipients.mqtt_url is None:
        raise BadInput("the mqtt channel needs a broker: FACEWATCH_MQTT_URL or --mqtt-url")
    broker = mqtt.parse_broker(
        recipients.mqtt_url.get_secret_value(), ca_file=settings.mqtt_ca_file, protocol=settings.mqtt_protocol
    )
    cameras = sorted(storage.list_folders(frames_prefix(household)))
    topics = Topics(settings.mqtt_prefix, settings.mqtt_discovery_prefix)
    # The household's own broker is checked like its webhook; the deployment's is its operator's.
    policy = None if recipients.mqtt_url == settings.mqtt_url else policy_from_settings(settings)
    messages = discovery_messages(topics, household, cameras)
    mqtt.publish(broker, messages, timeout=settings.mqtt_timeout, policy=policy)
    return cameras
