"""`facewatch up backup` and `facewatch up restore`: the one-box install's data as one zip,
taken while `facewatch up` runs, and brought back into a new data folder.

    backup.json       {"format": 1, "created_at", "books": {key: etag}, "objects": {key:
                       {"sha256", "bytes", "content_type", "metadata"}}}
    secrets.json      DATA/secrets.json: the S3 keys, tokens and link secret, so links in
                      earlier emails and signed-in consoles keep working after a restore
    objects/<key>     every object of the bucket under households/

Consistent per household without stopping anything: its books (settings, the visits,
strangers and arrivals books, the known encodings and negatives) are read first and kept
at the version (ETag) read; then its frames; then their verdicts, waiting (up to
`settle` seconds) for the frames still being judged; then everything else, its alerts'
records last. So every frame, crop and alert a book names is in the backup, every
verdict's frame is, and each frame's alert record is there if it was sent: a frame the
restored stack's sweep judges again is then a duplicate of that alert, not a second one.
A frame uploaded after its household's frames were listed is not in the backup; nor is
the verdict on one."""

from __future__ import annotations

import json
import os
import stat
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facewatch.exceptions import BadInput, BadKey, ObjectMissing
from facewatch.layout import ROOT, FrameKey, household_prefix
from facewatch.local.processes import LOCAL_CREDENTIALS, StackError
from facewatch.local.seaweed import SeaweedServer
from facewatch.store.storage import Storage
from facewatch.tenant.archive import check_name, digest

FORMAT = 1
MANIFEST = "backup.json"
SECRETS = "secrets.json"
BOOKS = ("settings.json", "state/", "encodings.npz", "negatives.npz")
SETTLE_SECONDS = 60.0
"""How long a backup waits for the frames it holds to be judged (recognize's backlog)."""


def _rank(relative: str) -> int:
    """The copy order within a household (see the module)."""
    if relative.startswith(BOOKS):
        return 0
    for rank, start in enumerate(("frames/", "results/"), 1):
        if relative.startswith(start):
            return rank
    return 4 if relative.startswith("alerts/") else 3


@dataclass(frozen=True, slots=True)
class BackedUp:
    households: int
    objects: int
    bytes: int


