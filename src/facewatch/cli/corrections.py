"""`facewatch not`: a face wrongly taken for someone."""

from __future__ import annotations

import click

from facewatch.cli.errors import fail
from facewatch.config import get_settings
from facewatch.exceptions import FacewatchError
from facewatch.recognize.negatives import not_this_person
from facewatch.store.storage import Storage


@click.command()
@click.option("--verdict", "verdict_id", required=True, help="The verdict's id (facewatch events).")
@click.option("--name", required=True, help="The known person that face is NOT.")
def not_command(verdict_id: str, name: str) -> None:
    """Say a face was wrongly taken for NAME: faces closer to it than to NAME's photos are
    no longer NAME (a stranger, if nobody else)."""

    settings = get_settings()
    try:
        storage = Storage.from_settings(settings)
        done = not_this_person(storage, verdict_id, name, settings.max_image_pixels)
    except FacewatchError as exc:
        fail(exc)
    click.echo(
        f"recorded: {verdict_id} is not {name} "
        f"({done.negatives_for_name} such face(s) for {name} in household {done.household})"
    )
