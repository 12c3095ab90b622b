"""Per-household settings kept in the bucket (`households/<h>/settings.json`): who gets the
alerts and how. Anything a household does not set falls back to the deployment's Settings,
so one deployment can serve many households without one's alerts reaching another."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
)

from facewatch.config import Settings
from facewatch.exceptions import BadInput, ObjectMissing
from facewatch.household.addresses import check_recipients
from facewatch.household.rules import QuietHours
from facewatch.layout import household_settings_key
from facewatch.store.storage import Storage, StoredObject

log = logging.getLogger(__name__)

ChannelName = Literal["email", "webhook", "mqtt"]


def _email_only() -> list[ChannelName]:
    return ["email"]


class HouseholdSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mail_to: list[str] | None = None
    timezone: str | None = None
    channels: list[ChannelName] = Field(default_factory=_email_only)
    webhook_url: str | None = None
    mqtt_url: SecretStr | None = None
    """A broker of the household's own (its Home Assistant's); default: FACEWATCH_MQTT_URL."""
    quiet_hours: dict[ChannelName, str] = Field(default_factory=dict)
    """Per channel, a window of the household's local time when it stays silent, e.g.
    {"email": "22:00-07:00"}; the other channels still alert (rules.py)."""
    stranger_alert_hours: float | None = Field(None, gt=0)
    """At most one alert per remembered stranger per this many hours, across all cameras."""
    no_alerts: list[str] = Field(default_factory=list)
    """Stranger ids and names that never alert (a neighbour, the postman)."""
    arrivals: list[str] = Field(default_factory=list)
    """Known people whose arrival is announced (once per visit); nobody by default."""
    visit_window_seconds: float | None = Field(None, gt=0, le=24 * 3600)
    """This household's visit window (default: FACEWATCH_VISIT_WINDOW_SECONDS)."""
    alert_cooldown_seconds: float | None = Field(None, ge=0, le=7 * 24 * 3600)
    """This household's alert cooldown (default: FACEWATCH_ALERT_COOLDOWN_SECONDS)."""
    armed: bool = True
    """The away switch: false ("we are home") holds stranger alerts back, each recorded as
    held back by it. Set by `facewatch household arm/disarm`, the console, or Home Assistant
    through `facewatch mqtt-bridge`."""
    presence: bool = False
    """Over MQTT, a Home Assistant presence sensor per person in `arrivals`: the camera they
    were last seen at (their arrival alerts feed it). Off by default, for privacy."""
    presence_away_after_minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    """How long after a person was last seen their presence sensor stops naming a camera."""
    retention_days: int = Field(30, ge=1, le=3650)
    """Frames and their results are kept this many days (household/retention.py); a face
    someone marked, open visits' and remembered strangers' frames, and known photos stay."""

    @field_validator("mail_to")
    @classmethod
    def _recipients(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        # Refused when saved (the CLI's and the console's edits validate here). A list
        # stored before addresses were checked still loads, so the household's other
        # channels and rules keep working; delivery checks the addresses again and dead-
        # letters an email it may not send.
        if value is None or (info.context or {}).get("stored"):
            return value
        try:
            return check_recipients(value)
        except BadInput as exc:
            raise ValueError(str(exc)) from None

    @field_validator("quiet_hours")
    @classmethod
    def _windows(cls, value: dict[ChannelName, str]) -> dict[ChannelName, str]:
        for window in value.values():
            try:
                QuietHours.parse(window)
            except BadInput as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
        return value

    @field_serializer("mqtt_url", when_used="json")
    def _stored_url(self, value: SecretStr | None) -> str | None:
        # Stored in settings.json as it is; what is printed goes through `shown()`.
        return value.get_secret_value() if value is not None else None

    def shown(self) -> dict[str, object]:
        """The settings as they may be printed: a broker URL without its password."""
        data = self.model_dump(mode="json")
        if self.mqtt_url is not None:
            data["mqtt_url"] = redacted_url(self.mqtt_url.get_secret_value())
        return data


def redacted_url(url: str) -> str:
    """A URL as it may be shown or logged: its password replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class Recipients(BaseModel):
    """What delivery needs, resolved: the household's own values or the deployment's."""

    mail_to: list[str]
    timezone: str
    channels: list[ChannelName]
    webhook_url: str | None
    mqtt_url: SecretStr | None
    quiet_hours: dict[str, str]


def load_household_settings(storage: Storage, household: str) -> HouseholdSettings:
    try:
        return _parsed(household, storage.get(household_settings_key(household)).body)
    except ObjectMissing:
        return HouseholdSettings()


def change_household_settings(
    storage: Storage, household: str, change: Callable[[HouseholdSettings], HouseholdSettings]
) -> HouseholdSettings:
    """Apply `change` to the stored settings by compare-and-swap (`Storage.swap`), so two
    edits at once (the console's and `facewatch household`'s) both land: the one that loses
    the race is applied again to what the other wrote. Returns the settings written."""

    def swap(stored: StoredObject | None) -> tuple[bytes | None, HouseholdSettings]:
        old = _parsed(household, stored.body) if stored is not None else HouseholdSettings()
        new = change(old)
        return (None if new == old else new.model_dump_json(indent=1).encode()), new

    return storage.swap(household_settings_key(household), swap, content_type="application/json")


def rename_in_rules(storage: Storage, household: str, old: str, new: str) -> None:
    """The household's rules about someone (arrival notices, no alerts) follow them to a new
    name (a person renamed) or id (a stranger merged into another), by compare-and-swap.
    Settings that do not parse are left for the household to mend: a rename or a merge is
    not the place to refuse."""

    def renamed(names: list[str]) -> list[str]:
        return list(dict.fromkeys(new if n == old else n for n in names))  # already listed: once

    def change(current: HouseholdSettings) -> HouseholdSettings:
        if old not in current.arrivals and old not in current.no_alerts:
            return current
        return current.model_copy(
            update={"arrivals": renamed(current.arrivals), "no_alerts": renamed(current.no_alerts)}
        )

    try:
        change_household_settings(storage, household, change)
    except BadInput as exc:
        log.warning("%s: its rules about %s were left as they are", exc, old)


def save_household_settings(storage: Storage, household: str, value: HouseholdSettings) -> None:
    """Replace a household's settings whole, whatever they were (a seed: the demo's, a
    test's); an edit is `change_household_settings`."""
    storage.put(
        household_settings_key(household),
        value.model_dump_json(indent=1).encode(),
        content_type="application/json",
    )


def _parsed(household: str, body: bytes) -> HouseholdSettings:
    try:
        return HouseholdSettings.model_validate_json(body, context={"stored": True})
    except ValidationError as exc:
        raise BadInput(f"household {household}: settings.json is invalid: {exc.errors()[0]['msg']}") from exc


def resolve(own: HouseholdSettings, settings: Settings) -> Recipients:
    return Recipients(
        mail_to=own.mail_to if own.mail_to is not None else list(settings.mail_to),
        timezone=own.timezone or settings.timezone,
        channels=own.channels,
        webhook_url=own.webhook_url,
        mqtt_url=own.mqtt_url or settings.mqtt_url,
        quiet_hours={str(channel): window for channel, window in own.quiet_hours.items()},
    )