def backup(
    storage: Storage,
    data: Path,
    out: Path,
    now: datetime | None = None,
    *,
    settle: float = SETTLE_SECONDS,
    pause: Callable[[float], None] = time.sleep,
) -> BackedUp:
    """Write the running stack's bucket and DATA/secrets.json into OUT (atomically)."""
    secrets = (data / SECRETS).read_bytes()
    temporary = out.with_name(f".{out.name}.{os.getpid()}")
    books: dict[str, str] = {}
    objects: dict[str, dict[str, Any]] = {}
    size = 0
    households = storage.list_households()
    with zipfile.ZipFile(_owner_only(temporary), "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(SECRETS, secrets)
        for household in households:
            prefix = household_prefix(household)
            first = [k for k in storage.list_keys(prefix) if _rank(k.removeprefix(prefix)) == 0]
            frames: set[str] = set()
            for rank in range(5):
                # Each group is listed when its turn comes: what was stored meanwhile (a
                # frame judged, an alert sent) is in, in its group's order.
                keys = first if rank == 0 else _listed(storage, prefix, rank)
                if rank == 2:
                    keys = _verdicts_of(storage, frames, keys, settle, pause)
                for key in keys:
                    try:
                        obj = storage.get(key)
                    except ObjectMissing:
                        continue  # removed since listed (a sign-out, a stranger forgotten)
                    if rank == 0:
                        books[key] = obj.etag
                    if rank == 1:
                        frames.add(key)
                    archive.writestr(f"objects/{key}", obj.body)
                    objects[key] = {
                        "sha256": digest(obj.body),
                        "bytes": len(obj.body),
                        "content_type": obj.content_type or "application/octet-stream",
                        "metadata": obj.metadata,
                    }
                    size += len(obj.body)
        manifest = {
            "format": FORMAT,
            "created_at": (now or datetime.now(UTC)).isoformat(),
            "books": books,
            "objects": objects,
        }
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(temporary, out)
    return BackedUp(len(households), len(objects), size)


def _verdicts_of(
    storage: Storage, frames: set[str], listed: list[str], settle: float, pause: Callable[[float], None]
) -> list[str]:
    """The verdicts on the frames backed up: those listed, and those of frames still being
    judged as they come (until `settle` seconds have passed); none of a frame not backed up."""
    wanted = {FrameKey.parse(k).result_key for k in frames if _is_frame(k)}
    found = [k for k in listed if k in wanted]
    missing = wanted - set(found)
    deadline = time.monotonic() + settle
    while missing and time.monotonic() < deadline:
        pause(0.5)
        came = {k for k in missing if storage.exists(k)}
        found += sorted(came)
        missing -= came
    return found


def _is_frame(key: str) -> bool:
    try:
        FrameKey.parse(key)
    except BadKey:
        return False
    return True


def _listed(storage: Storage, prefix: str, rank: int) -> list[str]:
    return sorted(k for k in storage.list_keys(prefix) if _rank(k.removeprefix(prefix)) == rank)


def _owner_only(path: Path) -> Path:
    """The backup holds every face and the secrets: made owner-only before anything is in it."""
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


@dataclass(frozen=True, slots=True)
class Restored:
    objects: int


def read_backup(path: Path) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    """The backup, checked: each object is there with its checksum (else BadInput)."""
    try:
        archive = zipfile.ZipFile(path)
        manifest = json.loads(archive.read(MANIFEST))
        archive.getinfo(SECRETS)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise BadInput(f"{path} is not a facewatch up backup: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadInput(f"{path} is not a facewatch up backup of format {FORMAT}")
    bad = []
    for key, info in manifest["objects"].items():
        check_name(key)
        if not key.startswith(f"{ROOT}/"):
            bad.append(f"{key}: not a household's")
            continue
        try:
            if digest(archive.read(f"objects/{key}")) != info["sha256"]:
                bad.append(f"{key}: checksum does not match")
        except KeyError:
            bad.append(f"{key}: missing")
    if bad:
        raise BadInput(f"{path} does not match its manifest, nothing restored: {'; '.join(bad[:5])}")
    return archive, manifest


def restore(
    source: Path,
    data: Path,
    bucket: str,
    *,
    say: Callable[[str], None] = lambda _: None,
    weed: Callable[[Path, dict[str, str]], SeaweedServer] | None = None,
) -> Restored:
    """Into a new data folder: secrets.json as it was, and the bucket, on a seaweedfs of its
    own started here for the copy. A folder that already holds a bucket or secrets is refused."""
    from facewatch.local.up.home import check_data_dir, s3_credentials

    archive, manifest = read_backup(source)
    if (data / SECRETS).exists() or (data / "seaweed").exists():
        raise BadInput(f"{data} already holds a facewatch up: restore into a new data folder")
    check_data_dir(data)
    secrets_body = archive.read(SECRETS)
    try:
        keys = {str(k): str(v) for k, v in json.loads(secrets_body).items()}
    except (ValueError, AttributeError) as exc:
        raise BadInput(f"{source}: its secrets.json is not the JSON object facewatch wrote ({exc})") from None
    path = data / SECRETS
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "wb") as out:
        out.write(secrets_body)
    credentials = (
        {**LOCAL_CREDENTIALS, **s3_credentials(keys)} if "s3_access_key" in keys else LOCAL_CREDENTIALS
    )
    server = (weed or _seaweed)(data / "seaweed", credentials)
    say(f"starting seaweedfs in {data / 'seaweed'} to restore {len(manifest['objects'])} object(s)")
    server.start()
    try:
        storage = Storage(server.client(), bucket)
        storage.ensure_bucket()
        for key, info in manifest["objects"].items():
            storage.put(
                key,
                archive.read(f"objects/{key}"),
                content_type=str(info.get("content_type") or "application/octet-stream"),
                metadata={str(k): str(v) for k, v in (info.get("metadata") or {}).items()},
            )
    except BaseException:
        server.stop()
        raise
    server.stop()
    return Restored(len(manifest["objects"]))


def _seaweed(workdir: Path, credentials: dict[str, str]) -> SeaweedServer:
    server = SeaweedServer(workdir, credentials=credentials)
    # As `facewatch up` keeps it (home.py): its logs beside the others.
    server.log_path = workdir.parent / "logs" / "weed.log"
    return server


def running_storage(data: Path, s3_port: int, bucket: str) -> Storage:
    """The bucket of the `facewatch up` running on DATA, with its own S3 keys."""
    import boto3

    from facewatch.local.up.home import load_secrets

    if not (data / SECRETS).exists():
        raise StackError(f"{data} holds no facewatch up (no secrets.json)")
    keys = load_secrets(data)
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_port}",
        region_name=LOCAL_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=keys["s3_access_key"],
        aws_secret_access_key=keys["s3_secret_key"],
    )
    return Storage(client, bucket)
