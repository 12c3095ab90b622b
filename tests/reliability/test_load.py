"""A bounded burst against the local stack: frames from many households and cameras,
uploaded as fast as the agent's upload path allows. Every frame must get exactly one
result and every stranger visit exactly one alert, with recognize's memory bounded."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import cv2
import pytest

from facewatch.layout import encodings_key
from tests.conftest import TESTDATA, clip_frame
from tests.reliability.conftest import Frames, known_gallery_bytes, scale, wait_for_results

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def test_burst_from_many_households_and_cameras(stack, figures, gauges):
    storage = stack.storage()
    households = [f"load-{i:02d}" for i in range(scale(4, 20))]
    total = scale(60, 500)
    gallery = known_gallery_bytes(storage)
    for household in households:
        storage.put(encodings_key(household), gallery)
    strangers = [clip_frame(i) for i in (90, 150, 180)]
    known = cv2.imread(str(TESTDATA / "faces" / "obama3.jpg"))
    frames = Frames(storage)
    plan = []
    for i in range(total):
        household = households[i % len(households)]
        n = i // len(households)
        image = strangers[n % 3] if n % 2 == 0 else known
        plan.append((image, household, f"cam-{n % 2}", T0 + timedelta(seconds=3 * n)))
    uploaded: dict[str, float] = {}

    def upload(item: tuple) -> None:
        key = frames.upload(*item)
        uploaded[key] = time.time()

    started = time.time()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(upload, plan))
    results = wait_for_results(storage, list(uploaded), timeout=scale(300, 1200))
    finished = time.time()
    stack.wait_idle(timeout=300)

    figures["load_frames"] += total
    figures["frames_lost"] += total - len(results)
    assert len(results) == total
    for household in households:  # exactly one result object per frame
        assert len(list(storage.list_keys(f"households/{household}/results/"))) == total // len(households)
    emails = {h: 0 for h in households}
    for path in stack.outbox_server.messages:
        body = path.read_bytes()
        for h in households:
            if f"household {h},".encode() in body:
                emails[h] += 1
    figures["duplicate_alerts"] += sum(max(0, n - 1) for n in emails.values())
    assert emails == {h: 1 for h in households}  # one stranger visit per household

    latencies = sorted(
        datetime.fromisoformat(r["processed_at"]).timestamp() - uploaded[k] for k, r in results.items()
    )
    gauges["load_frames_per_s"] = round(total / (finished - started), 2)
    gauges["load_p50_s"] = round(statistics.median(latencies), 2)
    gauges["load_p95_s"] = round(latencies[int(0.95 * (len(latencies) - 1))], 2)
    gauges["peak_rss_mb"] = round(stack.functions["recognize"].peak_rss_mb(), 1)
    gauges["load_households"] = len(households)
    gauges["load_cameras"] = 2 * len(households)
    print(
        f"\nload: {total} frames, {gauges['load_frames_per_s']} frames/s, p50 {gauges['load_p50_s']} s, "
        f"p95 {gauges['load_p95_s']} s, recognize peak RSS {gauges['peak_rss_mb']} MB"
    )
    assert gauges["peak_rss_mb"] < 1500
