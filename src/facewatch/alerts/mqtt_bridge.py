"""The away switch's bridge (`facewatch mqtt-bridge`): a small long-lived process that
listens on Topics.armed_command for the households it serves, writes each household's
`armed` setting (by compare-and-swap, as every settings edit), and publishes the state,
retained, on Topics.armed_state. It publishes every served household's state again on each
(re)connect, so Home Assistant's switch shows the truth after either side restarts, and
any state changed elsewhere within SYNC_SECONDS.

It also says when a followed person has gone (issue 26's presence): it subscribes to its
households' presence topics (retained, so it learns them on each connect) and, at each
sync, publishes not_home, retained, for a person last seen longer ago than the household's
`presence_away_after_minutes` (`alerts/presence.py` decides). Home Assistant renders a
sensor only when a message arrives, so without this process it keeps naming the camera.

Functions cannot listen (a Lambda or a scaled-to-zero container is not connected), hence
a process of its own: under `facewatch up`, compose and Kubernetes. A change made in the
console or with `facewatch household --arm/--disarm` also publishes the state itself
(`publish_armed_state`), where that process knows the household's broker.

Anyone who may publish on the command topic can disarm the household: the broker's ACLs
decide who may (docs/home-assistant.md, SECURITY.md)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from facewatch.alerts import mqtt
from facewatch.alerts.away_switch import ArmCommand, Refused, armed_state_message, read_command
from facewatch.alerts.home_assistant import LastSeen, Topics, presence_message
from facewatch.alerts.mqtt_link import Link
from facewatch.alerts.presence import Unreadable, gone, person_of, read_last_seen
from facewatch.config import Settings
from facewatch.exceptions import BadInput, StorageError
from facewatch.household.settings import (
    HouseholdSettings,
    change_household_settings,
    load_household_settings,
    resolve,
)
from facewatch.outbound import policy_from_settings
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)

SYNC_SECONDS = 10.0
"""How often the bridge reads the households' settings (a change made in the console or
the CLI reaches Home Assistant within this), and touches its heartbeat file."""


SKEW = timedelta(minutes=5)
"""How far ahead of the bridge's clock a presence message's time may be (clocks drift)."""


class PresenceWatch:
    """The last presence message of each followed person, as received, and the not_home
    published for those gone longer than their household's away time."""

    def __init__(self, topics: Topics, households: Sequence[str], clock: Callable[[], datetime]) -> None:
        self.topics = topics
        self.households = list(households)
        self.clock = clock
        self._seen: dict[str, dict[str, LastSeen]] = {h: {} for h in self.households}
        self._lock = threading.Lock()

    def connected(self, link: Link) -> None:
        with self._lock:  # the broker sends every retained message again
            self._seen = {h: {} for h in self.households}
        for household in self.households:
            link.subscribe(self.topics.presence(household, "+"))

    def received(self, topic: str, payload: bytes) -> bool:
        """Kept when `topic` is a served household's presence topic (True), else False."""
        for household in self.households:
            person = person_of(self.topics, household, topic)
            if person is None:
                continue
            seen = read_last_seen(payload) if payload else None  # empty: taken away
            if seen is not None and not isinstance(seen, Unreadable) and seen.at > self.clock() + SKEW:
                # notify stamps arrivals with its clock: one ahead of ours by more than a clock's
                # drift is forged, and would keep the person home for ever.
                seen = Unreadable(f"last seen at {seen.at.isoformat()}, in the future")
            if isinstance(seen, Unreadable):
                log.warning("household %s: presence of %s left alone: %s", household, person, seen.why)
                seen = None
            with self._lock:
                if seen is None:
                    self._seen[household].pop(person, None)
                else:
                    self._seen[household][person] = seen
            return True
        return False

    def sync(self, link: Link, household: str, own: HouseholdSettings) -> None:
        if not own.presence:  # off: nothing about where people are
            return
        away_after = timedelta(minutes=own.presence_away_after_minutes)
        with self._lock:  # decided and noted at once: an arrival received meanwhile wins
            due = gone(own.arrivals, self._seen[household], self.clock(), away_after)
            # Noted as said, so the next sync does not say it again before it comes back.
            self._seen[household].update(due)
        for person, away in due.items():
            log.info("household %s: %s not_home (last seen %s)", household, person, away.at.isoformat())
            link.publish(presence_message(self.topics, household, person, away))


