"""`facewatch eval`: the decision rule measured on labelled photos, or per visit on labelled clips."""

from __future__ import annotations

import json
from pathlib import Path

import click

from facewatch.cli.errors import fail
from facewatch.config import get_settings
from facewatch.exceptions import FacewatchError
from facewatch.local.evaluation import evaluate

DIR = click.Path(file_okay=False, path_type=Path)


@click.command()
@click.option("--gallery", "gallery_dir", type=DIR, help="Photos: GALLERY/<name>/* (with --probes).")
@click.option("--probes", "probes_dir", type=DIR, help="Photos: PROBES/<name>/* (with --gallery).")
@click.option(
    "--videos",
    "videos_dir",
    type=DIR,
    help="Clips: VIDEOS/<label>/*.mp4, one person each, the label a name in --known or "
    "'stranger'. Each clip plays through the edge agent and recognize as its own household's "
    "camera and counts as one visit. The last line is JSON, per clip (`clips`) and in total: "
    "known_visits (known clips); known_visits_named (a face named as the label, none as anyone "
    "else); known_visits_alerted (false alarms: any stranger alert); stranger_visits; "
    "stranger_visits_alerted_once (exactly one stranger alert); stranger_visits_named (missed "
    "alarms: any face named as a known person); faces_unsure (faces left unsure).",
)
@click.option(
    "--known", "known_dir", type=DIR, help="With --videos: the people enrolled, KNOWN/<name>/*.jpg|png."
)
@click.option("--json", "as_json", is_flag=True, help="End with one JSON object (the last line).")
def eval_command(
    gallery_dir: Path | None,
    probes_dir: Path | None,
    videos_dir: Path | None,
    known_dir: Path | None,
    as_json: bool,
) -> None:
    """Measure the decision rule on labelled photos (--gallery, --probes) or per visit on
    labelled clips (--videos, --known)."""

    if videos_dir is not None or known_dir is not None:
        if gallery_dir is not None or probes_dir is not None:
            raise click.UsageError(
                "--videos/--known and --gallery/--probes are two separate measures: give one pair"
            )
        if videos_dir is None or known_dir is None:
            raise click.UsageError("--videos needs --known (the people enrolled) and --known needs --videos")
        _eval_videos(videos_dir, known_dir)
        return
    if gallery_dir is None or probes_dir is None:
        raise click.UsageError("give --gallery and --probes (photos), or --videos and --known (clips)")
    _eval_photos(gallery_dir, probes_dir, as_json)


def _eval_videos(videos_dir: Path, known_dir: Path) -> None:
    from facewatch.local.video_evaluation import evaluate_videos

    try:
        figures = evaluate_videos(videos_dir, known_dir, get_settings())
    except FacewatchError as exc:
        fail(exc)
    for clip in figures["clips"]:
        click.echo(
            f"clip: {clip['clip']} ({clip['label']}): {clip['frames_uploaded']} frames uploaded, "
            f"{clip['faces']} faces ({clip['faces_known']} named {', '.join(clip['names']) or '-'}, "
            f"{clip['faces_stranger']} stranger, {clip['faces_unsure']} unsure), "
            f"{clip['stranger_alerts']} stranger alert(s)",
            err=True,
        )
    click.echo(
        f"known visits: {figures['known_visits_named']}/{figures['known_visits']} named, "
        f"{figures['known_visits_alerted']} alerted; stranger visits: "
        f"{figures['stranger_visits_alerted_once']}/{figures['stranger_visits']} alerted once, "
        f"{figures['stranger_visits_named']} named; faces unsure: {figures['faces_unsure']}",
        err=True,
    )
    click.echo(json.dumps(figures))


def _eval_photos(gallery_dir: Path, probes_dir: Path, as_json: bool) -> None:
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
