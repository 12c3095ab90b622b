"""No frame stays unjudged: a frame stored while no recognize was there to hear of it (here:
seaweedfs alone, on `facewatch up`'s data folder, without the webhook) is found by the sweep
when `facewatch up` starts, and judged once."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from facewatch.edge.uploads import store_face_frame
from facewatch.faces.detection import HaarDetector
from facewatch.frames import FrameMeta
from facewatch.local.processes import free_port
from facewatch.local.seaweed import SeaweedServer, find_weed
from facewatch.local.up.home import BUCKET
from facewatch.store.storage import Storage
from tests.conftest import clip_frame
from tests.integration.up_harness import PORT_NAMES, Up, facewatch, json_lines, status, wait_for, write_config

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_weed() is None, reason="the seaweedfs `weed` binary was not found"),
]


def test_a_frame_nobody_was_told_of_is_judged_by_the_sweep(tmp_path, running):
    data = tmp_path / "data"
    with SeaweedServer(data / "seaweed") as weed:  # no webhook: recognize hears nothing
        storage = Storage(weed.client(), BUCKET)
        storage.ensure_bucket()
        image = clip_frame()
        boxes = tuple(HaarDetector().detect(image))
        assert boxes
        captured = datetime.now(UTC) - timedelta(minutes=2)
        meta = FrameMeta("home", "door", captured, image.shape[1], image.shape[0], boxes)
        key = store_face_frame(storage, image, meta)

    ports = {name: free_port() for name in PORT_NAMES}
    up = Up(data, write_config(tmp_path / "home.toml", ports), tmp_path / "outbox", tmp_path / "up.log")
    running.append(up)
    env = up.env()
    rows = wait_for(
        "the swept frame's event",
        lambda: json_lines(facewatch("events", "--household", "home", "--json", env=env)),
        up,
    )
    assert {r["frame_key"] for r in rows} == {key}, up.stderr()
    assert status(data)["sweep"]["judged"] == 1
    time.sleep(2)
    assert len(json_lines(facewatch("events", "--household", "home", "--json", env=env))) == len(rows)
    assert up.stop() == 0
    assert json.loads((data / "secrets.json").read_text())["webhook_token"]
