"""A camera's availability for Home Assistant, kept by its edge agent while it runs:
`online` (retained) on Topics.availability once connected (again after every reconnect),
`offline` (retained) when it stops cleanly, and the same `offline` as the connection's last
will, which the broker publishes when the agent dies without saying goodbye (killed, its
box unplugged). So a dead camera shows as unavailable instead of going stale.

The edge tier itself never loads alerts (test_layering): the agent's command wraps the
agent's run in `camera_availability`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from facewatch.alerts.home_assistant import Message, Topics
from facewatch.alerts.mqtt_link import Link, deployment_broker
from facewatch.config import Settings

ONLINE = b"online"
OFFLINE = b"offline"


def availability_messages(topics: Topics, household: str, camera: str) -> tuple[Message, Message]:
    """(online, offline), both retained, so a Home Assistant that starts later knows."""
    topic = topics.availability(household, camera)
    return Message(topic, ONLINE, retain=True), Message(topic, OFFLINE, retain=True)


@contextmanager
def camera_availability(
    settings: Settings, household: str, camera: str, *, mqtt_url: str | None = None
) -> Iterator[Link | None]:
    """While the block runs, the camera is `online` on the broker of `mqtt_url` (default:
    FACEWATCH_MQTT_URL); nothing at all when there is no broker. A broker that is down does
    not stop the block: the link keeps trying in the background."""
    broker = deployment_broker(settings, mqtt_url)
    if broker is None:
        yield None
        return
    topics = Topics(settings.mqtt_prefix, settings.mqtt_discovery_prefix)
    online, offline = availability_messages(topics, household, camera)
    link = Link(broker, will=offline, on_connected=lambda link: link.publish(online)).start()
    try:
        yield link
    finally:
        link.close(last=offline)
