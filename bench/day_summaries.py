"""What the console's day summaries cost recognize, alone: the 20-household load test's
pattern of frames (20 households' frames in turn, 25 each, a stranger's visit and a known
person's frames alternating, four at a time as recognize's deliveries are) indexed through
`DayIndexStore.record` against a real S3 server, this code and a baseline commit's taking
turns on fresh buckets of the same server.

    python bench/day_summaries.py [--server moto|seaweedfs] [--baseline 43902fc] [--rounds 2] [--json]

Per frame: storage requests (boto3's before-call hook), conditional writes refused, the
wall time a delivery spends in the summaries (median and p95), and the CPU it costs the
S3 server (its process's CPU time over the run) and the caller. The load test itself
(tests/reliability/test_load.py) measures frames per second, which on a shared machine
follows the other processes' load more than this code; these figures do not."""

from __future__ import annotations

import argparse
import json
import os
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
T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def results(households: int, per_household: int) -> list[tuple[str, dict[str, Any]]]:
    """The load test's plan: households in turn, 3 s apart per household, a stranger's frame
    (one visit) and a known person's alternating."""
    out = []
    for i in range(households * per_household):
        household, n = f"load-{i % households:02d}", i // households
        at = T0 + timedelta(seconds=3 * n)
        stem = f"{at:%H%M%S%f}-{i:012d}"
        if n % 2 == 0:
            face = {"verdict": "stranger", "stranger_id": "stranger-00aa", "visit_id": "visit-1"}
            face["alert"] = {"status": "sent" if n == 0 else "suppressed", "detail": "email"}
        else:
            face = {"verdict": "known", "name": "obama"}
        out.append(
            (
                household,
                {
                    "household": household,
                    "camera": f"cam-{n % 2}",
                    "frame_key": f"households/{household}/frames/cam-{n % 2}/{at:%Y%m%d}/{stem}.jpg",
                    "captured_at": at.isoformat(),
                    "faces": [{"box": {"x": 5, "y": 5, "w": 90, "h": 90}, "state": "judged", **face}],
                },
            )
        )
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """One run, in a process of its own (so `src` is this code's or the baseline's)."""
    import boto3

    from facewatch.exceptions import WriteConflict
    from facewatch.recognize.day_index_store import DayIndexStore
    from facewatch.store.storage import Storage

    client = boto3.client(
        "s3",
        endpoint_url=spec["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=spec["key"],
        aws_secret_access_key=spec["secret"],
    )
    storage = Storage(client, spec["bucket"])
    storage.ensure_bucket()
    calls, refused = [0], [0]
    client.meta.events.register("before-call.s3", lambda **_: calls.__setitem__(0, calls[0] + 1))
    original_put = Storage.put

    def put(self: Storage, key: str, body: bytes, **kwargs: Any) -> str:
        try:
            return original_put(self, key, body, **kwargs)
        except WriteConflict:
            refused[0] += 1
            raise

    Storage.put = put  # type: ignore[method-assign]
    store = DayIndexStore(storage)
    frames = results(spec["households"], spec["per_household"])
    times: list[float] = []

    def record(item: tuple[str, dict[str, Any]]) -> None:
        started = time.perf_counter()
        store.record(item[0], [item[1]])
        times.append(time.perf_counter() - started)

    server_cpu, own_cpu, started = cpu_seconds(spec["server_pid"]), time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(record, frames))
    wall = time.perf_counter() - started
    server_cpu, own_cpu = cpu_seconds(spec["server_pid"]) - server_cpu, time.process_time() - own_cpu
    n, requests = len(frames), calls[0]
    times.sort()
    households = {h for h, _ in frames}
    assert all(len(store.day(h, f"{T0:%Y%m%d}").frames) == spec["per_household"] for h in households)
    return {
        "frames": n,
        "requests_per_frame": round(requests / n, 2),
        "refused": refused[0],
        "record_p50_ms": round(1000 * statistics.median(times), 1),
        "record_p95_ms": round(1000 * times[int(0.95 * (n - 1))], 1),
        "server_cpu_ms_per_frame": round(1000 * server_cpu / n, 1),
        "caller_cpu_ms_per_frame": round(1000 * own_cpu / n, 1),
        "frames_per_s": round(n / wall, 1),
    }


def run_measure(src: Path, spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src), "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--measure", json.dumps(spec)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"measuring with {src} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", choices=["moto", "seaweedfs"], default="moto")
    parser.add_argument(
        "--baseline", default="43902fc", help="the commit whose summaries are measured beside"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--households", type=int, default=20)
    parser.add_argument("--per-household", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(json.loads(args.measure))))
        return
    sys.path.insert(0, str(ROOT / "src"))
    from facewatch.local.processes import LOCAL_CREDENTIALS
    from facewatch.local.seaweed import SeaweedServer
    from facewatch.local.stack import MotoServer

    with tempfile.TemporaryDirectory(prefix="fw-bench-summaries-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.baseline, "src"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        sources = {"this code": ROOT / "src", "baseline": Path(tmp) / "src"}
        if args.server == "moto":
            server: Any = MotoServer(Path(tmp)).start()
            key, secret = LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"], LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        else:
            server = SeaweedServer(Path(tmp) / "weed").start()
            key, secret = server.access_key, server.secret_key
        try:
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sources}
            for r in range(args.rounds):
                for name, src in sources.items():
                    spec = {
                        "endpoint": server.endpoint,
                        "key": key,
                        "secret": secret,
                        "bucket": f"bench-summaries-{r}-{'new' if name == 'this code' else 'old'}",
                        "server_pid": server.process.proc.pid,
                        "households": args.households,
                        "per_household": args.per_household,
                    }
                    runs[name].append(run_measure(src, spec))
                    print(name, runs[name][-1], file=sys.stderr)
        finally:
            server.stop()
    # Each figure the better of the rounds (a shared machine only ever adds time).
    out = {
        name: {k: (max if k == "frames_per_s" else min)(run[k] for run in done) for k in done[0]}
        for name, done in runs.items()
    }
    print(json.dumps({"server": args.server, "baseline_commit": args.baseline, **out}))


if __name__ == "__main__":
    main()
