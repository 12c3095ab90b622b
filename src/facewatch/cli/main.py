"""The `facewatch` command."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from facewatch.cli.errors import fail
from facewatch.config import Settings, get_settings
from facewatch.exceptions import BadInput, BadSettings, FacewatchError
from facewatch.layout import check_id, check_person
from facewatch.tokens import household_detect_token


def _settings() -> Settings:
    return get_settings()


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """facewatch: a stranger-at-the-door alarm for any camera."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        get_settings()  # every command refuses a weak secret the same way, before it does anything
    except BadSettings as exc:
        for problem in str(exc).splitlines():
            click.echo(f"error: {problem}", err=True)
        sys.exit(2)


@main.command()
@click.option("--household", required=True, help="Household id (a-z, 0-9, '-', '_').")
@click.option("--name", required=True, help="The person's name as alerts should show it.")
@click.argument(
    "photos", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def enroll(household: str, name: str, photos: tuple[Path, ...]) -> None:
    """Upload PHOTOS of a known person and update the household's known encodings.

    Each photo passes the enrollment gates first (one face, wide and sharp enough for
    recognize to judge): a refused photo is left out with a line saying why and what to take
    instead, the others are enrolled. Exits 1 only when every photo was refused."""
    from facewatch.exceptions import StorageError
    from facewatch.recognize.known import enroll as do_enroll
    from facewatch.recognize.known import load_gallery
    from facewatch.recognize.photo_checks import CheckedPhoto, PhotoRefused, check_batch, own_encodings
    from facewatch.recognize.photo_gates import GateLimits
    from facewatch.store.storage import Storage

    settings = _settings()
    try:
        check_id(household, "household")
        check_person(name)
        storage = Storage.from_settings(settings)
        storage.check_bucket()
        try:
            own = own_encodings(load_gallery(storage, household)[0], name)
        except StorageError:  # not built yet (a first enrollment) or unreadable
            own = own_encodings(None, name)
        read = [(p.name, p.read_bytes()) for p in photos]
        # A local file has no byte limit (the pixel limit guards decoding), unlike an upload.
        largest = max(len(body) for _, body in read)
        limits = GateLimits.from_settings(settings)
        outcomes = check_batch(read, settings.max_image_pixels, largest, limits, own)
        accepted = [
            (filename, body)
            for (filename, body), o in zip(read, outcomes, strict=True)
            if isinstance(o, CheckedPhoto)
        ]
        for outcome in outcomes:
            if isinstance(outcome, PhotoRefused):
                click.echo(f"{outcome.filename}: refused: {outcome.refused.text}", err=True)
            else:
                for line in outcome.lines():
                    click.echo(line, err=True)
        if not accepted:
            click.echo(f"warning: every photo of {name} was refused; nothing was added", err=True)
            sys.exit(1)
        gallery = do_enroll(storage, household, name, accepted, settings.max_image_pixels)
    except FacewatchError as exc:
        fail(exc)
    learned = gallery.names.count(name)
    click.echo(
        f"{name}: {learned} of {len(photos)} photo(s) with a usable face; "
        f"household {household} now knows {len(gallery.people)} people"
    )
    if learned == 0:
        click.echo(f"warning: no face found in any photo of {name}", err=True)
        sys.exit(1)
    _look_again(storage, settings, household)


def _look_again(storage: Any, settings: Settings, household: str) -> None:
    """After someone was learned: the last week's strangers judged again, in one line."""
    from facewatch.cli.look_again import after_learning

    after_learning(storage, settings, household)


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
    help="Where received emails are written as .eml files (and report/index.html).",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the strangers remembered here, so a second run knows them again.",
)
@click.option(
    "--keep-running",
    is_flag=True,
    help="Leave the local stack up afterwards (until Ctrl-C), to look around with the other commands.",
)
def demo(
    video: Path | None, known: Path | None, outbox: Path, state_dir: Path | None, keep_running: bool
) -> None:
    """Clip → edge agent → S3 → recognize → notify → email, all on this machine."""
    from facewatch.local.demo import print_json_line, repo_testdata, run_demo
    from facewatch.local.processes import StackError

    def report(summary: dict[str, Any]) -> None:
        click.echo(
            f"{summary['frames_read']} frames read, {summary['frames_uploaded']} uploaded, "
            f"{summary['strangers']} stranger face(s) of {len(summary['strangers_remembered'])} "
            f"stranger(s), {summary['emails']} email(s) in {summary['outbox']}; page: {summary['report']}",
            err=True,
        )
        print_json_line(summary)
        sys.stdout.flush()

    def stay_up(summary: dict[str, Any], env: dict[str, str]) -> None:
        report(summary)
        exports = " ".join(f"{name}={value}" for name, value in sorted(env.items()))
        click.echo(f"the local stack stays up until Ctrl-C; in another shell:\n  export {exports}", err=True)
        click.echo("  facewatch strangers --household home --json", err=True)
        click.echo(f"console: {_demo_console_link(env)}", err=True)
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # stop the stack cleanly
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()

    data = repo_testdata()
    video = video or data / "video" / "short_hamilton_clip.mp4"
    known = known or data / "known"
    try:
        summary = run_demo(
            video,
            known,
            outbox,
            say=lambda m: click.echo(m, err=True),
            state_dir=state_dir,
            keep=stay_up if keep_running else None,
        )
    except StackError as exc:
        click.echo(f"error: the local stack failed: {exc}", err=True)
        sys.exit(3)
    except FacewatchError as exc:
        fail(exc)
    if not keep_running:
        report(summary)


