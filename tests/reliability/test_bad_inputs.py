"""Hostile and broken input, hand-made and generated, against every way in: the detect
endpoint, the recognize endpoint and its event parser (all trigger shapes), the enroll
path and the CLI. Each gets a 4xx or a clear error, the process stays up, and nothing
already stored changes."""

from __future__ import annotations

import io
import json
import struct
import zlib
from urllib.parse import quote_plus

import cv2
import numpy as np
import pytest
import requests
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facewatch.exceptions import BadEvent, BadInput
from facewatch.recognize.known import enroll
from facewatch.recognize.triggers import parse_event
from tests.conftest import EVENTS, TESTDATA, s3_event
from tests.reliability.conftest import scale

pytestmark = pytest.mark.integration
TOKEN = "reliability-token-0123456789abcdef"
PHOTO = (TESTDATA / "faces" / "obama3.jpg").read_bytes()


def png(array: np.ndarray) -> bytes:
    return cv2.imencode(".png", array)[1].tobytes()


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 99))
        + chunk(b"IEND", b"")
    )


def bomb() -> bytes:
    """A real PNG of 30000x30000 black pixels that compresses to ~1 MB."""
    raw = zlib.compress(b"".join(b"\0" + b"\0" * 30000 for _ in range(30000)), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def cmyk_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("CMYK", (64, 48), (10, 20, 30, 0)).save(buf, "JPEG")
    return buf.getvalue()


# (body, params, expected status class) — 2 means "accepted", 4 "refused with a 4xx"
DETECT_CORPUS: list[tuple[str, bytes, dict[str, str], int]] = [
    ("empty", b"", {}, 4),
    ("text named .jpg", b"GIF? no: a text file named frame.jpg\n", {}, 4),
    ("html", b"<html><body>hi</body></html>", {}, 4),
    ("jpeg magic only", b"\xff\xd8\xff", {}, 4),
    ("png magic only", b"\x89PNG\r\n\x1a\n", {}, 4),
    ("wrong magic", b"\x00\x01\x02\x03" + PHOTO[4:], {}, 4),
    ("jpeg cut in header", PHOTO[:300], {}, 4),
    ("jpeg cut in data", PHOTO[: len(PHOTO) // 2], {}, 4),
    ("jpeg cut before end", PHOTO[:-2], {}, 4),
    ("png cut", png(np.zeros((64, 64, 3), np.uint8))[:-20], {}, 4),
    ("20000x20000 header", png_claiming(20000, 20000), {}, 4),
    ("2^31 wide header", png_claiming(2**31 - 1, 1), {}, 4),
    ("zero-size header", png_claiming(0, 0), {}, 4),
    ("decompression bomb", bomb(), {}, 4),
    ("gif", (lambda b: (Image.new("RGB", (8, 8)).save(b, "GIF"), b.getvalue())[1])(io.BytesIO()), {}, 4),
    ("bmp", cv2.imencode(".bmp", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), {}, 4),
    ("greyscale png", png(np.full((120, 160), 90, np.uint8)), {}, 2),
    ("16-bit png", png(np.full((120, 160, 3), 30000, np.uint16)), {}, 2),
    ("16-bit grey png", png(np.full((120, 160), 30000, np.uint16)), {}, 2),
    ("rgba png", png(np.full((120, 160, 4), 90, np.uint8)), {}, 2),
    ("cmyk jpeg", cmyk_jpeg(), {}, 2),
    ("1x1 png", png(np.zeros((1, 1, 3), np.uint8)), {}, 2),
    ("real photo", PHOTO, {}, 2),
    ("household traversal", PHOTO, {"household": "../other"}, 4),
    ("household absolute", PHOTO, {"household": "/etc"}, 4),
    ("household unicode", PHOTO, {"household": "hôme"}, 4),
    ("household upper", PHOTO, {"household": "HOME"}, 4),
    ("household empty", PHOTO, {"household": ""}, 4),
    ("camera slash", PHOTO, {"camera": "a/b"}, 4),
    ("camera dots", PHOTO, {"camera": ".."}, 4),
    ("camera long", PHOTO, {"camera": "c" * 200}, 4),
    ("bad captured_at", PHOTO, {"captured_at": "yesterday"}, 4),
]


def snapshot(storage) -> dict[str, str]:
    return {k: storage.etag(k) for k in storage.list_keys("households/")}


def post_detect(url: str, body: bytes, params: dict[str, str]) -> requests.Response:
    query = {"household": "home", "camera": "door", **params}
    return requests.post(
        url, params=query, data=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )


def check(response: requests.Response, expected: int, figures, proc) -> None:
    figures["bad_inputs_tried"] += 1
    crashed = response.status_code >= 500 or proc.poll() is not None
    figures["bad_inputs_crashed"] += crashed
    assert not crashed, response.text
    assert response.status_code // 100 == expected, (response.status_code, response.text)
    if expected == 4:
        assert response.json()["message"]


def test_detect_corpus(start_function, storage, figures):
    detect = start_function(
        "detect",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_DETECT_TOKEN=TOKEN,
        FACEWATCH_DETECT_TOKEN_SCOPE="deployment",
        FACEWATCH_MAX_UPLOAD_BYTES=str(4 * 1024 * 1024),
    )
    before = snapshot(storage)
    for name, body, params, expected in [
        *DETECT_CORPUS,
        ("oversize body", b"\xff\xd8" + b"\0" * (5 * 1024 * 1024), {}, 4),
    ]:
        response = post_detect(detect.url, body, params)
        check(response, expected, figures, detect.proc)
        assert name and (expected == 2 or response.status_code in (400, 413)), name
    after = snapshot(storage)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing stored was changed
    assert "detect: 400" in detect.log_path.read_text()  # each refusal is logged


@settings(max_examples=scale(60, 150), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_detect_generated(detect_process, figures, data):
    url, proc = detect_process
    kind = data.draw(st.sampled_from(["random", "mutated", "truncated"]))
    if kind == "random":
        body = data.draw(st.binary(max_size=4096))
    elif kind == "truncated":
        body = PHOTO[: data.draw(st.integers(0, len(PHOTO) - 1))]
    else:
        body = bytearray(PHOTO[:40000] + PHOTO[-2:])
        for _ in range(data.draw(st.integers(1, 8))):
            body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
        body = bytes(body)
    response = post_detect(url, body, {})
    figures["bad_inputs_tried"] += 1
    crashed = response.status_code >= 500 or proc.poll() is not None
    figures["bad_inputs_crashed"] += crashed
    assert not crashed, response.text
    assert response.status_code in (200, 201, 400, 413)


@pytest.fixture(scope="module")
def detect_process(tmp_path_factory, s3_endpoint):
    import os
    import sys

    import boto3

    from facewatch.local.processes import LOCAL_CREDENTIALS, Process, free_port, functions_dir

    os.environ.update({k: os.environ.get(k, v) for k, v in LOCAL_CREDENTIALS.items()})
    bucket = "fw-reliability-detect"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    port = free_port()
    process = Process(
        "detect",
        [
            str(__import__("pathlib").Path(sys.executable).with_name("functions-framework")),
            "--target=detect",
            f"--source={functions_dir() / 'detect' / 'main.py'}",
            "--signature-type=http",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        {
            **os.environ,
            "FACEWATCH_S3_ENDPOINT_URL": s3_endpoint,
            "FACEWATCH_BUCKET": bucket,
            "FACEWATCH_DETECT_TOKEN": TOKEN,
            "FACEWATCH_DETECT_TOKEN_SCOPE": "deployment",
        },
        tmp_path_factory.mktemp("detect") / "detect.log",
        f"http://127.0.0.1:{port}/",
    )
    process.start()
    yield process.url, process.proc
    process.stop()


# --- the recognize event parser, in process and over HTTP ---------------------------------

REAL_EVENTS = sorted(EVENTS.glob("*.json"))
KEY = "households/home/frames/door/20261125/140312000005-abcdef123456.jpg"


def event_corpus(bucket: str) -> list[tuple[str, bytes]]:
    good = s3_event(bucket, KEY)

    def with_key(raw: str) -> bytes:
        e = json.loads(json.dumps(good))
        e["Records"][0]["s3"]["object"]["key"] = raw
        return json.dumps(e).encode()

    cases = [
        ("empty", b""),
        ("not json", b"{nope"),
        ("json list", b"[]"),
        ("json string", b'"x"'),
        ("null", b"null"),
        ("number", b"42"),
        ("no records", b"{}"),
        ("records not list", b'{"Records": {}}'),
        ("record not object", b'{"Records": [1]}'),
        ("unknown source", b'{"Records": [{"eventSource": "x"}]}'),
        ("missing s3", b'{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}'),
        ("key number", with_key(7)),
        ("key empty", with_key("")),
        ("key absolute", with_key("/etc/passwd")),
        ("key dotdot", with_key("households/home/../../etc/passwd")),
        ("key dotdot encoded", with_key(quote_plus("households/home/frames/../x.jpg"))),
        ("key nul", with_key("households%00/x.jpg")),
        ("key unicode", with_key(quote_plus("households/hôme/frames/d/20261125/140312000005-abcdef12.jpg"))),
        ("key outside layout", with_key("elsewhere/x.jpg")),
        ("minio without records", b'{"EventName": "s3:ObjectCreated:Put", "Key": "b/k"}'),
        (
            "cloudevent wrong type",
            json.dumps(
                {"specversion": "1.0", "type": "com.example.x", "source": "s", "id": "1", "data": {}}
            ).encode(),
        ),
        (
            "cloudevent no data",
            json.dumps(
                {
                    "specversion": "1.0",
                    "type": "google.cloud.storage.object.v1.finalized",
                    "source": "s",
                    "id": "1",
                }
            ).encode(),
        ),
        ("sqs body not json", json.dumps({"Records": [{"eventSource": "aws:sqs", "body": "{"}]}).encode()),
        ("sns message missing", json.dumps({"Records": [{"EventSource": "aws:sns", "Sns": {}}]}).encode()),
        ("deep nesting", b"[" * 5000 + b"]" * 5000),
        ("oversize", b'{"Records": [' + b" " * (2 * 1024 * 1024) + b"]}"),
        ("unknown bucket", json.dumps(s3_event("not-our-bucket", KEY)).encode()),
        ("missing object", json.dumps(good).encode()),
    ]
    return cases


@settings(max_examples=scale(120, 400), deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "Records",
                        "s3",
                        "bucket",
                        "object",
                        "key",
                        "name",
                        "eventName",
                        "eventSource",
                        "EventName",
                        "Key",
                        "specversion",
                        "type",
                        "data",
                        "body",
                        "Sns",
                        "Message",
                        "detail-type",
                        "source",
                        "detail",
                        "new_entry",
                        "old_entry",
                        "message",
                    ]
                )
                | st.text(max_size=8),
                children,
                max_size=6,
            )
        ),
        max_leaves=30,
    )
)
def test_event_parser_generated(figures, payload):
    figures["bad_inputs_tried"] += 1
    try:
        result = parse_event(payload)
        assert isinstance(result, list)
        result = parse_event(json.dumps(payload).encode())
        assert isinstance(result, list)
    except BadEvent:
        pass
    except Exception:
        figures["bad_inputs_crashed"] += 1
        raise


