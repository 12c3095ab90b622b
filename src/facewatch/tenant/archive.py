"""The zip a household is exported as. Each stored object sits at its key below the
household's prefix (`known/Ann/1.jpg`, `state/visits.json`, `frames/door/20260101/….jpg`),
except the verdicts, which are one JSON line each in `verdicts.jsonl`; `manifest.json`
lists every other file with its SHA-256, size, content type and user metadata (a frame's
boxes are in its metadata). A zip whose files do not match its manifest is refused whole.

    manifest.json   {"format": 1, "household": "...", "exported_at": "...",
                     "files": {"<name>": {"sha256", "bytes", "content_type", "metadata"}}}"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any

from facewatch.exceptions import BadInput, BadKey
from facewatch.layout import check_id

FORMAT = 1
MANIFEST = "manifest.json"
VERDICTS = "verdicts.jsonl"
MAX_FILE_BYTES = 256 << 20
"""The largest file an import takes (a frame or photo is a few MB, a busy year's
verdicts.jsonl some tens): a zip bomb's file is refused before a byte of it is inflated."""
MAX_RATIO = 200
"""How many times its stored size a file over a MiB may inflate to (photos are stored as
they are, JSON deflates some tenfold; deflate's own limit is about a thousand)."""
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    sha256: str
    size: int
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def check_name(name: str) -> str:
    """A file name of the zip: relative, no `..`, nothing a key may not hold."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or any(p in ("", ".", "..") for p in name.split("/")) or "\\" in name:
        raise BadInput(f"the zip holds a file named {name!r}: not one facewatch exported")
    return name


class Writer:
    """Files added one by one (never all in memory), the manifest last."""

    def __init__(self, out: IO[bytes], household: str, exported_at: str) -> None:
        self.zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED)
        self.household = household
        self.exported_at = exported_at
        self.entries: dict[str, Entry] = {}

    def add(
        self,
        name: str,
        body: bytes,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> None:
        check_name(name)
        if name in self.entries or name == MANIFEST:
            raise BadInput(f"{name} twice in one export")
        self.entries[name] = Entry(name, digest(body), len(body), content_type, dict(metadata or {}))
        # Images are compressed already: stored as they are.
        self.zip.writestr(
            name,
            body,
            compress_type=zipfile.ZIP_STORED if content_type.startswith("image/") else zipfile.ZIP_DEFLATED,
        )

    def close(self) -> dict[str, Any]:
        manifest = {
            "format": FORMAT,
            "household": self.household,
            "exported_at": self.exported_at,
            "files": {
                e.name: {
                    "sha256": e.sha256,
                    "bytes": e.size,
                    "content_type": e.content_type,
                    "metadata": e.metadata,
                }
                for e in self.entries.values()
            },
        }
        self.zip.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        self.zip.close()
        return manifest


@dataclass(frozen=True, slots=True)
class Archive:
    """An export, read and checked: every file its manifest lists is there with that
    checksum, and nothing else is."""

    household: str
    exported_at: str
    entries: dict[str, Entry]
    zip: zipfile.ZipFile

    def read(self, name: str) -> bytes:
        return _inflate(self.zip, self.zip.getinfo(name))

    def names(self, prefix: str = "") -> Iterator[str]:
        return (n for n in sorted(self.entries) if n.startswith(prefix))


def open_archive(source: IO[bytes] | str) -> Archive:
    try:
        archive = zipfile.ZipFile(source)
        info = archive.getinfo(MANIFEST)
        problem = _unsafe(info, Entry(MANIFEST, "", info.file_size))
        if problem is not None:
            raise BadInput(f"{MANIFEST}: {problem}")
        manifest = json.loads(_inflate(archive, info))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise BadInput(f"not a facewatch household export: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadInput(f"not a facewatch household export of format {FORMAT}")
    try:
        household = check_id(str(manifest.get("household")), "household")
    except BadKey as exc:
        raise BadInput(f"the export's manifest names no household: {exc}") from None
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BadInput("the export's manifest lists no files")
    entries: dict[str, Entry] = {}
    for name, info in files.items():
        check_name(name)
        try:
            entries[name] = Entry(
                name,
                str(info["sha256"]),
                int(info["bytes"]),
                str(info.get("content_type") or "application/octet-stream"),
                {str(k): str(v) for k, v in (info.get("metadata") or {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BadInput(
                f"the export's manifest says nothing readable of {name}: nothing imported"
            ) from None
    names = archive.namelist()
    present = set(names) - {MANIFEST}
    problems = [f"{n}: missing" for n in sorted(set(entries) - present)]
    problems += [f"{n}: not in the manifest" for n in sorted(present - set(entries))]
    problems += [
        f"{n}: more than once in the zip" for n, times in sorted(Counter(names).items()) if times > 1
    ]
    for name in sorted(present & set(entries)):
        info = archive.getinfo(name)
        problem = _unsafe(info, entries[name]) or _unsendable(entries[name])
        if problem is None and digest(_inflate(archive, info)) != entries[name].sha256:
            problem = "checksum does not match"
        if problem is not None:
            problems.append(f"{name}: {problem}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise BadInput(f"the export does not match its manifest, nothing imported: {shown}")
    return Archive(household, str(manifest.get("exported_at") or ""), entries, archive)


def _unsafe(info: zipfile.ZipInfo, entry: Entry) -> str | None:
    """Why a file is not read at all: what its zip header and the manifest say of its size,
    its compression and encryption, before anything is inflated."""
    if info.flag_bits & 0x1:
        return "encrypted (an export never is)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link (an export never holds one)"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return "compressed in a way an export never is"
    if info.file_size != entry.size:
        return f"{info.file_size} bytes, the manifest says {entry.size}"
    if info.file_size > MAX_FILE_BYTES:
        return f"{info.file_size} bytes, over the limit of {MAX_FILE_BYTES}"
    if info.file_size > _CHUNK and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return f"inflates {info.file_size // max(info.compress_size, 1)} times (a zip bomb?)"
    return None


_METADATA_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_HEADER_TEXT = re.compile(r"[ -~]*")
METADATA_BYTES = 2048
"""S3's limit on an object's user metadata, names and values together."""


def _unsendable(entry: Entry) -> str | None:
    """Why S3 (or the HTTP client before it) would refuse the file's content type or
    metadata, which travel as HTTP headers: found before anything is written, not by the
    put that would stop the import half-way (and never a header of the zip's making)."""
    if (
        not entry.content_type
        or len(entry.content_type) > 200
        or not _HEADER_TEXT.fullmatch(entry.content_type)
    ):
        return f"content type {entry.content_type[:60]!r} is not one an export writes"
    for key, value in entry.metadata.items():
        if not _METADATA_NAME.fullmatch(key) or not _HEADER_TEXT.fullmatch(value):
            return f"metadata {key[:60]!r} is not metadata an export writes"
    if sum(len(k) + len(v) for k, v in entry.metadata.items()) > METADATA_BYTES:
        return f"metadata over S3's {METADATA_BYTES} bytes"
    return None


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The file, inflated a MiB at a time and never past the size its header says (zipfile's
    own read() would inflate what follows in one go, up to 2 GiB); BadInput for a file
    whose data does not match its header."""
    parts: list[bytes] = []
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                parts.append(chunk)
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:
        raise BadInput(f"{info.filename}: damaged in the zip ({exc}): nothing imported") from None
    return b"".join(parts)
