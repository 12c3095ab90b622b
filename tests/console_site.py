"""A console to test against: a real console process (functions-framework, over HTTP) on a
real S3 server, serving a household that saw a street scene through recognize's real code.

The scene is judged once per run into a seed bucket; `site.restore()` puts the console's
bucket back to exactly that state (every test starts from the same household, whatever the
one before it named, merged or forgot), at the cost of copying a few hundred small objects.

Household "home" knows Obama and Biden and remembers the three passers-by of FIRST_WALK as
strangers; household "next-door" knows the same two and saw Kit Harington at its gate
(another household's data, which a session of "home" must never reach)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from facewatch.local.processes import Process, free_port, function_process, functions_dir
from facewatch.recognize.stranger_store import StrangerStore
from facewatch.recognize.strangers import Stranger
from facewatch.store.storage import Storage
from facewatch.tokens import sign_in_link
from tests.conftest import copy_bucket
from tests.street import FIRST_WALK, Collected, Walker, enroll_household, walk_by

SECRET = "console-test-link-secret-0123456789abcdef"
NEXT_DOOR_WALK = [Walker("kit-harington.jpeg", 0)]


@dataclass
class Site:
    url: str
    storage: Storage
    seed: Storage
    process: Process

    def link(
        self, household: str = "home", *, ttl: timedelta = timedelta(minutes=15), next_path: str = "/"
    ) -> str:
        token = sign_in_link(SECRET, household, now=datetime.now(UTC), ttl=ttl, next_path=next_path)
        return f"{self.url}signin?token={token}"

    def strangers(self, household: str = "home") -> list[Stranger]:
        return StrangerStore(self.storage).strangers(
            household, now=datetime.now(UTC), memory=timedelta(days=30)
        )

    def objects(self) -> dict[str, str]:
        """Every key of the console's bucket with its ETag: what "nothing changed" compares."""
        pages = self.storage.client.get_paginator("list_objects_v2").paginate(Bucket=self.storage.bucket)
        return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}

    def restore(self) -> None:
        seed = set(self.seed.list_keys(""))
        for key in list(self.storage.list_keys("")):
            if key not in seed:
                self.storage.delete(key)
        copy_bucket(self.seed, self.storage)

    def result(self, verdict_id: str) -> dict[str, Any]:
        from facewatch.layout import FrameKey

        return self.storage.get_json(FrameKey.from_verdict_id(verdict_id)[0].result_key)


def _bucket(client: Any, name: str) -> Storage:
    storage = Storage(client, name)
    storage.ensure_bucket()
    return storage


@pytest.fixture(scope="session")
def console_site(s3_endpoint: str, aws_env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    run = uuid.uuid4().hex[:8]
    seed = _bucket(client, f"fw-console-seed-{run}")
    enroll_household(seed)
    enroll_household(seed, "next-door")
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    walk_by(seed, Collected(), FIRST_WALK, an_hour_ago)
    walk_by(seed, Collected(), NEXT_DOOR_WALK, an_hour_ago, household="next-door", camera="gate")
    storage = _bucket(client, f"fw-console-{run}")
    port = free_port()
    env = {
        **os.environ,
        "FACEWATCH_S3_ENDPOINT_URL": s3_endpoint,
        "FACEWATCH_BUCKET": storage.bucket,
        "FACEWATCH_LINK_SECRET": SECRET,
        "FACEWATCH_CONSOLE_URL": f"http://127.0.0.1:{port}/",
        "PYTHONUNBUFFERED": "1",
    }
    process = function_process(
        "console", port, functions_dir(), env, Path(tmp_path_factory.mktemp("console"))
    )
    process.start()
    site = Site(process.url, storage, seed, process)
    site.restore()
    try:
        yield site
    finally:
        process.stop()


@pytest.fixture
def site(console_site: Site) -> Site:
    """The console, its household as the scene left it."""
    console_site.restore()
    return console_site
