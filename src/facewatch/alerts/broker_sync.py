"""Bringing a household's MQTT broker in line with its settings, from the CLI (`facewatch
household`) and for whoever forgets a household: with mqtt among its channels every camera
that has sent frames is announced, and one whose frames are gone taken back; without it,
or when the household is forgotten, everything announced is taken back (empty retained
payloads on its discovery, face, last-visit and state topics, so Home Assistant drops the
devices and no ghost remains). What was announced is read from announce.py's markers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from facewatch.alerts.announce import (
    HouseholdBroker,
    Marker,
    household_broker,
    household_view,
    pending_announcement,
    read_marker,
    record_announced,
)
from facewatch.alerts.home_assistant import HouseholdView, Message, household_withdrawal, withdrawal
from facewatch.config import Settings
from facewatch.household.settings import HouseholdSettings, resolve
from facewatch.layout import announced_key, announced_prefix, frames_prefix
from facewatch.store.storage import Storage


def _withdraw(storage: Storage, hb: HouseholdBroker, household: str, markers: list[Marker]) -> None:
    """Take the devices back on the broker, then forget their markers."""
    messages: list[Message] = []
    for marker in markers:
        if marker.camera is not None:
            messages.extend(withdrawal(marker.topics, household, marker.camera))
        else:
            view = HouseholdView(household, visit_window_seconds=1, presence=list(marker.presence))
            messages.extend(household_withdrawal(marker.topics, view))
    if messages:
        hb.publish(messages)
    for marker in markers:
        storage.delete(announced_key(household, marker.device))


def _announced(storage: Storage, household: str) -> list[Marker]:
    found = []
    for key in storage.list_keys(announced_prefix(household)):
        device = key.removeprefix(announced_prefix(household)).removesuffix(".json")
        marker = read_marker(storage, household, device)
        if marker is not None:
            found.append(marker)
    return found


@dataclass(frozen=True, slots=True)
class Synced:
    announced: list[str]
    """The cameras announced (all the household has, when its channels include mqtt)."""
    withdrawn: list[str]
    """The cameras taken back from Home Assistant."""


def sync_announcements(
    storage: Storage, settings: Settings, household: str, own: HouseholdSettings
) -> Synced:
    """Bring the household's broker in line with its settings: with mqtt among its channels,
    every camera that has sent frames is announced (and one whose frames are gone taken
    back); without, everything announced is taken back."""
    announced = _announced(storage, household)
    if "mqtt" not in resolve(own, settings).channels:
        if not announced or (own.mqtt_url or settings.mqtt_url) is None:
            return Synced([], [])
        hb = household_broker(own, settings)
        _withdraw(storage, hb, household, announced)
        return Synced([], sorted(m.camera for m in announced if m.camera is not None))
    hb = household_broker(own, settings)
    cameras = sorted(storage.list_folders(frames_prefix(household)))
    gone = [m for m in announced if m.camera is not None and m.camera not in cameras]
    _withdraw(storage, hb, household, gone)
    pending = pending_announcement(storage, hb, household_view(household, own, settings), cameras)
    if pending.messages:
        hb.publish(pending.messages)
        record_announced(storage, household, pending.markers, datetime.now(UTC))
    return Synced(cameras, sorted(m.camera for m in gone if m.camera is not None))


def forget_announcements(
    storage: Storage, settings: Settings, household: str, own: HouseholdSettings
) -> list[str]:
    """Everything announced for a household taken back (the household is being forgotten);
    returns the cameras. Call it before the household's settings are erased."""
    announced = _announced(storage, household)
    if not announced or (own.mqtt_url or settings.mqtt_url) is None:
        return []
    _withdraw(storage, household_broker(own, settings), household, announced)
    return sorted(m.camera for m in announced if m.camera is not None)
