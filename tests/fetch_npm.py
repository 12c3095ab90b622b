"""Fetch one pinned package from the npm registry without npm: its tarball, checked against
the integrity (sha512) pinned by the caller, and the named members unpacked into a folder.
A tarball that does not match leaves nothing behind.

    python tests/fetch_npm.py axe-core 4.10.3 sha512-… build/axe-core package/axe.min.js"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"


def fetch(name: str, version: str, integrity: str, into: Path, members: list[str]) -> None:
    url = f"{REGISTRY}/{name}/-/{name.split('/')[-1]}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read()
    got = "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()
    if got != integrity:
        raise SystemExit(f"{name} {version}: integrity {got}, expected {integrity}")
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        for member in members:
            source = tar.extractfile(member)
            if source is None:
                raise SystemExit(f"{name} {version}: no {member} in the tarball")
            (into / Path(member).name).write_bytes(source.read())


if __name__ == "__main__":
    if len(sys.argv) < 6:
        raise SystemExit(__doc__)
    fetch(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]), sys.argv[5:])
