"""`facewatch up backup` and `facewatch up restore` (local/up/backup.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from facewatch.cli.errors import fail
from facewatch.config import get_settings
from facewatch.exceptions import FacewatchError

_CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The config `facewatch up` runs with (its [ports]).",
)


def _s3_port(config_path: Path | None) -> int:
    from facewatch.local.up.config import ConfigError, load_config

    password = get_settings().smtp_password
    try:
        loaded = load_config(config_path, password.get_secret_value() if password else None)
    except ConfigError as exc:
        for problem in str(exc).splitlines():
            click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    return loaded.config.ports.s3


@click.command("backup")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@_CONFIG
def backup_command(data: Path, out: Path, config_path: Path | None) -> None:
    """Back up the running `facewatch up` on DATA into one zip (owner-only)."""
    from facewatch.local.up.backup import backup, running_storage
    from facewatch.local.up.home import BUCKET

    try:
        storage = running_storage(data, _s3_port(config_path), BUCKET)
        storage.check_bucket()
        done = backup(storage, data, out)
    except FacewatchError as exc:
        fail(exc)
    click.echo(
        f"backed up {done.households} household(s), {done.objects} object(s), {done.bytes} bytes to {out}"
    )


@click.command("restore")
@click.argument("backup_path", metavar="BACKUP", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--data", type=click.Path(file_okay=False, path_type=Path), required=True, help="A new data folder."
)
def restore_command(backup_path: Path, data: Path) -> None:
    """Restore a backup into a new data folder; then `facewatch up --data DATA`."""
    from facewatch.local.up.backup import restore
    from facewatch.local.up.home import BUCKET

    try:
        done = restore(backup_path, data, BUCKET, say=lambda m: click.echo(m, err=True))
    except FacewatchError as exc:
        fail(exc)
    click.echo(f"restored {done.objects} object(s) into {data}; start it with: facewatch up --data {data}")


def attach(up: click.Group) -> None:
    up.add_command(backup_command)
    up.add_command(restore_command)
