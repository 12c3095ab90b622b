"""`facewatch check`: how well recognition works for one household."""

from __future__ import annotations

import json

import click

from facewatch.cli.errors import fail
from facewatch.config import get_settings
from facewatch.exceptions import FacewatchError
from facewatch.layout import check_id
from facewatch.store.storage import Storage


@click.command()
@click.option("--household", required=True, help="Household id.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON object (the last line).")
def check_command(household: str, as_json: bool) -> None:
    """How well recognition works here: each known person's photos and what they cover, how
    their faces at the cameras were judged in the last 7 days, the nearest stranger and the
    questions waiting; the closest pair of known people; the threshold in force and the
    chance a stranger is named."""
    from facewatch.recognize.household_check import lines
    from facewatch.recognize.household_check_inputs import questions_waiting, run_check

    settings = get_settings()
    try:
        check_id(household, "household")
        storage = Storage.from_settings(settings)
        storage.check_bucket()
        check = run_check(storage, settings, household, questions_waiting(storage, household))
    except FacewatchError as exc:
        fail(exc)
    for line in lines(check):
        click.echo(line, err=as_json)
    if as_json:
        click.echo(json.dumps(check.to_json()))
