"""`facewatch household erase`: a household gone from the deployment. Its Home Assistant
entities first (the retained discovery configs, faces and states on its broker, cleared
with empty retained messages), since which topics it has is read from what is about to go;
then every object under its prefix, every version and delete marker included on a
versioned bucket (console sessions and used links are objects there too: whoever was
signed in is signed out); then a check that nothing is left.

A broker that cannot be reached stops the erasure before anything is deleted (`keep_mqtt`
erases the objects anyway): once the objects are gone, nothing would say which topics to
clear."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from facewatch.alerts import mqtt
from facewatch.alerts.announce import household_broker
from facewatch.alerts.home_assistant import (
    HouseholdView,
    Message,
    Topics,
    cleared,
    household_withdrawal,
    withdrawal,
)
from facewatch.config import Settings
from facewatch.exceptions import BadInput, StorageError
from facewatch.household.settings import HouseholdSettings, load_household_settings
from facewatch.layout import exports_prefix, frames_prefix, household_prefix, results_prefix
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)

Publish = Callable[..., str]


@dataclass(frozen=True, slots=True)
class Erased:
    household: str
    objects: int
    """Object versions and delete markers deleted (on an unversioned bucket: objects)."""
    topics: int
    """Retained MQTT topics cleared."""
    left: int
    """Objects found under the prefix afterwards (0, or erase_household raised, or it ran
    out of time: not `finished`)."""
    finished: bool = True


def clearing_messages(
    topics: Topics, household: str, cameras: Sequence[str], own: HouseholdSettings
) -> list[Message]:
    """What clears a household's retained topics: every camera's (config, face, last visit,
    availability) and the household device's (config, last stranger, today's count,
    presence, the away switch's state), made by home_assistant.py, which makes the topics."""
    view = HouseholdView(household, visit_window_seconds=1, presence=list(own.arrivals))
    messages = [m for camera in cameras for m in withdrawal(topics, household, camera)]
    return [*messages, *household_withdrawal(topics, view), cleared(topics.armed_state(household))]


def cameras_of(storage: Storage, household: str) -> list[str]:
    return sorted(
        set(storage.list_folders(frames_prefix(household)))
        | set(storage.list_folders(results_prefix(household)))
    )


def clear_topics(
    storage: Storage, settings: Settings, household: str, publish: Publish = mqtt.publish
) -> int:
    """Clear the household's retained topics on its broker (its own, or the deployment's);
    0 when there is no broker to clear them on."""
    try:
        own = load_household_settings(storage, household)
    except BadInput:
        own = HouseholdSettings()  # unreadable: the deployment's broker, if any
    if (own.mqtt_url or settings.mqtt_url) is None:
        return 0
    hb = household_broker(own, settings)
    messages = clearing_messages(hb.topics, household, cameras_of(storage, household), own)
    publish(hb.broker, messages, timeout=hb.timeout, policy=hb.policy)
    return len(messages)


ERASE_MARGIN = 30.0
"""Seconds kept in hand by a bounded erasure (on Lambda): it stops deleting below this."""


def delete_prefix(storage: Storage, prefix: str, seconds_left: Callable[[], float] | None = None) -> int:
    """Every version and delete marker under `prefix`, then any object still listed (a
    server that lists no versions); how many were deleted. With `seconds_left`, it stops
    while ERASE_MARGIN seconds are still in hand (checked every hundred deletions), and
    what is left is deleted by the next call."""
    deleted = 0

    def out_of_time() -> bool:
        return seconds_left is not None and deleted % 100 == 0 and seconds_left() < ERASE_MARGIN

    for key, version_id in list(storage.list_versions(prefix)):
        if out_of_time():
            return deleted
        storage.delete_version(key, version_id)
        deleted += 1
    for key in list(storage.list_keys(prefix)):
        if out_of_time():
            return deleted
        storage.delete(key)
        deleted += 1
    return deleted


def left_under(storage: Storage, prefix: str) -> int:
    return sum(1 for _ in storage.list_keys(prefix)) + sum(1 for _ in storage.list_versions(prefix))


def erase_household(
    storage: Storage,
    settings: Settings,
    household: str,
    *,
    keep_mqtt: bool = False,
    publish: Publish = mqtt.publish,
    seconds_left: Callable[[], float] | None = None,
) -> Erased:
    """With `seconds_left` (Lambda's clock) it may stop part way: then `finished` is false,
    `left` says how many are still there, and erasing again (keep_mqtt: the topics were
    cleared) goes on where it stopped. The household's exports (layout.exports_prefix) go
    too."""
    prefixes = (household_prefix(household), exports_prefix(household))
    topics = 0 if keep_mqtt else clear_topics(storage, settings, household, publish)
    deleted = sum(delete_prefix(storage, prefix, seconds_left) for prefix in prefixes)
    left = sum(left_under(storage, prefix) for prefix in prefixes)
    if left and seconds_left is not None and seconds_left() < ERASE_MARGIN:
        log.warning("household %s: %d object(s) erased, %d left for the next run", household, deleted, left)
        return Erased(household, deleted, topics, left, finished=False)
    if left:
        raise StorageError(f"household {household}: {left} object(s) still under {prefixes[0]} after erasing")
    log.warning("household %s erased: %d object(s), %d retained topic(s)", household, deleted, topics)
    return Erased(household, deleted, topics, left)
