"""A console to test against: a real console process (functions-framework, over HTTP) on a
real S3 server, serving a household that saw a street scene through recognize's real code.

The scene is judged once per run into a seed bucket; `site.restore()` puts the console's
bucket back to exactly that state (every test starts from the same household, whatever the
one before it named, merged or forgot), at the cost of copying a few hundred small objects.

Household "home" knows Obama and Biden and remembers the three passers-by of FIRST_WALK as
strangers; household "next-door" knows the same two and saw Kit Harington at its gate
(another household's data, which a session of "home" must never reach).

Also the ways in that the console's tests share: signing in (over HTTP, or in a browser),
a form's CSRF token, and what a refusal looks like."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

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


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def sign_in(site: Site, household: str = "home") -> requests.Session:
    """A signed-in browser, without a browser: the POST the sign-in page's button makes."""
    http = requests.Session()
    reply = http.post(
        f"{site.url}signin", data={"token": token_of(site.link(household))}, allow_redirects=False
    )
    assert reply.status_code == 303, reply.text
    return http


def signed_in(page: Any, site: Site, next_path: str = "/") -> Any:
    """Open a sign-in link in a browser page as a person would and press its button (a
    POST); opening it alone spends nothing (tests/reliability/test_attacks_console.py)."""
    page.set_default_timeout(90_000)  # naming someone looks again at a week of faces
    page.goto(site.link(next_path=next_path))
    page.click("#signin button")
    page.wait_for_url(
        re.compile(
            r"/(visits|visit|person|unsure|faces|face|strangers|stranger|people|check|cameras|settings)\b"
        )
    )
    return page


def csrf(http: requests.Session, site: Site, path: str = "faces") -> str:
    """The CSRF token of the form on a console page."""
    page = http.get(f"{site.url}{path}").text
    marker = 'name="csrf" value="'
    return page[page.index(marker) + len(marker) :].split('"', 1)[0]


def refused(reply: requests.Response, status: int, words: str) -> None:
    """A refusal as the console gives them: the status, a page for people, and why."""
    assert reply.status_code == status, (reply.status_code, reply.text[:500])
    assert reply.headers["Content-Type"].startswith("text/html")
    assert words in reply.text
