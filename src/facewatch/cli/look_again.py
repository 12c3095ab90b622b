"""`facewatch look-again`, and the line `enroll` and `name-stranger` print after they
learned someone: recent strangers judged again against the known set as it is now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from facewatch.cli.errors import fail
from facewatch.config import Settings, get_settings
from facewatch.exceptions import FacewatchError
from facewatch.layout import check_id
from facewatch.store.storage import Storage

DEFAULT_SINCE = "7d"


def look_again_line(storage: Storage, settings: Settings, household: str, since: str = DEFAULT_SINCE) -> str:
    """Judge the household's faces since `since` again (recognize.look_again: no alerts)
    and say what changed, in one line."""
    from facewatch.recognize.decisions import MatchPolicy
    from facewatch.recognize.history import parse_since
    from facewatch.recognize.look_again import look_again

    now = datetime.now(UTC)
    start = parse_since(since, now) or now - timedelta(days=7)
    done = look_again(
        storage,
        household,
        since=start,
        now=now,
        max_pixels=settings.max_image_pixels,
        policy=MatchPolicy.from_settings(settings),
    )
    return done.line()


def after_learning(storage: Storage, settings: Settings, household: str) -> None:
    """What `enroll` and `name-stranger` print after they learned someone. The learning
    has happened: a failure to look again (say, a role that may not rewrite results) is a
    warning on stderr, not a failed command; `facewatch look-again` can be run later."""
    try:
        click.echo(look_again_line(storage, settings, household))
    except FacewatchError as exc:
        click.echo(f"warning: could not look again at recent faces: {exc}", err=True)


@click.command()
@click.option("--household", required=True, help="Household id.")
@click.option("--since", default=DEFAULT_SINCE, show_default=True, help="e.g. 2h, 7d, or 2026-11-25T08:00.")
def look_again_command(household: str, since: str) -> None:
    """Judge recent stranger and unsure faces again against today's known people: those
    now known are shown as known in the history (no alert is sent)."""

    settings = get_settings()
    try:
        check_id(household, "household")
        storage = Storage.from_settings(settings)
        storage.check_bucket()
        line = look_again_line(storage, settings, household, since)
    except FacewatchError as exc:
        fail(exc)
    click.echo(line)
