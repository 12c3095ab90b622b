"""The console with a year of history: each page's server time and storage requests, this
code against the code it replaced, on the same household in the same run.

    python bench/console.py [--days 365] [--repeat 30] [--baseline 03dc571] [--json]

A household on seaweedfs (a real `weed server`) with DAYS days of results at a realistic
rate: 5 cameras, 200 judged frames and 30 visits a day (20 of the household's 4 known
people, 10 of strangers, 4 frames each; the other 80 frames hold unsure faces of
passers-by). Seeding writes the result objects directly, in recognize's format (FrameResult),
and the summaries with the code's own builders (recognize/day_index.py: what recognize's
writes and `facewatch reindex` produce), many at a time: recognizing 73,000 frames
would take hours. Frames are tiny placeholder objects, for the last 2 days only (the pages
list frames, never read them; the images are separate requests, not pages).

Each page is then fetched REPEAT times in a process of its own, through the console's
`handle` (what the function runs per request, session check included), timed from request
to reply; storage requests are counted with a boto3 event hook on the client (each S3 API
call, each page of a listing). The baseline is the same measurement run with the
`--baseline` commit's `src/` (git archive) on the same bucket: its home page was Faces.
The last line with --json is one JSON object: `pages` (per page `p50_s`, `p95_s`,
`storage_requests`), `worst_p95_s` and `max_storage_requests` (this code's), and
`baseline` (the same for the old code's pages)."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOUSEHOLD = "bench"
CAMERAS = [f"cam{i}" for i in range(1, 6)]
FAMILY = ["ada", "ben", "cleo", "dev"]
SECRET = "bench-console-link-secret-0123456789abcdef"
TARGET_P95_S = 0.3
TARGET_REQUESTS = 10


# --- seeding (this code) -------------------------------------------------------------------


def _face(box: int, verdict: str, **extra: Any) -> dict[str, Any]:
    return {"box": {"x": 100, "y": 80, "w": box, "h": box}, "verdict": verdict, "state": "judged", **extra}


def day_results(day: datetime, rng: random.Random, strangers: list[str]) -> list[dict[str, Any]]:
    """One day's 200 results: 30 visits of 4 frames (20 known, 10 strangers), 80 frames of
    unsure faces, in recognize's result format."""
    from facewatch.layout import FrameKey
    from facewatch.records import FrameResult

    out = []

    def frame(at: datetime, camera: str, faces: list[dict[str, Any]]) -> None:
        key = FrameKey.new(HOUSEHOLD, camera, at)
        verdicts = [{**f, "verdict_id": key.verdict_id(i)} for i, f in enumerate(faces)]
        result = FrameResult.model_validate(
            {
                "household": HOUSEHOLD,
                "camera": camera,
                "frame_key": str(key),
                "captured_at": at,
                "processed_at": at + timedelta(seconds=1),
                "boxes_from": "edge",
                "faces": verdicts,
                "encodings_etag": "e1",
                "frame_etag": "f1",
                "alert": next((f["alert"] for f in verdicts if f.get("alert")), None),
            }
        )
        out.append(result.model_dump(mode="json"))

    for v in range(30):
        start = day + timedelta(seconds=rng.uniform(6 * 3600, 22 * 3600))
        camera = rng.choice(CAMERAS)
        if v < 20:
            name = rng.choice(FAMILY)
            for f in range(4):
                frame(
                    start + timedelta(seconds=2 * f),
                    camera,
                    [_face(rng.randint(60, 160), "known", name=name)],
                )
        else:
            sid = rng.choice(strangers)
            visit = f"visit-{day:%Y%m%d}-{v}"
            for f in range(4):
                first = f == 0
                alert = {"status": "sent", "detail": "email"} if first and v % 3 else None
                if alert is None:
                    why = "no alerts for this stranger" if first else "same visit, already alerted"
                    alert = {"status": "suppressed", "detail": why}
                face = _face(rng.randint(50, 140), "stranger", visit_id=visit, stranger_id=sid, alert=alert)
                frame(start + timedelta(seconds=2 * f), camera, [face])
    for _ in range(80):
        at = day + timedelta(seconds=rng.uniform(0, 86_399))
        faces = [
            _face(rng.randint(14, 40), "unsure", reason="face too small") for _ in range(rng.randint(1, 3))
        ]
        frame(at, rng.choice(CAMERAS), faces)
    return out