def _demo_console_link(env: dict[str, str]) -> str:
    """A sign-in link to the demo household's console on the running local stack."""
    from datetime import timedelta

    from pydantic import SecretStr

    from facewatch.local.demo import HOUSEHOLD
    from facewatch.web.console.session import console_link

    settings = Settings(
        link_secret=SecretStr(env["FACEWATCH_LINK_SECRET"]), console_url=env["FACEWATCH_CONSOLE_URL"]
    )
    return console_link(settings, HOUSEHOLD, ttl=timedelta(hours=1))


@main.command()
@click.option("--household", required=True)
@click.option("--since", default=None, help="e.g. 2h, 7d, or 2026-11-25T08:00 (default: everything).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def events(household: str, since: str | None, as_json: bool) -> None:
    """List the verdicts on a household's frames: who, how sure, which visit, alert or not."""
    import json
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.table import Table

    from facewatch.recognize.history import parse_since, verdict_rows
    from facewatch.store.storage import Storage

    settings = _settings()
    try:
        check_id(household, "household")
        rows = list(
            verdict_rows(Storage.from_settings(settings), household, parse_since(since, datetime.now(UTC)))
        )
    except FacewatchError as exc:
        fail(exc)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, default=str))
        return
    table = Table(
        "time", "camera", "verdict", "name", "distance", "stranger / visit", "alert / reason", "verdict id"
    )
    for r in rows:
        distance = f"{r['distance']:.3f}" if isinstance(r.get("distance"), float) else ""
        table.add_row(
            str(r["captured_at"])[:19],
            r["camera"],
            str(r["verdict"]),
            r.get("name") or "",
            distance,
            r.get("stranger_id") or r.get("visit_id") or "",
            r.get("alert") or r.get("reason") or "",
            r.get("verdict_id") or "",
        )
    # Piped output is read by programs and people alike: never cut it to 80 columns.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@main.group()
def alerts() -> None:
    """Alerts that could not be delivered."""


@alerts.command("retry")
@click.option("--household", default=None, help="Only this household (default: all).")
def alerts_retry(household: str | None) -> None:
    """Send dead-lettered alerts again; those that go out are removed from the dead letters."""
    from facewatch.alerts.dead_letters import retry_dead_letters
    from facewatch.alerts.mail_transport import mail_transport_from_settings
    from facewatch.records import DeliveryStatus
    from facewatch.store.storage import Storage

    settings = _settings()
    try:
        outcomes = retry_dead_letters(
            storage=Storage.from_settings(settings),
            mail=mail_transport_from_settings(settings),
            settings=settings,
            household=household,
        )
    except FacewatchError as exc:
        fail(exc)
    for alert_id, outcome in outcomes.items():
        click.echo(f"{alert_id}: {outcome}")
    failed = sum(o.status is DeliveryStatus.DEAD_LETTERED for o in outcomes.values())
    click.echo(f"{len(outcomes) - failed} sent, {failed} still failing", err=True)
    sys.exit(1 if failed else 0)


@main.command("detect-token")
@click.option("--household", required=True)
@click.option("--camera", default=None, help="The one camera's token (FACEWATCH_DETECT_TOKEN_SCOPE=camera).")
def detect_token_command(household: str, camera: str | None) -> None:
    """The bearer token HOUSEHOLD's cameras present to detect when
    FACEWATCH_DETECT_TOKEN_SCOPE=household (the default), or CAMERA's when it is camera
    (derived from FACEWATCH_DETECT_TOKEN)."""

    settings = _settings()
    try:
        if settings.detect_token is None:
            raise BadInput("FACEWATCH_DETECT_TOKEN is not set: there is nothing to derive a token from")
        if settings.detect_token_scope == "camera" and camera is None:
            raise BadInput("FACEWATCH_DETECT_TOKEN_SCOPE is camera: give --camera, each camera has its own")
        click.echo(household_detect_token(settings.detect_token.get_secret_value(), household, camera))
    except FacewatchError as exc:
        fail(exc)


def _register_commands() -> None:
    # Commands with many options or their own display have a module each.
    from facewatch.cli.agent import agent_command
    from facewatch.cli.check import check_command
    from facewatch.cli.console_link import console_link_command
    from facewatch.cli.corrections import not_command
    from facewatch.cli.evaluate import eval_command
    from facewatch.cli.household import household_command
    from facewatch.cli.household_data import attach, retention_command
    from facewatch.cli.look_again import look_again_command
    from facewatch.cli.mqtt_bridge import mqtt_bridge_command
    from facewatch.cli.reindex import reindex_command
    from facewatch.cli.report import report_command
    from facewatch.cli.strangers import name_stranger_command, strangers_command
    from facewatch.cli.up import up_command
    from facewatch.cli.up_backup import attach as attach_backup

    main.add_command(agent_command, "agent")
    main.add_command(eval_command, "eval")
    main.add_command(strangers_command, "strangers")
    main.add_command(name_stranger_command, "name-stranger")
    main.add_command(not_command, "not")
    main.add_command(report_command, "report")
    main.add_command(household_command, "household")
    attach(household_command)  # export, import, erase
    main.add_command(retention_command, "retention")
    main.add_command(look_again_command, "look-again")
    main.add_command(up_command, "up")
    attach_backup(up_command)  # backup, restore
    main.add_command(console_link_command, "console-link")
    main.add_command(mqtt_bridge_command, "mqtt-bridge")
    main.add_command(reindex_command, "reindex")
    main.add_command(check_command, "check")


_register_commands()


if __name__ == "__main__":
    main()