class ArmedBridge:
    """The bridge's work on one link: subscribe and publish on connect, act on commands,
    and publish a change made elsewhere (read from the bucket at each `sync`); and, with
    `presence`, the followed people's not_home."""

    def __init__(
        self,
        storage: Storage,
        topics: Topics,
        households: Sequence[str],
        presence: PresenceWatch | None = None,
    ) -> None:
        self.storage = storage
        self.topics = topics
        self.households = list(households)
        self.presence = presence
        self._published: dict[str, bool] = {}
        self._lock = threading.Lock()

    def connected(self, link: Link) -> None:
        for household in self.households:
            link.subscribe(self.topics.armed_command(household))
            link.subscribe(self.topics.armed_state(household))  # to put a forged state right
        if self.presence is not None:
            self.presence.connected(link)
        with self._lock:
            self._published.clear()  # a new session: say every state again
        self.sync(link)

    def sync(self, link: Link) -> None:
        """Each household's state as the bucket has it, published where it is not what
        this bridge published last: a console or CLI change reaches Home Assistant even
        where those hold no broker URL."""
        for household in self.households:
            try:
                own = load_household_settings(self.storage, household)
            except (BadInput, StorageError) as exc:
                log.error("household %s: armed state not published: %s", household, exc)
                continue
            self._publish(link, household, own.armed)
            if self.presence is not None:
                self.presence.sync(link, household, own)

    def _state_received(self, link: Link, topic: str, payload: bytes) -> bool:
        """A message on a served household's state topic: its own coming back, or one that
        says otherwise (anyone who may publish there could show Home Assistant "armed"
        while the household is not), which the truth replaces at once. True when it was one."""
        household = next((h for h in self.households if self.topics.armed_state(h) == topic), None)
        if household is None:
            return False
        with self._lock:
            said = self._published.get(household)
        if said is not None and payload != armed_state_message(self.topics, household, said).payload:
            log.warning(
                "household %s: the armed state on the broker was not ours; published again", household
            )
            with self._lock:
                self._published.pop(household, None)
            self._publish(link, household, said)
        return True

    def _publish(self, link: Link, household: str, armed: bool) -> None:
        with self._lock:
            if self._published.get(household) is armed:
                return
            self._published[household] = armed
        link.publish(armed_state_message(self.topics, household, armed))

    def received(
        self, link: Link, topic: str, payload: bytes, *, retained: bool = False
    ) -> ArmCommand | Refused | None:
        """One message: the setting written and the new state published, or refused with a
        log line (the setting untouched); None for a presence message, kept for `sync`."""
        if self.presence is not None and self.presence.received(topic, payload):
            return None
        if self._state_received(link, topic, payload):
            return None
        command = read_command(self.topics, self.households, topic, payload, retained=retained)
        if isinstance(command, Refused):
            log.warning("away switch command refused: %s", command.why)
            return command
        try:
            written = change_household_settings(
                self.storage, command.household, lambda s: s.model_copy(update={"armed": command.armed})
            )
        except (BadInput, StorageError) as exc:
            log.error("household %s: away switch not set: %s", command.household, exc)
            return Refused(str(exc))
        log.info("household %s %s over MQTT", command.household, "armed" if written.armed else "disarmed")
        with self._lock:
            self._published.pop(command.household, None)  # said again: HA waits for it
        self._publish(link, command.household, written.armed)
        return command


def run_bridge(
    storage: Storage,
    settings: Settings,
    broker: mqtt.Broker,
    households: Sequence[str],
    stop: threading.Event,
    *,
    heartbeat: Path | None = None,
    sync_seconds: float = SYNC_SECONDS,
) -> None:
    """Serve the households' switches until `stop` is set. The broker is the deployment's
    (its operator's), so it is not checked against the outbound policy. `heartbeat`: a
    file touched every `sync_seconds` while connected, for a container's health check
    (the bridge serves nothing to probe)."""
    topics = Topics(settings.mqtt_prefix, settings.mqtt_discovery_prefix)
    presence = PresenceWatch(topics, households, lambda: datetime.now(UTC))
    bridge = ArmedBridge(storage, topics, households, presence)
    link: Link | None = None

    def received(topic: str, payload: bytes, retained: bool) -> None:
        assert link is not None
        bridge.received(link, topic, payload, retained=retained)

    link = Link(broker, on_connected=bridge.connected, on_message=received).start()
    log.info("mqtt-bridge: serving the away switch of %s on %s", ", ".join(households), broker.where)
    try:
        while not stop.wait(sync_seconds):
            if link.connected.is_set():
                bridge.sync(link)
                if heartbeat is not None:
                    heartbeat.touch()
    finally:
        link.close()


def publish_armed_state(settings: Settings, household: str, own: HouseholdSettings) -> str | None:
    """After a change made elsewhere (console, CLI): the state, retained, on the household's
    broker (its own, else FACEWATCH_MQTT_URL); None when it has none. A DeliveryError for
    a broker that did not take it: the setting stands, and the bridge publishes the state
    again whenever it (re)connects."""
    recipients = resolve(own, settings)
    if recipients.mqtt_url is None:
        return None
    broker = mqtt.parse_broker(
        recipients.mqtt_url.get_secret_value(), ca_file=settings.mqtt_ca_file, protocol=settings.mqtt_protocol
    )
    topics = Topics(settings.mqtt_prefix, settings.mqtt_discovery_prefix)
    # The household's own broker is checked like its webhook; the deployment's is its operator's.
    policy = None if recipients.mqtt_url == settings.mqtt_url else policy_from_settings(settings)
    message = armed_state_message(topics, household, own.armed)
    return mqtt.publish(broker, [message], timeout=settings.mqtt_timeout, policy=policy)