def seed(storage: Any, days: int, workers: int = 24) -> dict[str, Any]:
    from facewatch.layout import FrameKey, day_index_key, people_index_key
    from facewatch.recognize.day_index import DayIndex, PeopleIndex, day_people, entry_of, with_day
    from facewatch.store.storage import encode_json

    rng = random.Random(28)
    strangers = [f"stranger-{i:010x}" for i in range(60)]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    people = PeopleIndex()
    started = time.perf_counter()
    frames = 0
    with ThreadPoolExecutor(workers) as pool:
        for back in range(days - 1, -1, -1):
            day = today - timedelta(days=back)
            results = [
                r
                for r in day_results(day, rng, strangers)
                if datetime.fromisoformat(r["captured_at"]) < datetime.now(UTC)
            ]
            puts = [(FrameKey.parse(r["frame_key"]).result_key, encode_json(r)) for r in results]
            if back < 2:
                puts += [(r["frame_key"], b"jpeg") for r in results]
            index = DayIndex(f"{day:%Y%m%d}").with_entries(e for r in results if (e := entry_of(r)))
            puts.append((day_index_key(HOUSEHOLD, index.day), encode_json(index.to_dict(), compact=True)))
            people = with_day(people, index.day, day_people(index))
            list(pool.map(lambda kv: storage.put(kv[0], kv[1], content_type="application/json"), puts))
            frames += len(results)
    storage.put(people_index_key(HOUSEHOLD), encode_json(people.to_dict(), compact=True))
    return {"days": days, "frames": frames, "seconds": round(time.perf_counter() - started, 1)}


def sign_in(storage: Any, settings: Any) -> str:
    from facewatch.tokens import sign_in_link
    from facewatch.web.console import session

    token = sign_in_link(SECRET, HOUSEHOLD, now=datetime.now(UTC), ttl=timedelta(hours=2))
    cookie = session.spend_link(settings, storage, token, https=False).cookie
    return cookie.split(";", 1)[0].split("=", 1)[1]


def pages(storage: Any) -> dict[str, dict[str, Any]]:
    """The pages measured, by name: (path, params). Ids chosen from the seeded data."""
    from facewatch.recognize.day_index import folds, visits
    from facewatch.recognize.day_index_store import DayIndexStore

    store = DayIndexStore(storage)
    for day in store.summaries(HOUSEHOLD).days:  # today may have none yet, early in the day
        faces = store.day(HOUSEHOLD, day).faces()
        stranger = next((c for c in visits(faces) if c.verdict == "stranger"), None)
        if stranger is not None and folds(faces):
            break
    assert stranger is not None, "no stranger's visit was seeded"
    fold = folds(faces)[0]
    return {
        "visits": {"path": "/visits", "params": {}},
        "visit": {"path": "/visit", "params": {"id": stranger.best.verdict_id}},
        "person": {"path": "/person", "params": {"who": FAMILY[0]}},
        "person-stranger": {"path": "/person", "params": {"who": stranger.who}},
        "unsure": {
            "path": "/unsure",
            "params": {"camera": fold.camera, "hour": fold.hour.strftime("%Y%m%d%H")},
        },
        "faces": {"path": "/faces", "params": {}},
        "faces-filtered": {"path": "/faces", "params": {"person": FAMILY[1]}},
        "face": {"path": "/face", "params": {"id": stranger.best.verdict_id}},
        "cameras": {"path": "/cameras", "params": {}},
        "strangers": {"path": "/strangers", "params": {}},
        "people": {"path": "/people", "params": {}},
        "settings": {"path": "/settings", "params": {}},
    }


