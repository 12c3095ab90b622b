"""`facewatch eval`: the decision rule measured on labelled photos."""

from __future__ import annotations

import json
from pathlib import Path

import click

from facewatch.cli.errors import fail
from facewatch.config import get_settings
from facewatch.exceptions import FacewatchError
from facewatch.local.evaluation import evaluate


@click.command()
@click.option("--gallery", "gallery_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--probes", "probes_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="End with one JSON object (the last line).")
def eval_command(gallery_dir: Path, probes_dir: Path, as_json: bool) -> None:
    """Measure the decision rule on labelled photos: GALLERY/<name>/*, PROBES/<name>/*."""

    try:
        report = evaluate(gallery_dir, probes_dir, get_settings())
    except FacewatchError as exc:
        fail(exc)
    summary = report.summary()
    for mistake in report.mistakes:
        click.echo(
            f"mistake: {mistake['probe']}: {mistake['label']} judged {mistake['verdict']} "
            f"{mistake['name'] or ''} ({mistake['distance'] or 0:.3f})",
            err=True,
        )
    click.echo(
        f"known: {report.known_correct}/{report.known_probes} named right; strangers: "
        f"{report.stranger_false_accepts}/{report.stranger_probes} taken for someone; "
        f"no face: {report.no_face}; threshold {report.threshold}; {summary['seconds_per_image']} s/image",
        err=as_json,
    )
    if as_json:
        click.echo(json.dumps(summary))