@pytest.mark.parametrize("path", REAL_EVENTS, ids=[p.stem for p in REAL_EVENTS])
def test_event_parser_mutated_real_payloads(figures, path):
    payload = json.loads(path.read_text())

    def mutations(value, trail=()):
        if isinstance(value, dict):
            for k, v in value.items():
                yield (*trail, k), None
                yield (*trail, k), [1, 2]
                yield from mutations(v, (*trail, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                yield from mutations(v, (*trail, i))

    for trail, replacement in list(mutations(payload))[:200]:
        mutated = json.loads(json.dumps(payload))
        target = mutated
        for step in trail[:-1]:
            target = target[step]
        target[trail[-1]] = replacement
        figures["bad_inputs_tried"] += 1
        try:
            parse_event(mutated)
        except BadEvent:
            pass
        except Exception:
            figures["bad_inputs_crashed"] += 1
            raise


def test_recognize_endpoint_corpus(start_function, storage, figures):
    recognize = start_function("recognize", FACEWATCH_BUCKET=storage.bucket, FACEWATCH_WEBHOOK_TOKEN=TOKEN)
    storage.put("households/home/known/x/keep.txt", b"already here")
    before = snapshot(storage)
    for name, body in event_corpus(storage.bucket):
        response = requests.post(
            recognize.url, data=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        )
        figures["bad_inputs_tried"] += 1
        crashed = response.status_code >= 500 or recognize.proc.poll() is not None
        figures["bad_inputs_crashed"] += crashed
        assert not crashed, (name, response.text)
        assert response.status_code in (200, 400, 404, 413), (name, response.status_code, response.text)
        if response.status_code != 200:
            assert response.json()["message"], name
    assert snapshot(storage) == before


# --- enroll and the CLI ---------------------------------------------------------------


def test_enroll_refuses_bad_photos_and_changes_nothing(storage, figures):
    enroll(storage, "home", "obama", [("ok.jpg", PHOTO)], 40_000_000)
    before = snapshot(storage)
    bad = [
        b"",
        b"text",
        PHOTO[:1000],
        PHOTO[:-100],
        png_claiming(20000, 20000),
        bomb(),
        (lambda b: (Image.new("RGB", (8, 8)).save(b, "GIF"), b.getvalue())[1])(io.BytesIO()),
    ]
    for body in bad:
        figures["bad_inputs_tried"] += 1
        with pytest.raises(BadInput):
            enroll(storage, "home", "obama", [("ok2.jpg", PHOTO), ("bad.jpg", body)], 40_000_000)
    for name in ["../x", "", "a/b", " x", "x" * 65]:
        figures["bad_inputs_tried"] += 1
        with pytest.raises(BadInput):
            enroll(storage, "home", name, [("ok.jpg", PHOTO)], 40_000_000)
    assert snapshot(storage) == before


def test_cli_bad_arguments_are_clear_errors(tmp_path, figures, monkeypatch, s3_endpoint, aws_env):
    from facewatch import config
    from facewatch.cli.main import main

    monkeypatch.setenv("FACEWATCH_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("FACEWATCH_BUCKET", "fw-no-such-bucket")
    config.get_settings.cache_clear()
    text = tmp_path / "frame.jpg"
    text.write_text("not an image")
    cases = [
        (["enroll", "--household", "../x", "--name", "a", str(text)], "invalid household"),
        (["enroll", "--household", "home", "--name", "a/b", str(text)], "invalid person name"),
        (["enroll", "--household", "home", "--name", "a", str(tmp_path / "missing.jpg")], "does not exist"),
        (
            ["enroll", "--household", "home", "--name", "a", str(text)],
            "does not exist",
        ),  # bucket missing first
        (["events", "--household", "home", "--since", "last tuesday"], ""),
        (["demo", "--known", str(tmp_path)], "holds no"),
        (["demo", "--video", str(tmp_path / "none.mp4")], "does not exist"),
        (["agent", "--source", "rtsp://127.0.0.1:9/none", "--household", "home", "--camera", "door"], ""),
        (["household", "--household", "UPPER"], "invalid household"),
        (["nonsense"], "No such command"),
    ]
    runner = CliRunner()
    for args, message in cases:
        figures["bad_inputs_tried"] += 1
        result = runner.invoke(main, args)
        assert result.exit_code != 0, args
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        figures["bad_inputs_crashed"] += crashed
        assert not crashed, (args, result.exception)
        assert message in result.output, (args, result.output)
    config.get_settings.cache_clear()
