"""Issue 24's deployment findings, attacked as an attacker would: what the templates ship
(compose's published ports and default secrets, k8s's placeholders), secrets too weak to
start with, detect tokens carried from one household to another, ids with a trailing
newline, recipients that write headers or mail the world, a sign-in redirect a browser reads
as another site, and `facewatch up`'s data folder and its keys.

Every attack counts `attacks_tried`, and `attack_bypasses` when it got through (a zero goal).
Real processes wherever a function is attacked (functions-framework, the CLI, `facewatch up`,
minio-setup.sh under sh); a refused attack leaves nothing in the bucket and sends nothing."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from facewatch.config import Settings
from facewatch.layout import alert_claim_key, household_settings_key
from facewatch.local.processes import LOCAL_CREDENTIALS, StackError, free_port
from facewatch.local.seaweed import find_weed
from facewatch.tokens import household_detect_token, sign_in_link
from tests.conftest import NOTIFY_AUTH, REPO, TESTDATA, clip_frame, run_cli, s3_event
from tests.reliability.attacker import attacked
from tests.reliability.conftest import Frames

pytestmark = pytest.mark.integration

PHOTO = (TESTDATA / "faces" / "obama3.jpg").read_bytes()
DETECT_TOKEN = "attack-suite-detect-token-0123456789abcdef"
LINK_SECRET = "attack-suite-link-secret-0123456789abcdef"
COMPOSE = REPO / "infra" / "compose" / "compose.yaml"
K8S = REPO / "infra" / "k8s"
PUBLIC_SERVICES = {"console", "detect", "feedback"}
"""What people open (the console, the emails' feedback page) and what cameras post to."""
COMPOSE_SECRETS = (
    "FACEWATCH_LINK_SECRET",
    "FACEWATCH_WEBHOOK_TOKEN",
    "FACEWATCH_DETECT_TOKEN",
    "FACEWATCH_NOTIFY_TOKEN",
    "FACEWATCH_SECRET_KEY",
    "MINIO_ROOT_PASSWORD",
)
NEWLINE_IDS = ["door\n", "door\r\n", "door\nX-Forged: 1", "\ndoor"]


def keys_of(storage: object) -> list[str]:
    return sorted(storage.list_keys(""))  # type: ignore[attr-defined]


def facewatch(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`facewatch ARGS` with exactly ENV's FACEWATCH_* settings (none of the test run's)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FACEWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "facewatch.cli", *args],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- weak and template secrets, at start -----------------------------------------------------

# What an attacker who read the repository knows (compose's former defaults, k8s's former and
# current placeholders), and a secret short enough to guess at.
KNOWN_SECRETS = [
    ("console", "FACEWATCH_LINK_SECRET", "facewatch-link-dev-secret"),
    ("feedback", "FACEWATCH_LINK_SECRET", "REPLACE-ME-with-openssl-rand-hex-32"),
    ("notify", "FACEWATCH_LINK_SECRET", "change-me-link-secret"),
    ("recognize", "FACEWATCH_WEBHOOK_TOKEN", "facewatch-webhook-dev-token"),
    ("detect", "FACEWATCH_DETECT_TOKEN", "change-me-detect-token"),
    ("console", "FACEWATCH_LINK_SECRET", "0123456789abcdef0123456789abcde"),  # 31 bytes
]


@pytest.mark.parametrize(("function", "variable", "value"), KNOWN_SECRETS)
def test_a_function_refuses_to_start_with_a_known_or_short_secret(
    start_function, storage, tmp_path, figures, function, variable, value
):
    """Today compose starts every function with a secret printed in the repository, and
    anyone on the LAN signs a console session for `home` with it. Refused at start, naming
    the variable, never printing the value."""
    try:
        start_function(function, FACEWATCH_BUCKET=storage.bucket, **{variable: value})
        started = True
    except StackError:
        started = False
    assert not attacked(figures, started), f"{function} started with {variable}={value!r}"
    (log,) = tmp_path.glob(f"{function}-*.log")
    text = log.read_text()
    assert f"{variable}: " in text and "openssl rand -hex 32" in text, text[-2000:]
    assert value not in text, "the refusal printed the secret"
    assert keys_of(storage) == []


