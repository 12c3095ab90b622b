"""The `facewatch` command."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from facewatch.config import Settings, get_settings
from facewatch.exceptions import FacewatchError


def _settings() -> Settings:
    return get_settings()


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """facewatch: a stranger-at-the-door alarm for any camera."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _fail(exc: FacewatchError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


@main.command()
@click.option("--household", required=True, help="Household id (a-z, 0-9, '-', '_').")
@click.option("--name", required=True, help="The person's name as alerts should show it.")
@click.argument(
    "photos", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def enroll(household: str, name: str, photos: tuple[Path, ...]) -> None:
    """Upload PHOTOS of a known person and update the household's known encodings."""
    from facewatch.gallery import enroll as do_enroll
    from facewatch.layout import check_id, check_person
    from facewatch.storage import Storage

    settings = _settings()
    try:
        check_id(household, "household")
        check_person(name)
        storage = Storage.from_settings(settings)
        storage.check_bucket()
        gallery = do_enroll(
            storage, household, name, [(p.name, p.read_bytes()) for p in photos], settings.max_image_pixels
        )
    except FacewatchError as exc:
        _fail(exc)
        return
    learned = gallery.names.count(name)
    click.echo(
        f"{name}: {learned} of {len(photos)} photo(s) with a usable face; "
        f"household {household} now knows {len(gallery.people)} people"
    )
    if learned == 0:
        click.echo(f"warning: no face found in any photo of {name}", err=True)
        sys.exit(1)


@main.command()
@click.option(
    "--video",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Camera clip to play (default: the bundled clip).",
)
@click.option(
    "--known",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Known people: DIR/<name>/*.jpg|*.png (default: the bundled set).",
)
@click.option(
    "--outbox",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("outbox"),
    show_default=True,
    help="Where received emails are written as .eml files.",
)
def demo(video: Path | None, known: Path | None, outbox: Path) -> None:
    """Clip → edge agent → S3 → recognize → notify → email, all on this machine."""
    from facewatch.demo import print_json_line, repo_testdata, run_demo
    from facewatch.stack import StackError

    data = repo_testdata()
    video = video or data / "video" / "short_hamilton_clip.mp4"
    known = known or data / "known"
    try:
        summary = run_demo(video, known, outbox, say=lambda m: click.echo(m, err=True))
    except StackError as exc:
        click.echo(f"error: the local stack failed: {exc}", err=True)
        sys.exit(3)
    except FacewatchError as exc:
        _fail(exc)
        return
    click.echo(
        f"{summary['frames_read']} frames read, {summary['frames_uploaded']} uploaded, "
        f"{summary['strangers']} stranger face(s), {summary['emails']} email(s) in {summary['outbox']}",
        err=True,
    )
    print_json_line(summary)


def _register_commands() -> None:
    # Commands that live beside the code they drive, so each module owns its own options.
    from facewatch.agent import agent_command

    main.add_command(agent_command, "agent")


_register_commands()
