"""`facewatch report`: the static page, written to a folder or the bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from facewatch.cli.errors import fail
from facewatch.config import get_settings
from facewatch.exceptions import FacewatchError
from facewatch.layout import check_id
from facewatch.store.storage import Storage
from facewatch.web.report import build_report, upload_report, write_report


@click.command()
@click.option("--household", required=True, help="Household id.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("facewatch-report"),
    show_default=True,
    help="Directory for index.html.",
)
@click.option("--since", default="7d", show_default=True, help="Faces judged in this period (e.g. 2h, 7d).")
@click.option("--upload", is_flag=True, help="Also store it in the bucket and print a presigned link.")
def report_command(household: str, out_dir: Path, since: str, upload: bool) -> None:
    """Write a self-contained HTML page: recent faces, known people, strangers."""
    from facewatch.recognize.history import parse_since

    settings = get_settings()
    now = datetime.now(UTC)
    try:
        check_id(household, "household")
        start = parse_since(since, now) or now - timedelta(days=7)
        storage = Storage.from_settings(settings)
        storage.check_bucket()
        page = build_report(storage, household, settings, now=now, since=now - start)
        path = write_report(page, out_dir)
        url = upload_report(storage, household, page, settings.presign_seconds) if upload else None
    except FacewatchError as exc:
        fail(exc)
    click.echo(str(path))
    if url:
        click.echo(url)