def test_the_cli_signs_no_console_link_with_a_known_secret(figures):
    """`facewatch console-link` with compose's former default would print a link that signs
    anyone into `home`'s console; every command refuses the secret before it does anything."""
    for value in ("facewatch-link-dev-secret", "REPLACE-ME-with-openssl-rand-hex-32", "s3cret"):
        done = facewatch(
            "console-link",
            "--household",
            "home",
            env={"FACEWATCH_LINK_SECRET": value, "FACEWATCH_CONSOLE_URL": "http://127.0.0.1:9/"},
        )
        assert not attacked(figures, done.returncode == 0 or "signin?token=" in done.stdout), done.stdout
        assert done.returncode == 2
        assert "error: FACEWATCH_LINK_SECRET: " in done.stderr and value not in done.stderr


# --- what the templates ship -------------------------------------------------------------------


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_publishes_only_what_people_open_and_cameras_post_to(figures):
    """Today MinIO (S3 and its admin console) is published on every interface; so would be
    anything added later. Only console, feedback and detect may be; another service's port
    may be published on the host's loopback only (the operator's Prometheus)."""
    for name, service in _compose()["services"].items():
        to_network = [p for p in service.get("ports") or [] if not _loopback_only(p)]
        published = bool(to_network) and name not in PUBLIC_SERVICES
        assert not attacked(figures, published), f"{name} publishes {to_network}"


def _loopback_only(port: str | dict[str, Any]) -> bool:
    """A compose port published on 127.0.0.1 or ::1 only (short or long syntax)."""
    if isinstance(port, dict):
        return str(port.get("host_ip", "")) in ("127.0.0.1", "::1")
    return str(port).startswith(("127.0.0.1:", "[::1]:"))


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err},
    ${VAR?err}: a ValueError where compose refuses to start."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        value = env.get(name)
        empty = value is None or (op.startswith(":") and value == "")
        if op.endswith("?") and empty:
            raise ValueError(f"required variable {name} is missing a value: {arg}")
        if op.endswith("-") and empty:
            return arg
        return value or ""

    return re.sub(r"\$\{(\w+)(:?[-?])?([^}]*)\}", one, text)


@pytest.mark.parametrize("secret", COMPOSE_SECRETS)
def test_compose_does_not_start_without_each_secret(figures, secret):
    """With an empty .env, today's compose starts with the repository's dev secrets."""
    env = {name: "x" * 64 for name in COMPOSE_SECRETS if name != secret}
    try:
        rendered = _interpolate(COMPOSE.read_text(), env)
    except ValueError as exc:
        assert secret in str(exc)
        rendered = None
    assert not attacked(figures, rendered is not None), f"compose starts without {secret}"


def test_no_known_secret_is_left_in_the_templates(figures):
    for path in (COMPOSE, K8S / "secrets.yaml", REPO / "infra" / "aws" / "template.yaml"):
        text = path.read_text()
        for known in ("facewatch-link-dev-secret", "dev-token", "minioadmin-dev-secret", "change-me-"):
            assert not attacked(figures, known in text), f"{path.name} still holds {known}"


