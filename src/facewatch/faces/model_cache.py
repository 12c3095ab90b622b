"""A cache of model files as numpy arrays, so that a new process maps them in milliseconds
instead of parsing dlib's files (the 68-point landmark model: ~0.5 s in dlib, 100 MB; the
encoder: ~0.06 s). Each entry is built from the installed face_recognition_models file by a
parser of that file (`landmarks.parse`, `facenet`'s reader), keyed by the file's SHA-256.

Layout, under `cache_dir()`:

    <kind>.v<FORMAT>.json             the index: the source's SHA-256, size and mtime
    <kind>-<sha256[:16]>.v<FORMAT>/   small.npz (the small arrays), <name>.npy (the big
                                      ones, memory-mapped), source.json

A new process reads the index and compares the source file's size and modification time
with it (a stat, no hashing: hashing 100 MB costs 0.08-0.16 s); if they differ, the entry
is rebuilt (or, when the source's hash is unchanged, only the index is rewritten).

The cache is built on first use, once per machine (~3 s for the landmarks), unless
FACEWATCH_MODEL_CACHE_BUILD=0; `python -m facewatch.faces.models build` builds it
ahead, for a container image (at image build time, with FACEWATCH_MODEL_CACHE set to a
directory inside the image, the same at run time). Where it is neither found nor can be
built, callers load dlib's file as before: same results, slower."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np

FORMAT = 1
"""Of the files written here; a new format builds new entries."""

log = logging.getLogger(__name__)
_LOCK = threading.Lock()


def cache_dir() -> Path:
    """FACEWATCH_MODEL_CACHE, else $XDG_CACHE_HOME/facewatch/models, else
    ~/.cache/facewatch/models."""
    explicit = os.environ.get("FACEWATCH_MODEL_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "facewatch" / "models"


def building_allowed() -> bool:
    return os.environ.get("FACEWATCH_MODEL_CACHE_BUILD", "1") != "0"


def _stamp(source: Path) -> dict[str, object]:
    st = source.stat()
    return {"name": source.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _index(cache: Path, kind: str) -> Path:
    return cache / f"{kind}.v{FORMAT}.json"


def _folder(cache: Path, kind: str, digest: str) -> Path:
    return cache / f"{kind}-{digest[:16]}.v{FORMAT}"


def find(source: Path, kind: str, cache: Path) -> Path | None:
    """The entry built from this source file, if its index's stamp matches the file's."""
    try:
        index = json.loads(_index(cache, kind).read_text())
        stamp = _stamp(source)
    except (OSError, ValueError):
        return None
    folder = _folder(cache, kind, str(index.get("sha256", "")))
    if index.get("stamp") != stamp or not (folder / "source.json").is_file():
        return None
    return folder


def build(
    source: Path,
    kind: str,
    cache: Path,
    parse: Callable[[bytes], dict[str, np.ndarray]],
    big: Collection[str] = (),
) -> Path:
    """Parse the source file and write its arrays under `cache`: a new folder renamed into
    place, then the index replaced, so a reader sees a whole entry or none."""
    raw = source.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    stamp = _stamp(source)
    folder = _folder(cache, kind, digest)
    if not (folder / "source.json").is_file():
        arrays = parse(raw)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=cache))
        try:
            for name in big:
                np.save(tmp / f"{name}.npy", arrays[name])
            small = {k: v for k, v in arrays.items() if k not in big}
            np.savez(tmp / "small.npz", **small)  # type: ignore[arg-type]
            meta = {"sha256": digest, "source": str(source), "format": FORMAT, "big": sorted(big)}
            (tmp / "source.json").write_text(json.dumps(meta))
            tmp.chmod(0o755)  # mkdtemp's 0700 would hide it from a function's other user
            tmp.rename(folder)
        except OSError:
            if not (folder / "source.json").is_file():  # not just another process first
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    index = _index(cache, kind)
    fd, tmp_index = tempfile.mkstemp(prefix=f".{kind}-", suffix=".json", dir=cache)
    with os.fdopen(fd, "w") as f:
        json.dump({"sha256": digest, "stamp": stamp}, f)
    os.chmod(tmp_index, 0o644)
    os.replace(tmp_index, index)
    return folder


def read(folder: Path) -> dict[str, np.ndarray]:
    """An entry's arrays; the big ones memory-mapped, read-only."""
    meta = json.loads((folder / "source.json").read_text())
    with np.load(folder / "small.npz") as small:
        arrays = {k: small[k] for k in small.files}
    for name in meta["big"]:
        arrays[name] = np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r"))
    return arrays


def arrays_for(
    source: Path,
    kind: str,
    parse: Callable[[bytes], dict[str, np.ndarray]],
    big: Collection[str] = (),
) -> dict[str, np.ndarray] | None:
    """The source file's arrays from the cache, built first if missing and allowed; None
    where the cache can be neither read nor built (the caller reads the file itself)."""
    cache = cache_dir()
    with _LOCK:
        folder = find(source, kind, cache)
        if folder is None and building_allowed():
            try:
                folder = build(source, kind, cache, parse, big)
            except (OSError, ValueError) as exc:
                log.warning("model cache %s not built in %s (%s): reading %s", kind, cache, exc, source.name)
        if folder is None:
            return None
        try:
            return read(folder)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("model cache %s unreadable (%s): reading %s", folder, exc, source.name)
            return None