# --- measuring (this code or the baseline's, in a process of its own) ----------------------


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Fetch each page `repeat` times through the console's handle(); a page the code does
    not have (404) is left out."""
    from facewatch.config import Settings
    from facewatch.web.console import app, session
    from facewatch.web.console.request import ConsoleRequest
    from facewatch.web.services import Services

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bucket=spec["bucket"],
        s3_endpoint_url=spec["endpoint"],
        link_secret=SECRET,
        console_url="http://127.0.0.1/",
    )
    services = Services(settings)
    calls = [0]
    services.storage.client.meta.events.register(
        "before-call.s3", lambda **_: calls.__setitem__(0, calls[0] + 1)
    )
    out: dict[str, Any] = {}
    for name, page in spec["pages"].items():
        request = ConsoleRequest("GET", page["path"], page["params"], {session.COOKIE: spec["cookie"]})
        first = app.handle(services, request)
        if first.status == 404:
            continue
        if first.status != 200:
            raise SystemExit(f"{name}: {first.status} {str(first.body)[:300]}")
        times, counts = [], []
        for _ in range(spec["repeat"]):
            calls[0] = 0
            started = time.perf_counter()
            app.handle(services, request)
            times.append(time.perf_counter() - started)
            counts.append(calls[0])
        times.sort()
        out[name] = {
            "p50_s": round(statistics.median(times), 4),
            "p95_s": round(times[min(len(times) - 1, int(0.95 * len(times)))], 4),
            "storage_requests": max(counts),
        }
    return out


def run_measure(src: Path, spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    env = {k: v for k, v in env.items() if not k.startswith("FACEWATCH_")}
    done = subprocess.run(
        [sys.executable, __file__, "--measure", json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"measuring with {src} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def best(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {k: min(a[name][k], b[name][k]) if name in a else b[name][k] for k in b[name]} for name in b
    }


def baseline_src(commit: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "src"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def summary(measured: dict[str, Any]) -> dict[str, Any]:
    return {
        "pages": measured,
        "worst_p95_s": max((p["p95_s"] for p in measured.values()), default=None),
        "max_storage_requests": max((p["storage_requests"] for p in measured.values()), default=None),
    }


def table(ours: dict[str, Any], old: dict[str, Any]) -> str:
    lines = [
        "| page | p50 ms | p95 ms | storage requests | before: p50 ms | before: p95 ms | before: requests |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, p in ours.items():
        b = old.get(name)
        was = (
            f"{b['p50_s'] * 1000:.0f} | {b['p95_s'] * 1000:.0f} | {b['storage_requests']}"
            if b
            else "(no such page) | | "
        )
        now = f"{p['p50_s'] * 1000:.0f} | {p['p95_s'] * 1000:.0f} | {p['storage_requests']}"
        lines.append(f"| {name} | {now} | {was} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--baseline", default="03dc571", help="the commit whose console is measured beside")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(json.loads(args.measure))))
        return
    sys.path.insert(0, str(ROOT / "src"))
    from facewatch.config import Settings
    from facewatch.local.seaweed import SeaweedServer
    from facewatch.store.storage import Storage

    with (
        tempfile.TemporaryDirectory(prefix="fw-bench-console-") as tmp,
        SeaweedServer(Path(tmp) / "weed") as weed,
    ):
        storage = Storage(weed.client(), "bench-console")
        storage.ensure_bucket()
        os.environ.update(
            AWS_ACCESS_KEY_ID=weed.access_key,
            AWS_SECRET_ACCESS_KEY=weed.secret_key,
            AWS_DEFAULT_REGION=weed.region,
        )
        seeded = seed(storage, args.days)
        print(
            f"seeded {seeded['frames']} results over {seeded['days']} days in {seeded['seconds']} s",
            file=sys.stderr,
        )
        settings = Settings(_env_file=None, bucket=storage.bucket, link_secret=SECRET)  # type: ignore[call-arg]
        spec = {
            "bucket": storage.bucket,
            "endpoint": weed.endpoint,
            "cookie": sign_in(storage, settings),
            "pages": pages(storage),
            "repeat": args.repeat,
        }
        # Turn about, twice, so both see the same load on a shared machine; each page's
        # figures are the better of its two runs.
        old_src = baseline_src(args.baseline, Path(tmp))
        ours, old = {}, {}
        for _ in range(2):
            ours = best(ours, run_measure(ROOT / "src", spec))
            old = best(old, run_measure(old_src, spec))
    print(table(ours, old), file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {**summary(ours), "seeded": seeded, "baseline": {"commit": args.baseline, **summary(old)}}
            )
        )
    else:
        print(table(ours, old))


if __name__ == "__main__":
    main()
