"""`facewatch household export | import | erase`: a household's data as a whole (tenant/),
and `facewatch retention`: the retention sweep run against any deployment (a cron job, a
Kubernetes CronJob; `facewatch up` runs it itself)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click

from facewatch.cli.errors import fail
from facewatch.config import get_settings
from facewatch.exceptions import BadInput, FacewatchError
from facewatch.layout import check_id


@click.command("export")
@click.option("--household", required=True)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The zip to write."
)
def export_command(household: str, out: Path) -> None:
    """Write everything of HOUSEHOLD a person would want back into one zip."""
    from facewatch.store.storage import Storage
    from facewatch.tenant.export import export_household

    temporary = out.with_name(f".{out.name}.{os.getpid()}")
    try:
        check_id(household, "household")
        storage = Storage.from_settings(get_settings())
        with temporary.open("wb") as stream:
            done = export_household(storage, household, stream)
        os.replace(temporary, out)  # a half-written zip never carries the name
    except FacewatchError as exc:
        temporary.unlink(missing_ok=True)
        fail(exc)
    click.echo(
        f"exported household {household}: {done.files} file(s), {done.verdicts} verdict(s), "
        f"{done.bytes} bytes to {out}"
    )


@click.command("import")
@click.argument("zip_path", metavar="ZIP", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Delete what the household already has here first.")
@click.option(
    "--household",
    default=None,
    help="The household the zip must be an export of (required with --replace).",
)
def import_command(zip_path: Path, replace: bool, household: str | None) -> None:
    """Bring an exported household into this deployment (its known faces encoded again here)."""
    from facewatch.store.storage import Storage
    from facewatch.tenant.imports import import_household

    settings = get_settings()
    try:
        if household is not None:
            check_id(household, "household")
        elif replace:
            # The zip names the household; --replace deletes that household's data: which one
            # is the operator's word, as erase's --yes, never the zip's.
            raise BadInput("--replace deletes a household's data here: name it with --household")
        storage = Storage.from_settings(settings)
        storage.check_bucket()
        done = import_household(
            storage, str(zip_path), settings.max_image_pixels, replace=replace, expected=household
        )
    except FacewatchError as exc:
        fail(exc)
    click.echo(
        f"imported household {done.household}: {done.objects} object(s), {done.verdicts} verdict(s), "
        f"{done.known_photos} known photo(s) encoded again"
        + (f"; {done.replaced} object(s) it had here deleted first" if done.replaced else "")
    )


@click.command("erase")
@click.option("--household", required=True)
@click.option(
    "--yes", "confirmed", default=None, metavar="HOUSEHOLD", help="The household id again, to confirm."
)
@click.option("--keep-mqtt", is_flag=True, help="Erase even if its MQTT broker cannot be reached.")
def erase_command(household: str, confirmed: str | None, keep_mqtt: bool) -> None:
    """Delete every object of HOUSEHOLD (all versions), its sessions and links, and its
    retained MQTT topics; then check that nothing is left."""
    from facewatch.store.storage import Storage
    from facewatch.tenant.erase import erase_household

    settings = get_settings()
    try:
        check_id(household, "household")
        if confirmed is None:
            confirmed = click.prompt(f"type the household id ({household}) to erase it for good", default="")
        if confirmed != household:
            raise BadInput(f"not confirmed ({confirmed!r} is not {household!r}): nothing erased")
        done = erase_household(Storage.from_settings(settings), settings, household, keep_mqtt=keep_mqtt)
    except FacewatchError as exc:
        fail(exc)
    click.echo(
        f"erased household {household}: {done.objects} object(s) deleted, "
        f"{done.topics} retained MQTT topic(s) cleared, {done.left} left"
    )


@click.command("retention")
@click.option("--household", "households", multiple=True, help="Only these (default: every household).")
@click.option("--now", default=None, help="ISO time to sweep as of (default: now).")
def retention_command(households: tuple[str, ...], now: str | None) -> None:
    """Delete frames and verdicts past each household's retention_days."""
    from facewatch.household.retention import describe
    from facewatch.store.storage import Storage
    from facewatch.tenant.retention_sweep import sweep_households

    try:
        at = datetime.fromisoformat(now).astimezone(UTC) if now else datetime.now(UTC)
    except ValueError:
        fail(BadInput(f"--now {now!r} is not an ISO time"))
    try:
        settings = get_settings()
        storage = Storage.from_settings(settings)
        chosen = [check_id(h, "household") for h in households] or storage.list_households()
        swept = sweep_households(storage, settings, chosen, at, stop_on_error=True).swept
    except FacewatchError as exc:
        fail(exc)
    click.echo(describe(swept))


def attach(household: click.Group) -> None:
    household.add_command(export_command)
    household.add_command(import_command)
    household.add_command(erase_command)


__all__ = ["attach", "retention_command"]
