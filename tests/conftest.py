"""Shared fixtures. Real servers over HTTP, started once per session: a moto S3 server
(or the S3 server named by FACEWATCH_TEST_S3_ENDPOINT), functions-framework processes and
aiosmtpd live in the tests that need them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from facewatch.stack import LOCAL_CREDENTIALS, MotoServer
from facewatch.storage import Storage

REPO = Path(__file__).resolve().parents[1]
TESTDATA = REPO / "testdata"
EVENTS = Path(__file__).resolve().parent / "events"


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("FACEWATCH_TEST_S3_ENDPOINT")
    if given:
        yield given
        return
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in LOCAL_CREDENTIALS}
    os.environ.update({k: os.environ.get(f"FACEWATCH_TEST_{k}", v) for k, v in LOCAL_CREDENTIALS.items()})
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def s3_client(s3_endpoint: str, aws_env: None) -> object:
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def storage(s3_client: object) -> Storage:
    """A fresh bucket per test, so tests never see each other's objects."""
    store = Storage(s3_client, f"fw-test-{uuid.uuid4().hex[:12]}")
    store.ensure_bucket()
    return store


def read(path: Path) -> bytes:
    return path.read_bytes()


def make_video(photo: Path, out: Path, *, seconds: float = 3.0, fps: int = 10, width: int = 640) -> Path:
    """A short clip of a still photo drifting slowly, as a camera would see someone standing
    at the door."""
    image = cv2.imread(str(photo))
    scale = width / image.shape[1]
    image = cv2.resize(image, (width, int(image.shape[0] * scale) // 2 * 2))
    h, w = image.shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for i in range(int(seconds * fps)):
        shift = np.float32([[1, 0, (i % 7) - 3], [0, 1, 0]])
        writer.write(cv2.warpAffine(image, shift, (w, h), borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    return out
