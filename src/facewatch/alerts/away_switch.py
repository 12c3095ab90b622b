"""The away switch over MQTT, as plain data: what a command on Topics.armed_command means
for the households a bridge serves, and the retained state it publishes. No I/O here:
mqtt_bridge.py receives and writes, `publish_armed_state` is the one publisher of the
state for a change made elsewhere (the console, `facewatch household arm`).

Home Assistant's MQTT switch sends its `payload_on` / `payload_off`, by default `ON` /
`OFF`; anything else is refused, not guessed at: a switch that disarms on a stray byte
would silence the door."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from facewatch.alerts.home_assistant import Message, Topics

PAYLOADS = {b"ON": True, b"OFF": False}


@dataclass(frozen=True, slots=True)
class ArmCommand:
    household: str
    armed: bool


@dataclass(frozen=True, slots=True)
class Refused:
    """A message the bridge does not act on; `why` goes to its log."""

    why: str


def read_command(
    topics: Topics, served: Iterable[str], topic: str, payload: bytes, *, retained: bool = False
) -> ArmCommand | Refused:
    """A command on `topic` for one of the `served` households, or why it is refused. A
    retained command is refused: the broker hands it to the bridge again at every connect,
    so one left there would undo, at each restart, every change made since."""
    household = next((h for h in served if topics.armed_command(h) == topic), None)
    if household is None:
        return Refused(f"{topic}: not the command topic of a household this bridge serves")
    if retained:
        return Refused(f"{topic}: a retained command (replayed at every connect) is not acted on")
    armed = PAYLOADS.get(payload.strip())
    if armed is None:
        shown = payload[:40].decode("utf-8", "replace")
        return Refused(f"{topic}: payload {shown!r} is neither ON nor OFF")
    return ArmCommand(household, armed)


def armed_state_message(topics: Topics, household: str, armed: bool) -> Message:
    """`ON` / `OFF`, retained: the switch's state as Home Assistant finds it after a restart."""
    return Message(topics.armed_state(household), b"ON" if armed else b"OFF", retain=True)
