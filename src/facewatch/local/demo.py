"""`facewatch demo`: a camera clip through the whole pipeline on the embedded local stack,
ending with stranger emails in a local outbox."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from facewatch.config import Settings
from facewatch.edge.agent import run_agent
from facewatch.edge.pipeline import AgentSummary, EdgeOptions
from facewatch.edge.spool import SpoolOptions
from facewatch.exceptions import BadInput
from facewatch.household.settings import HouseholdSettings, redacted_url, save_household_settings
from facewatch.layout import (
    IMAGE_SUFFIXES,
    check_person,
    household_prefix,
    results_prefix,
    stranger_memory_prefix,
    strangers_key,
)
from facewatch.local.processes import LOCAL_CREDENTIALS
from facewatch.local.stack import LocalStack
from facewatch.recognize.known import enroll
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.store.storage import Storage
from facewatch.web.report import build_report, write_report

log = logging.getLogger(__name__)

HOUSEHOLD = "home"
CAMERA = "front-door"


def repo_testdata() -> Path:
    return Path(__file__).resolve().parents[3] / "testdata"


def known_people(known_dir: Path) -> dict[str, list[Path]]:
    """DIR/<name>/*.jpg|*.png → {name: photos}; a clear error for a tree of another shape."""
    if not known_dir.is_dir():
        raise BadInput(f"known-people directory {known_dir} does not exist")
    people = {}
    for folder in sorted(p for p in known_dir.iterdir() if p.is_dir()):
        photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if photos:
            people[check_person(folder.name)] = photos
    if not people:
        raise BadInput(f"{known_dir} holds no <name>/*.jpg|*.png folders")
    return people


def enroll_tree(storage: Storage, household: str, known_dir: Path, settings: Settings) -> dict[str, int]:
    counts = {}
    for name, photos in known_people(known_dir).items():
        gallery = enroll(
            storage, household, name, [(p.name, p.read_bytes()) for p in photos], settings.max_image_pixels
        )
        counts[name] = gallery.names.count(name)
    return counts


def count_verdicts(storage: Storage, household: str) -> dict[str, int]:
    totals = {"frames_judged": 0, "faces_judged": 0, "strangers": 0, "known": 0, "unsure": 0, "alerts": 0}
    for key in storage.list_keys(results_prefix(household)):
        result = storage.get_json(key)
        totals["frames_judged"] += 1
        for face in result.get("faces", []):
            totals["faces_judged"] += 1
            totals[{"stranger": "strangers"}.get(face["verdict"], face["verdict"])] += 1
        totals["alerts"] += bool(result.get("alert"))
    return totals


def restore_strangers(storage: Storage, household: str, state_dir: Path) -> int:
    """Put the strangers remembered by an earlier demo run (and their crops) back in the bucket."""
    count = 0
    for path in sorted(p for p in state_dir.rglob("*") if p.is_file()):
        key = f"{household_prefix(household)}{path.relative_to(state_dir).as_posix()}"
        if key == strangers_key(household) or key.startswith(
            (f"{household_prefix(household)}strangers/", stranger_memory_prefix(household))
        ):
            storage.put(key, path.read_bytes())
            count += 1
    return count


def save_strangers(storage: Storage, household: str, state_dir: Path) -> None:
    """Keep the household's remembered strangers for the next demo run (the stack is gone then)."""
    prefix = household_prefix(household)
    keys = [
        strangers_key(household),
        *storage.list_keys(stranger_memory_prefix(household)),
        *storage.list_keys(f"{prefix}strangers/"),
    ]
    for key in keys:
        if storage.exists(key):
            path = state_dir / key.removeprefix(prefix)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(storage.get(key).body)


def run_demo(
    video: Path,
    known_dir: Path,
    outbox: Path,
    *,
    settings: Settings | None = None,
    on_progress: Callable[[AgentSummary], None] | None = None,
    say: Callable[[str], None] = print,
    state_dir: Path | None = None,
    keep: Callable[[dict[str, Any], dict[str, str]], None] | None = None,
) -> dict[str, Any]:
    """Run the demo and return its summary. `keep`, when given, is called with the summary
    and the environment that points the `facewatch` commands at the still running local
    stack (endpoint, bucket, credentials); the stack stops when it returns."""
    if not video.is_file():
        raise BadInput(f"video {video} does not exist")
    known_people(known_dir)  # fail before starting anything
    outbox.mkdir(parents=True, exist_ok=True)
    before = set(outbox.glob("*.eml"))
    with tempfile.TemporaryDirectory(prefix="facewatch-demo-") as tmp:
        say("starting the local stack (moto S3+SQS, detect/recognize/notify, SMTP outbox)…")
        with LocalStack(Path(tmp), outbox) as stack:
            base = settings or Settings()
            agent_settings = base.model_copy(
                update={"s3_endpoint_url": stack.moto.endpoint, "bucket": stack.bucket}
            )
            storage = stack.storage()
            enrolled = enroll_tree(storage, HOUSEHOLD, known_dir, agent_settings)
            say(f"enrolled {', '.join(f'{n} ({c} photos)' for n, c in enrolled.items())}")
            if base.mqtt_url is not None:
                # The demo household tells Home Assistant too, over the broker given.
                save_household_settings(storage, HOUSEHOLD, HouseholdSettings(channels=["email", "mqtt"]))
                broker = redacted_url(base.mqtt_url.get_secret_value())
                say(f"alerts also go to MQTT: {broker} (prefix {base.mqtt_prefix})")
            if state_dir is not None and state_dir.is_dir():
                restored = restore_strangers(storage, HOUSEHOLD, state_dir)
                say(f"restored {restored} stranger-memory object(s) from {state_dir}")
            say(f"playing {video.name} through the edge agent…")
            summary = run_agent(
                str(video),
                household=HOUSEHOLD,
                camera=CAMERA,
                settings=agent_settings,
                storage=storage,
                options=EdgeOptions(spool=SpoolOptions(directory=Path(tmp) / "spool")),
                on_frame=on_progress,
            )
            say(f"agent done: {summary.frames_uploaded} face frames uploaded; waiting for the pipeline…")
            stack.wait_idle()
            totals = count_verdicts(storage, HOUSEHOLD)
            remembered = StrangerStore(storage).strangers(
                HOUSEHOLD, now=datetime.now(UTC), memory=timedelta(days=base.stranger_memory_days)
            )
            page = build_report(
                storage, HOUSEHOLD, agent_settings, now=datetime.now(UTC), since=timedelta(days=1)
            )
            report = write_report(page, outbox / "report")
            if state_dir is not None:
                save_strangers(storage, HOUSEHOLD, state_dir)
            emails = sorted(set(outbox.glob("*.eml")) - before)
            result = {
                "frames_read": summary.frames_read,
                "frames_uploaded": summary.frames_uploaded,
                "faces_seen": summary.faces_seen,
                "frames_judged": totals["frames_judged"],
                "known": totals["known"],
                "unsure": totals["unsure"],
                "strangers": totals["strangers"],
                "emails": len(emails),
                "outbox": str(outbox.resolve()),
                "email_files": [p.name for p in emails],
                "strangers_remembered": [s.summary() for s in remembered],
                "report": str(report.resolve()),
            }
            if keep is not None:
                keep(
                    result,
                    {
                        **LOCAL_CREDENTIALS,
                        "FACEWATCH_S3_ENDPOINT_URL": stack.moto.endpoint,
                        "FACEWATCH_BUCKET": stack.bucket,
                        # `facewatch console-link` signs with these, from another shell.
                        "FACEWATCH_LINK_SECRET": stack.link_secret,
                        "FACEWATCH_CONSOLE_URL": stack.url("console"),
                    },
                )
    return result


def print_json_line(value: dict[str, Any]) -> None:
    print(json.dumps(value, separators=(", ", ": ")))
