"""`facewatch household`: a household's own alert settings (kept in the bucket), and, when
they include the mqtt channel, its cameras announced to Home Assistant."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from facewatch.cli.errors import fail
from facewatch.config import Settings, get_settings
from facewatch.exceptions import BadInput, FacewatchError
from facewatch.layout import check_id

if TYPE_CHECKING:
    from facewatch.household.settings import HouseholdSettings


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@click.group(invoke_without_command=True)
@click.option("--household", default=None, help="Household id (required unless a subcommand is given).")
@click.option("--mail-to", default=None, help="Comma-separated recipients for this household.")
@click.option("--timezone", default=None, help="IANA time zone for its emails, e.g. Europe/Berlin.")
@click.option("--channels", default=None, help="Comma-separated: email, webhook, mqtt.")
@click.option("--webhook-url", default=None, help="Where the webhook channel POSTs (Home Assistant, ntfy…).")
@click.option(
    "--mqtt-url", default=None, help="The household's own MQTT broker (mqtt[s]://user:pass@host:port)."
)
@click.option(
    "--quiet",
    "quiet",
    multiple=True,
    metavar="CHANNEL=HH:MM-HH:MM",
    help="Quiet hours of a channel in the household's time zone, e.g. email=22:00-07:00 (CHANNEL= clears).",
)
@click.option(
    "--once-per-stranger-hours",
    type=click.FloatRange(min=0),
    default=None,
    help="At most one alert per stranger per this many hours, across cameras (0: no limit).",
)
@click.option("--no-alerts", "silence", multiple=True, metavar="ID|NAME", help="Never alert for them.")
@click.option("--alerts", "unsilence", multiple=True, metavar="ID|NAME", help="Undo --no-alerts.")
@click.option("--arrivals", default=None, help="Comma-separated known people whose arrival is announced.")
@click.option(
    "--arm/--disarm",
    "armed",
    default=None,
    help="The away switch: --disarm holds stranger alerts back (we are home), --arm lets them through.",
)
@click.option(
    "--presence/--no-presence",
    default=None,
    help="Home Assistant presence sensors for the --arrivals people (off by default).",
)
@click.option(
    "--presence-away-minutes",
    type=click.IntRange(min=1),
    default=None,
    help="When a presence sensor says not_home.",
)
@click.option(
    "--retention-days", type=int, default=None, help="Keep frames and verdicts this many days (default 30)."
)
@click.pass_context
def household_command(
    ctx: click.Context,
    household: str | None,
    mail_to: str | None,
    timezone: str | None,
    channels: str | None,
    webhook_url: str | None,
    mqtt_url: str | None,
    quiet: tuple[str, ...],
    once_per_stranger_hours: float | None,
    silence: tuple[str, ...],
    unsilence: tuple[str, ...],
    arrivals: str | None,
    armed: bool | None,
    presence: bool | None,
    presence_away_minutes: int | None,
    retention_days: int | None,
) -> None:
    """Show or change a household's own alert settings (kept in the bucket); its data as a
    whole: export, import, erase."""
    if ctx.invoked_subcommand is not None:
        return
    if household is None:
        raise click.UsageError("Missing option '--household'.")
    from facewatch.alerts.broker_sync import Synced, sync_announcements
    from facewatch.household.settings import HouseholdSettings, change_household_settings
    from facewatch.outbound import check_household_urls, policy_from_settings
    from facewatch.store.storage import Storage

    def change(current: HouseholdSettings) -> HouseholdSettings:
        changes: dict[str, object] = {}
        if mail_to is not None:
            changes["mail_to"] = _names(mail_to)
        if timezone is not None:
            changes["timezone"] = timezone
        if channels is not None:
            changes["channels"] = _names(channels)
        if webhook_url is not None:
            changes["webhook_url"] = webhook_url
        if mqtt_url is not None:
            changes["mqtt_url"] = mqtt_url or None
        if quiet:
            windows: dict[str, str] = {str(c): w for c, w in current.quiet_hours.items()}
            for item in quiet:
                channel, sep, window = item.partition("=")
                if not sep:
                    raise BadInput(f"--quiet {item!r}: give CHANNEL=HH:MM-HH:MM, e.g. email=22:00-07:00")
                if window.strip():
                    windows[channel.strip()] = window.strip()
                else:
                    windows.pop(channel.strip(), None)
            changes["quiet_hours"] = windows
        if once_per_stranger_hours is not None:
            changes["stranger_alert_hours"] = once_per_stranger_hours or None
        if silence or unsilence:
            kept = [n for n in current.no_alerts if n not in unsilence]
            changes["no_alerts"] = kept + [n for n in silence if n not in kept]
        if arrivals is not None:
            changes["arrivals"] = _names(arrivals)
        if armed is not None:
            changes["armed"] = armed
        if presence is not None:
            changes["presence"] = presence
        if presence_away_minutes is not None:
            changes["presence_away_after_minutes"] = presence_away_minutes
        if retention_days is not None:
            changes["retention_days"] = retention_days
        if not changes:
            return current
        if webhook_url or mqtt_url:  # only what is set now: older settings stay readable
            check_household_urls(
                webhook_url or None, mqtt_url or None, policy, deployment_mqtt_url=own_broker
            )
        return HouseholdSettings.model_validate({**current.model_dump(), **changes})

    settings = get_settings()
    policy = policy_from_settings(settings)
    own_broker = settings.mqtt_url.get_secret_value() if settings.mqtt_url else None
    synced = Synced([], [])
    try:
        check_id(household, "household")
        storage = Storage.from_settings(settings)
        # Applied by compare-and-swap: a console save at the same moment is not lost.
        current = change_household_settings(storage, household, change)
        if channels is not None or mqtt_url is not None or presence is not None:
            synced = sync_announcements(storage, settings, household, current)
    except ValidationError as exc:
        problem = exc.errors()[0]
        fail(BadInput(f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}"))
    except FacewatchError as exc:
        fail(exc)
    click.echo(json.dumps(current.shown(), indent=1))
    if armed is not None:
        _tell_home_assistant(settings, household, current)
    if synced.announced:
        click.echo(
            f"announced {len(synced.announced)} camera(s) to Home Assistant: {', '.join(synced.announced)}",
            err=True,
        )
    if synced.withdrawn:
        click.echo(
            f"took {len(synced.withdrawn)} camera(s) back from Home Assistant: {', '.join(synced.withdrawn)}",
            err=True,
        )


def _tell_home_assistant(settings: Settings, household: str, current: HouseholdSettings) -> None:
    """The away switch's new state on the household's broker, if it has one. The setting
    is written either way: a broker that is down only delays what Home Assistant shows
    (the bridge publishes it again when it reconnects)."""
    from facewatch.alerts.mqtt_bridge import publish_armed_state

    state = "armed" if current.armed else "disarmed: stranger alerts are held back"
    click.echo(f"household {household} {state}", err=True)
    try:
        published = publish_armed_state(settings, household, current)
    except FacewatchError as exc:
        click.echo(f"warning: away switch state not published to Home Assistant: {exc}", err=True)
        return
    if published is not None:
        click.echo(f"away switch state published ({published})", err=True)
