"""What one stranger frame costs the household's stranger memory, empty and full.

    python bench/stranger_memory.py [--strangers 0,400] [--poses 1] [--frames 20] [--json]

A moto S3 server this script starts; the memory is filled through its own code
(`StrangerStore.record`, every face placed as recognize places them, in one change; with
`--poses 5` each stranger seen in five poses, each kept as a representative), then each
measured frame is one face placed as recognize places it (same policy, same store with its
kept books), in two kinds: a face seen before that adds no representative (the common
sighting of a passer-by still in view) and a new face (at the cap, one is forgotten for
it). Per frame: bytes read and written (object bodies, through a counting Storage) and
ms. "another writer" measures a frame after another instance changed the memory (the
process cannot use what it kept, and reads what changed)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facewatch.local.processes import LOCAL_CREDENTIALS  # noqa: E402
from facewatch.local.stack import MotoServer  # noqa: E402
from facewatch.recognize.decisions import MatchPolicy  # noqa: E402
from facewatch.recognize.recognizer import BOOK_KEEP_BYTES  # noqa: E402
from facewatch.recognize.stranger_store import StrangerStore  # noqa: E402
from facewatch.recognize.strangers import NewSighting, StrangerSighting  # noqa: E402
from facewatch.store.storage import Storage, StoredObject  # noqa: E402

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
POLICY = MatchPolicy(threshold=0.5)  # recognize's stranger policy: same_person_threshold
MEMORY = timedelta(days=30)
CROP = b"\xff\xd8" + b"\0" * 3000


class CountingStorage(Storage):
    """Storage that adds up the bytes of the object bodies it reads and writes."""

    read = 0
    written = 0

    def get(self, key: str) -> StoredObject:
        obj = super().get(key)
        self.read += len(obj.body)
        return obj

    def put(self, key: str, body: bytes, **kwargs: Any) -> str:
        self.written += len(body)
        return super().put(key, body, **kwargs)


def face(rng: np.random.Generator) -> np.ndarray:
    """A random encoding: random faces are ~1.1 apart, as different people's are."""
    v = rng.normal(0, 1, 128)
    return v / np.linalg.norm(v) * 0.8


def sighting(n: int, encoding: np.ndarray, at: datetime) -> NewSighting:
    verdict = f"home/cam/{n:06d}#0"
    return NewSighting(
        "home",
        StrangerSighting(verdict, f"frames/{n}.jpg", "cam", at, (10, 10, 80, 80)),
        encoding,
        visit_id=None,
        face_px=80,
        sharpness=100.0,
    )


def place(store: StrangerStore, new: NewSighting, now: datetime) -> str:
    (recall,) = store.record(
        "home", [new], now=now, policy=POLICY, memory=MEMORY, crop=lambda _: CROP, same_visit_limit=0.6
    )
    return recall.reason


def pose(encoding: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same person another way: 0.3 from them (a new pose, well within a match)."""
    step = rng.normal(0, 1, 128)
    return encoding + 0.3 * step / np.linalg.norm(step)


def measure(storage: CountingStorage, size: int, poses: int, frames: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    store = StrangerStore(storage, keep_bytes=BOOK_KEEP_BYTES)
    other = StrangerStore(storage, keep_bytes=BOOK_KEEP_BYTES)  # another recognize instance
    people = [face(rng) for _ in range(size)]
    fill = [
        sighting(p * size + i + 1, e if p == 0 else pose(e, rng), T0 + timedelta(seconds=p * size + i))
        for p in range(poses)
        for i, e in enumerate(people)
    ]
    n = len(fill)
    if fill:
        store.record(
            "home", fill, now=T0, policy=POLICY, memory=MEMORY, crop=lambda _: CROP, same_visit_limit=0.6
        )
    book = store.load("home")[0]
    assert len(book.strangers) == size
    reps = sum(len(s.representatives) for s in book.strangers)
    now = T0 + timedelta(hours=1)
    out: dict[str, Any] = {"strangers": size, "representatives": reps}
    kinds = {
        "seen again": lambda k: people[k % len(people)] + rng.normal(0, 0.01, 128) if people else face(rng),
        "new face": lambda k: face(rng),
    }
    for kind, make in kinds.items():
        for writer, other_first in (("same instance", False), ("another writer", True)):
            ms, read, written = [], [], []
            for k in range(frames):
                n += 1
                if other_first:
                    n += 1
                    place(other, sighting(n, face(rng), now), now)
                    n += 1
                storage.read = storage.written = 0
                start = time.perf_counter()
                reason = place(store, sighting(n, make(k), now), now)
                ms.append((time.perf_counter() - start) * 1000)
                read.append(storage.read)
                written.append(storage.written)
                if kind == "seen again" and people:
                    assert reason == "seen before", reason
            out[f"{kind}, {writer}"] = {
                "ms": round(statistics.median(ms), 1),
                "bytes_read": int(statistics.median(read)),
                "bytes_written": int(statistics.median(written)),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--strangers", default="0,400")
    parser.add_argument("--poses", type=int, default=1)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import os

    import boto3

    os.environ.update(LOCAL_CREDENTIALS)
    with tempfile.TemporaryDirectory() as tmp:
        server = MotoServer(Path(tmp)).start()
        try:
            client = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1")
            results = []
            for size in (int(s) for s in args.strangers.split(",")):
                storage = CountingStorage(client, f"bench-{uuid.uuid4().hex[:8]}")
                storage.ensure_bucket()
                results.append(measure(storage, size, args.poses, args.frames, seed=size))
        finally:
            server.stop()
    for r in results:
        print(f"{r['strangers']} strangers, {r['representatives']} representatives:")
        for kind, v in r.items():
            if isinstance(v, dict):
                print(
                    f"  {kind:32} {v['ms']:8.1f} ms  read {v['bytes_read']:>9,} B  "
                    f"written {v['bytes_written']:>9,} B"
                )
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
