"""`facewatch strangers` and `facewatch name-stranger`."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import click

from facewatch.cli.errors import fail
from facewatch.config import get_settings
from facewatch.exceptions import FacewatchError
from facewatch.layout import check_id
from facewatch.recognize.naming import name_stranger
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.store.storage import Storage


@click.command()
@click.option("--household", required=True, help="Household id.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def strangers_command(household: str, as_json: bool) -> None:
    """List the strangers a household remembers: first and last seen, visits, sightings."""
    from rich.console import Console
    from rich.table import Table

    settings = get_settings()
    try:
        check_id(household, "household")
        found = StrangerStore(Storage.from_settings(settings)).strangers(
            household, now=datetime.now(UTC), memory=timedelta(days=settings.stranger_memory_days)
        )
    except FacewatchError as exc:
        fail(exc)
    if as_json:
        for stranger in found:
            click.echo(json.dumps(stranger.summary()))
        return
    table = Table("stranger", "first seen", "last seen", "visits", "sightings", "cameras")
    for s in found:
        table.add_row(
            s.stranger_id,
            s.first_seen.isoformat()[:19],
            s.last_seen.isoformat()[:19],
            str(s.visits),
            str(s.sightings),
            ", ".join(s.cameras),
        )
    # Piped output is read by programs and people alike: never cut it to 80 columns.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@click.command()
@click.option("--household", required=True, help="Household id.")
@click.option("--stranger", "stranger_id", required=True, help="The stranger's id (facewatch strangers).")
@click.option("--name", required=True, help="Who they are, as alerts should show it.")
def name_stranger_command(household: str, stranger_id: str, name: str) -> None:
    """Make a remembered stranger a known person: all their face crops are enrolled at once."""

    settings = get_settings()
    try:
        check_id(household, "household")
        check_id(stranger_id, "stranger id")
        storage = Storage.from_settings(settings)
        storage.check_bucket()
        naming = name_stranger(storage, household, stranger_id, name, settings.max_image_pixels)
    except FacewatchError as exc:
        fail(exc)
    click.echo(
        f"{stranger_id} is now {name}: {naming.learned} of {naming.photos} face crop(s) learned "
        f"({naming.stranger.visits} visit(s), {naming.stranger.sightings} sighting(s))"
    )
    from facewatch.cli.look_again import after_learning

    after_learning(storage, settings, household)