def test_k8s_placeholders_start_nothing(figures, tmp_path):
    """Applied as shipped, today's k8s manifests run every function with `change-me-…`. Now
    each facewatch secret is refused by Settings, and minio-setup (the real script, under
    sh) creates no bucket user with the MinIO ones."""
    docs = [d for d in yaml.safe_load_all((K8S / "secrets.yaml").read_text()) if d]
    values = {k: v for d in docs for k, v in (d.get("stringData") or {}).items()}
    fields = {f"FACEWATCH_{name.upper()}": name for name in Settings.model_fields}
    for key, value in values.items():
        if key in fields:
            try:
                Settings(_env_file=None, **{fields[key]: value})
                accepted = True
            except ValueError:  # pydantic's ValidationError
                accepted = False
            assert not attacked(figures, accepted), f"Settings take {key}={value!r}"
    env = {
        "PATH": f"{tmp_path}:/usr/bin:/bin",  # no `mc`: a script that gets past the check hangs
        "MINIO_ROOT_USER": values["MINIO_ROOT_USER"],
        "MINIO_ROOT_PASSWORD": values["MINIO_ROOT_PASSWORD"],
        "AWS_ACCESS_KEY_ID": values["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": values["AWS_SECRET_ACCESS_KEY"],
    }
    try:
        done = subprocess.run(
            ["sh", str(K8S / "minio-setup.sh")], env=env, capture_output=True, text=True, timeout=10
        )
        refused = done.returncode != 0 and "refused" in done.stderr
    except subprocess.TimeoutExpired:
        refused = False  # waiting for MinIO: it would have gone on with the placeholders
    assert not attacked(figures, not refused)


def test_sam_refuses_a_short_detect_token_and_scopes_tokens_per_household(figures):
    from tests.infra.sam import decoded_template

    parameters = decoded_template()["Parameters"]
    pattern = parameters["DetectToken"].get("AllowedPattern")
    for short in ("t0ken", "0123456789abcdef0123456789abcde"):
        assert not attacked(figures, pattern is None or re.fullmatch(pattern, short) is not None)
    assert re.fullmatch(pattern, "") and re.fullmatch(pattern, "a" * 64)
    assert not attacked(figures, parameters["DetectTokenScope"]["Default"] != "household")


# --- detect's token scope ---------------------------------------------------------------------


def _post(url: str, token: str | None, household: str, camera: str = "door", **headers: str):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(
        url, params={"household": household, "camera": camera}, data=PHOTO, headers=headers, timeout=60
    )


def test_a_households_camera_token_files_nothing_under_another_household(start_function, storage, figures):
    """Today every camera holds the deployment's one token, and files frames into any
    household (which alerts that household, and fills its bucket)."""
    detect = start_function("detect", FACEWATCH_BUCKET=storage.bucket, FACEWATCH_DETECT_TOKEN=DETECT_TOKEN)
    home = household_detect_token(DETECT_TOKEN, "home")
    for token, household in (
        (DETECT_TOKEN, "shop"),  # what every camera held
        (DETECT_TOKEN, "home"),
        (home, "shop"),
        (home, "home-2"),
        (household_detect_token(DETECT_TOKEN, "shop")[:-2] + "AA", "shop"),
    ):
        response = _post(detect.url, token, household)
        assert not attacked(figures, response.status_code < 400), (household, response.status_code)
        assert response.status_code == 401
    assert keys_of(storage) == []
    assert _post(detect.url, home, "home").status_code == 201  # the camera's own household


def test_with_camera_scope_a_token_files_under_its_own_camera_only(start_function, storage, figures):
    detect = start_function(
        "detect",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_DETECT_TOKEN=DETECT_TOKEN,
        FACEWATCH_DETECT_TOKEN_SCOPE="camera",
    )
    door = household_detect_token(DETECT_TOKEN, "home", "door")
    for token, household, camera in (
        (door, "home", "porch"),
        (door, "shop", "door"),
        (household_detect_token(DETECT_TOKEN, "home"), "home", "door"),  # the household's
    ):
        response = _post(detect.url, token, household, camera)
        assert not attacked(figures, response.status_code < 400), (household, camera, response.status_code)
    assert keys_of(storage) == []
    assert _post(detect.url, door, "home", "door").status_code == 201
    derived = facewatch(
        "detect-token",
        "--household",
        "home",
        "--camera",
        "door",
        env={"FACEWATCH_DETECT_TOKEN": DETECT_TOKEN, "FACEWATCH_DETECT_TOKEN_SCOPE": "camera"},
    )
    assert derived.stdout.strip() == door
    without_camera = facewatch(
        "detect-token",
        "--household",
        "home",
        env={"FACEWATCH_DETECT_TOKEN": DETECT_TOKEN, "FACEWATCH_DETECT_TOKEN_SCOPE": "camera"},
    )
    assert without_camera.returncode == 2 and "--camera" in without_camera.stderr


# --- ids with a newline -------------------------------------------------------------------------


def test_an_id_with_a_newline_is_refused_by_detect(start_function, storage, figures):
    """`^…$` with re.match let "door\\n" through: keys, MQTT topics and log lines with a
    line break of the attacker's. detect takes ids as query parameters and as headers."""
    detect = start_function(
        "detect",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_DETECT_TOKEN=DETECT_TOKEN,
        FACEWATCH_DETECT_TOKEN_SCOPE="deployment",  # the id check alone, not the token's
    )
    for bad in NEWLINE_IDS:
        for household, camera in (("home", bad), (bad, "door")):
            response = _post(detect.url, DETECT_TOKEN, household, camera)
            assert not attacked(figures, response.status_code < 400), (household, camera)
            assert response.status_code == 400 and "invalid" in response.json()["message"]
    assert keys_of(storage) == []


def test_a_frame_key_with_a_newline_is_not_judged_by_recognize(start_function, storage, figures):
    """A storage event names the frame; a key whose camera is "door\\n" (an upload of
    whoever holds bucket credentials) must not be judged, nor results written beside it."""
    token = "attack-suite-webhook-token-0123456789abcdef"
    recognize = start_function("recognize", FACEWATCH_BUCKET=storage.bucket, FACEWATCH_WEBHOOK_TOKEN=token)
    for bad in ("door\n", "door\r\n"):
        # (moto cannot store such a key; S3 and MinIO can: the event is what recognize reads)
        key = f"households/home/{bad}/20261125/202611251200-0123abcd.jpg"
        response = requests.post(
            recognize.url,
            json=s3_event(storage.bucket, key),
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        assert response.status_code < 500, response.text
        (outcome,) = response.json()["outcomes"]
        refused = outcome["action"] == "ignored" and "not a frame key" in outcome["detail"]
        assert not attacked(figures, not refused), response.text
    assert keys_of(storage) == []


@pytest.mark.parametrize(
    "command",
    [
        ["events", "--household"],
        ["console-link", "--household"],
        ["detect-token", "--household"],
        ["household", "--mail-to", "a@example.test", "--household"],
        ["detect-token", "--household", "home", "--camera"],
    ],
)
def test_an_id_with_a_newline_is_refused_by_the_cli(storage, figures, command):
    env = {
        "FACEWATCH_LINK_SECRET": LINK_SECRET,
        "FACEWATCH_CONSOLE_URL": "http://127.0.0.1:9/",
        "FACEWATCH_DETECT_TOKEN": DETECT_TOKEN,
    }
    done = run_cli(storage, *command, "door\n", env=env)
    assert not attacked(figures, done.returncode == 0), done.stdout
    assert done.returncode == 2 and "invalid" in done.stderr
    assert keys_of(storage) == []


# --- recipients -----------------------------------------------------------------------------------

CRLF = "family@example.test\r\nBcc: everyone@evil.example"


@pytest.mark.parametrize(
    "mail_to",
    [
        CRLF,
        "family@example.test\nBcc: everyone@evil.example",
        "Family <family@example.test>",
        "not-an-address",
        ",".join(f"n{i}@example.test" for i in range(21)),  # the deployment as anyone's mailer
    ],
)
def test_a_household_cannot_save_recipients_that_are_not_a_few_plain_addresses(storage, figures, mail_to):
    done = run_cli(storage, "household", "--household", "home", "--mail-to", mail_to)
    assert not attacked(figures, done.returncode == 0), done.stdout
    assert done.returncode == 2 and "recipient" in done.stderr
    assert not storage.exists(household_settings_key("home"))


def _signed_in(console_url: str, household: str = "home", next_path: str = "/") -> requests.Response:
    """POST /signin as the console's own page does (same origin), without following the
    redirect."""
    token = sign_in_link(
        LINK_SECRET, household, now=datetime.now(UTC), ttl=timedelta(minutes=5), next_path=next_path
    )
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(console_url))
    return requests.post(
        console_url + "signin",
        data={"token": token},
        headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
        timeout=30,
    )


def test_the_console_refuses_crlf_recipients_and_off_site_redirects(start_function, storage, figures):
    console = start_function(
        "console",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_LINK_SECRET=LINK_SECRET,
        FACEWATCH_CONSOLE_URL="http://127.0.0.1/",
    )
    # Browsers drop tabs and line breaks from a URL and read "\" as "/": each of these is
    # "//evil.example" to them, another site, with a freshly signed-in browser.
    for next_path in (
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/ /evil.example",
        "/\x00/x",
    ):
        response = _signed_in(console.url, next_path=next_path)
        assert response.status_code in (302, 303), response.text
        location = response.headers["Location"]
        cleaned = re.sub(r"[\t\n\r\x00 ]", "", location)
        off_site = cleaned.startswith("//") or urlsplit(cleaned).netloc not in (
            "",
            urlsplit(console.url).netloc,
        )
        assert not attacked(figures, off_site or location != "/"), repr(location)
    signed = requests.Session()
    signed.cookies.update(_signed_in(console.url).cookies)
    page = signed.get(console.url + "settings", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf, page.text[:500]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(console.url))
    before = keys_of(storage)
    for mail_to in (CRLF, ", ".join(f"n{i}@example.test" for i in range(21))):
        response = signed.post(
            console.url + "settings",
            data={"csrf": csrf.group(1), "mail_to": mail_to, "channel_email": "on"},
            headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"},
            allow_redirects=False,
            timeout=30,
        )
        assert not attacked(figures, response.status_code < 400), response.status_code
    assert keys_of(storage) == before


def test_a_stored_crlf_recipient_is_not_mailed_and_leaves_no_claim(start_function, storage, outbox, figures):
    """Settings saved before recipients were checked: notify builds no email with the
    attacker's header, keeps the alert as a dead letter, and lets go of its claim (today the
    email's ValueError escapes and the claim blocks every redelivery)."""
    storage.put(
        household_settings_key("home"),
        json.dumps({"mail_to": [CRLF]}).encode(),
        content_type="application/json",
    )
    notify = start_function(
        "notify",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_SMTP_HOST="127.0.0.1",
        FACEWATCH_SMTP_PORT=str(outbox.port),
        FACEWATCH_MAIL_TO="deployment@example.test",
    )
    key = Frames(storage).upload(clip_frame(90), "home", "door", datetime.now(UTC))
    alert = {
        "alert_id": "crlf1",
        "household": "home",
        "camera": "door",
        "bucket": storage.bucket,
        "frame_key": key,
        "captured_at": datetime.now(UTC).isoformat(),
        "faces_in_frame": 1,
        "strangers": [{"box": {"x": 150, "y": 80, "w": 100, "h": 100}, "verdict": "stranger"}],
    }
    response = requests.post(notify.url, json=alert, headers=NOTIFY_AUTH, timeout=60)
    held = storage.exists(alert_claim_key("home", "crlf1", "email"))
    mailed = bool(outbox.messages)
    assert not attacked(figures, held or mailed or response.status_code >= 500), (response.status_code, held)
    assert response.status_code == 202, response.text
    assert storage.exists("households/home/alerts/dead/crlf1.json")


# --- facewatch up: its data folder and keys --------------------------------------------------------


def _up_config(path: Path, ports: dict[str, int]) -> Path:
    door = f'[web]\nlisten = "127.0.0.1:{free_port()}"\n'
    path.write_text("[ports]\n" + "".join(f"{name} = {port}\n" for name, port in ports.items()) + door)
    return path


PORT_NAMES = ("s3", "detect", "recognize", "notify", "feedback", "console")


def _up_until_preflight(data: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`facewatch up` with its S3 port taken: it stops at the preflight, after the data
    folder and its keys are checked (so no stack is left running, on old code either)."""
    ports = {name: free_port() for name in PORT_NAMES}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports["s3"]))
        busy.listen()
        return facewatch(
            "up", "--data", str(data), "--config", str(_up_config(tmp_path / "up.toml", ports)), env={}
        )


needs_weed = pytest.mark.skipif(find_weed() is None, reason="the seaweedfs `weed` binary was not found")


@needs_weed
def test_up_refuses_a_secrets_file_others_can_read(tmp_path, figures):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    secrets_json = data / "secrets.json"
    for mode in (0o644, 0o640, 0o604, 0o660):
        secrets_json.write_text(json.dumps({"webhook_token": "t" * 32, "link_secret": "s" * 48}))
        secrets_json.chmod(mode)
        done = _up_until_preflight(data, tmp_path)
        refused = done.returncode == 3 and str(secrets_json) in done.stderr and "chmod 600" in done.stderr
        assert not attacked(figures, not refused), done.stderr
        assert "s" * 48 not in done.stderr + done.stdout


@needs_weed
def test_up_makes_its_data_folder_owner_only_with_keys_of_its_own(tmp_path, figures):
    fresh, older = tmp_path / "fresh", tmp_path / "older"
    older.mkdir(mode=0o755)
    older.chmod(0o755)  # as an earlier facewatch up left it, whatever the umask
    keys = []
    for data in (fresh, older):
        _up_until_preflight(data, tmp_path)
        assert not attacked(figures, stat.S_IMODE(data.stat().st_mode) != 0o700), oct(data.stat().st_mode)
        secrets_json = data / "secrets.json"
        assert not attacked(figures, stat.S_IMODE(secrets_json.stat().st_mode) != 0o600)
        keys.append(json.loads(secrets_json.read_text()))
    fixed = [k for k in keys if k.get("s3_secret_key") in (None, LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])]
    assert not attacked(figures, bool(fixed))
    assert not attacked(figures, keys[0]["s3_secret_key"] == keys[1]["s3_secret_key"])


@needs_weed
def test_ups_s3_does_not_take_the_credentials_in_the_source(tmp_path, figures):
    """Today every `facewatch up` serves the bucket (every face) to facewatch-local /
    facewatch-local-secret, printed in local/stack.py; any local process can read it."""
    import boto3
    from botocore.exceptions import ClientError

    ports = {name: free_port() for name in PORT_NAMES}
    config = _up_config(tmp_path / "up.toml", ports)
    log = (tmp_path / "up.log").open("ab")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FACEWATCH_", "AWS_"))}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "facewatch.cli", "up", "--data", str(tmp_path / "data")),
            *("--config", str(config), "--outbox", str(tmp_path / "outbox")),
        ],
        env=base,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", (tmp_path / "up.log").read_text()[-3000:]
        export = proc.stdout.readline().strip().removeprefix("export ")
        exports = dict(item.split("=", 1) for item in shlex.split(export))
        endpoint = f"http://127.0.0.1:{ports['s3']}"

        def client(key_id: str, secret: str) -> object:
            return boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
            )

        source = client(LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"], LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        try:
            source.list_objects_v2(Bucket="facewatch")  # type: ignore[attr-defined]
            read = True
        except ClientError:
            read = False
        assert not attacked(figures, read)
        own = client(exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"])
        own.list_objects_v2(Bucket="facewatch")  # type: ignore[attr-defined]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
