"""The embedded local stack: the whole cloud tier on one machine, on free localhost ports.

    moto server (S3 + SQS) ──bucket notification──▶ SQS queue ──Dispatcher──▶ recognize
    recognize ──HTTP──▶ notify ──SMTP──▶ OutboxServer (.eml files)

The upload itself triggers recognition, as in the cloud: S3 publishes an event to SQS and
the dispatcher turns each message into the HTTP request a webhook-fed recognize gets.
A message is deleted only once recognize answered 2xx (or 4xx: it will never succeed),
so a failed or killed recognize sees the event again: at-least-once, like S3 → Lambda."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

from facewatch.config import Settings
from facewatch.layout import IMAGE_SUFFIXES, ROOT
from facewatch.local.processes import (
    FUNCTIONS,
    LOCAL_CREDENTIALS,
    Process,
    StackError,
    free_port,
    function_process,
    functions_dir,
    start_together,
)
from facewatch.store.storage import Storage

log = logging.getLogger(__name__)


class MotoServer:
    """moto in server mode: a real S3 (and SQS) endpoint over HTTP."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **LOCAL_CREDENTIALS}
        self.process = Process(
            "moto server",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env,
            workdir / "logs" / "moto.log",
            f"{self.endpoint}/moto-api/",
        )

    def start(self) -> MotoServer:
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()


@dataclass
class Dispatcher:
    """Turns each queued S3 event into a POST to recognize, deleting it only on success."""

    sqs: Any
    queue_url: str
    target_url: str
    token: str
    workers: int = 4
    """Events handled at once, as a cloud would run several invocations side by side."""
    delivered: int = 0
    dropped: int = 0
    failed: int = 0
    in_flight: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Dispatcher:
        self._thread = threading.Thread(target=self._run, name="facewatch-dispatcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    @property
    def busy(self) -> bool:
        return self.in_flight > 0

    def _run(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.workers, thread_name_prefix="facewatch-dispatch") as pool:
            self._poll(pool)

    def _poll(self, pool: Any) -> None:
        lock = threading.Lock()

        def handle(message: Mapping[str, Any]) -> None:
            try:
                self._dispatch(requests.Session(), message)
            finally:
                with lock:
                    self.in_flight -= 1

        while not self._stop.is_set():
            free = self.workers - self.in_flight
            if free <= 0:
                # Take no more than can be handled now: a message held past its visibility
                # timeout would be delivered a second time.
                self._stop.wait(0.02)
                continue
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=min(10, free), WaitTimeSeconds=1
                ).get("Messages", [])
            except Exception as exc:  # the S3/SQS server may be restarting: keep polling
                log.warning("dispatcher: queue unreachable: %s", type(exc).__name__)
                self._stop.wait(0.5)
                continue
            with lock:
                self.in_flight += len(messages)
            for message in messages:
                pool.submit(handle, message)

    def _dispatch(self, session: requests.Session, message: Mapping[str, Any]) -> None:
        try:
            response = session.post(
                self.target_url,
                data=message["Body"].encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
                timeout=120,
            )
            status = response.status_code
        except requests.RequestException as exc:
            log.warning(
                "dispatcher: recognize unreachable (%s); event will be redelivered", type(exc).__name__
            )
            self.failed += 1
            return
        if status < 300 or 400 <= status < 500:
            if status >= 400:
                log.error("dispatcher: recognize refused an event (%d): %s", status, response.text[:300])
                self.dropped += 1
            else:
                self.delivered += 1
            with contextlib.suppress(Exception):
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        else:
            log.warning("dispatcher: recognize failed (%d); event will be redelivered", status)
            self.failed += 1


