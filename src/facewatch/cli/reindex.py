"""`facewatch reindex`: rebuild a household's console summaries from its results."""

from __future__ import annotations

import click

from facewatch.cli.errors import fail
from facewatch.config import get_settings
from facewatch.exceptions import FacewatchError
from facewatch.layout import check_id
from facewatch.recognize.day_index_store import DayIndexStore
from facewatch.store.storage import Storage


@click.command()
@click.option("--household", required=True, help="Household id.")
def reindex_command(household: str) -> None:
    """Rebuild the summaries the console reads (its visits, each person's days) from the
    household's results: after a summary write failed, or a summary was lost or damaged."""
    try:
        check_id(household, "household")
        done = DayIndexStore(Storage.from_settings(get_settings())).reindex(household)
    except FacewatchError as exc:
        fail(exc)
    click.echo(f"household {household}: {done.days} day(s), {done.frames} frame(s) indexed")
