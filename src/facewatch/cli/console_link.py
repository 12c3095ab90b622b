"""`facewatch console-link`: a one-time sign-in URL for a household's console. It is signed
here with the deployment's link secret, so it works against any deployment whose secret
and console URL the CLI is given (FACEWATCH_LINK_SECRET, FACEWATCH_CONSOLE_URL)."""

from __future__ import annotations

import re
from datetime import timedelta

import click

from facewatch.cli.errors import fail
from facewatch.config import get_settings
from facewatch.exceptions import BadInput, FacewatchError
from facewatch.layout import check_id

_TTL = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
MAX_TTL = timedelta(days=7)


def parse_ttl(value: str) -> timedelta:
    match = _TTL.fullmatch(value.strip())
    if not match or int(match.group(1)) == 0:
        raise BadInput(f"--ttl {value!r}: use e.g. 15m, 2h or 1d")
    ttl = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if ttl > MAX_TTL:
        raise BadInput(f"--ttl {value!r}: at most 7d (a link is a key to the household's console)")
    return ttl


@click.command()
@click.option("--household", required=True, help="Household id.")
@click.option("--ttl", default="15m", show_default=True, help="How long the link works: 15m, 2h, 1d (≤ 7d).")
def console_link_command(household: str, ttl: str) -> None:
    """Print a one-time sign-in URL for a household's console."""
    from facewatch.web.console.session import console_link

    try:
        url = console_link(get_settings(), check_id(household, "household"), ttl=parse_ttl(ttl))
    except FacewatchError as exc:
        fail(exc)
    click.echo(url)