class LocalStack:
    """Start everything, hand out clients, wait for the pipeline to go idle, stop it all."""

    def __init__(
        self,
        workdir: Path,
        outbox: Path,
        *,
        bucket: str = "facewatch",
        mail_to: str = "household@example.test",
        extra_env: Mapping[str, str] | None = None,
        redelivery_seconds: int = 5,
    ) -> None:
        self.workdir = workdir
        self.outbox = outbox
        self.bucket = bucket
        self.mail_to = mail_to
        self.extra_env = dict(extra_env or {})
        self.redelivery_seconds = redelivery_seconds
        self.webhook_token = os.urandom(16).hex()
        self.moto = MotoServer(workdir)
        self.functions: dict[str, Process] = {}
        self.outbox_server: Any = None
        self.dispatcher: Dispatcher | None = None
        self.queue_url = ""

    # --- clients ------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.moto.endpoint,
            region_name=LOCAL_CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    @property
    def settings(self) -> Settings:
        return Settings(s3_endpoint_url=self.moto.endpoint, bucket=self.bucket, region="us-east-1")

    def storage(self) -> Storage:
        return Storage(self.client("s3"), self.bucket)

    def url(self, function: str) -> str:
        url = self.functions[function].url
        if url is None:  # function_process gives every function one
            raise StackError(f"{function} has no URL")
        return url

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from facewatch.local.outbox import OutboxServer

        self.moto.start()
        self._configure_bucket()
        self.outbox_server = OutboxServer(self.outbox).start()
        ports = {name: free_port() for name in FUNCTIONS}
        env = {
            **os.environ,
            **LOCAL_CREDENTIALS,
            "FACEWATCH_S3_ENDPOINT_URL": self.moto.endpoint,
            "FACEWATCH_BUCKET": self.bucket,
            "FACEWATCH_REGION": "us-east-1",
            "FACEWATCH_NOTIFY_URL": f"http://127.0.0.1:{ports['notify']}/",
            "FACEWATCH_WEBHOOK_TOKEN": self.webhook_token,
            "FACEWATCH_NOTIFY_TOKEN": os.urandom(16).hex(),
            "FACEWATCH_LINK_SECRET": os.urandom(24).hex(),
            "FACEWATCH_FEEDBACK_URL": f"http://127.0.0.1:{ports['feedback']}/",
            "FACEWATCH_CONSOLE_URL": f"http://127.0.0.1:{ports['console']}/",
            "FACEWATCH_ALERT_CHANNEL": "smtp",
            "FACEWATCH_SMTP_HOST": "127.0.0.1",
            "FACEWATCH_SMTP_PORT": str(self.outbox_server.port),
            "FACEWATCH_SMTP_SECURITY": "none",
            "FACEWATCH_MAIL_TO": self.mail_to,
            "FACEWATCH_MAIL_FROM": "facewatch@localhost",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        self.link_secret = env["FACEWATCH_LINK_SECRET"]
        source_dir = functions_dir()
        for name in FUNCTIONS:
            self.functions[name] = function_process(name, ports[name], source_dir, env, self.workdir / "logs")
        start_together(self.functions.values())
        self.dispatcher = Dispatcher(
            self.client("sqs"), self.queue_url, self.url("recognize"), self.webhook_token
        ).start()

    def _configure_bucket(self) -> None:
        s3, sqs = self.client("s3"), self.client("sqs")
        s3.create_bucket(Bucket=self.bucket)
        self.queue_url = sqs.create_queue(
            QueueName=f"{self.bucket}-events",
            Attributes={"VisibilityTimeout": str(self.redelivery_seconds)},
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        configs = [
            {
                "Id": f"facewatch-{suffix.lstrip('.')}",
                "QueueArn": arn,
                "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                "Filter": {
                    "Key": {
                        "FilterRules": [
                            {"Name": "prefix", "Value": f"{ROOT}/"},
                            {"Name": "suffix", "Value": suffix},
                        ]
                    }
                },
            }
            for suffix in IMAGE_SUFFIXES
        ]
        s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"QueueConfigurations": configs}
        )
        # S3 announces a new configuration with a test event; nothing to judge in it.
        sqs.purge_queue(QueueUrl=self.queue_url)

    def pending_events(self) -> int:
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def wait_idle(self, timeout: float = 600.0, settle: float = 1.0) -> None:
        """Until no event is queued or being handled, twice in a row `settle` apart."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            idle = self.pending_events() == 0 and not (self.dispatcher and self.dispatcher.busy)
            if idle:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return
            else:
                quiet_since = None
            time.sleep(0.2)
        raise StackError(f"pipeline still busy after {timeout:.0f}s ({self.pending_events()} events pending)")

    def stop(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()
        for process in self.functions.values():
            process.stop()
        if self.outbox_server is not None:
            self.outbox_server.stop()
        self.moto.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
