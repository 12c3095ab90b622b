"""The only module that talks to object storage. Any S3-compatible server works (AWS S3,
MinIO, seaweedfs, moto); botocore's errors become facewatch's StorageError tree here so no
caller ever sees a botocore exception."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from facewatch.config import Settings
from facewatch.exceptions import BucketMissing, ObjectMissing, StorageError, WriteConflict
from facewatch.layout import ROOT

T = TypeVar("T")

_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}
_MISSING_BUCKET = {"NoSuchBucket"}


def make_s3_client(settings: Settings, *, retries: int = 3, timeout: float = 10.0) -> Any:
    """A boto3 S3 client for the configured endpoint. Credentials come from the usual AWS
    chain (environment, profile, instance role), never from facewatch's own settings."""
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.region,
        config=Config(
            s3={"addressing_style": settings.s3_addressing_style},
            retries={"max_attempts": retries, "mode": "standard"},
            connect_timeout=timeout,
            read_timeout=timeout,
            signature_version="s3v4",
        ),
    )


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    body: bytes
    etag: str
    metadata: dict[str, str]
    version_id: str | None = None
    content_type: str | None = None


def encode_json(value: Any, *, compact: bool = False) -> bytes:
    """How facewatch writes JSON objects: stable key order, readable, dates as text;
    `compact` for the state books rewritten on every frame, read by nobody but facewatch."""
    if compact:
        return json.dumps(value, sort_keys=True, default=str, separators=(",", ":")).encode()
    return json.dumps(value, indent=1, sort_keys=True, default=str).encode()


def _strip_etag(etag: str | None) -> str:
    return (etag or "").strip('"')


class Storage:
    """One bucket. The client is passed in (created once per process by the caller)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> Storage:
        return cls(make_s3_client(settings), settings.bucket)

    def _fail(self, exc: Exception, key: str | None = None) -> StorageError:
        where = f"s3://{self.bucket}/{key}" if key else f"bucket {self.bucket!r}"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING_BUCKET:
                return BucketMissing(f"bucket {self.bucket!r} does not exist")
            if code in _MISSING_KEY:
                return ObjectMissing(f"{where} does not exist")
            return StorageError(
                f"{where}: {code or 'error'}: {exc.response.get('Error', {}).get('Message', '')}"
            )
        return StorageError(f"{where}: storage unreachable: {type(exc).__name__}: {exc}")

    # --- bucket ---------------------------------------------------------------------
    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) not in {
                "404",
                "NoSuchBucket",
                "NotFound",
            }:
                raise self._fail(exc) from exc
            try:
                self.client.create_bucket(Bucket=self.bucket)
            except (ClientError, BotoCoreError) as exc2:
                raise self._fail(exc2) from exc2
        except BotoCoreError as exc:
            raise self._fail(exc) from exc

    def check_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in {
                "404",
                "NoSuchBucket",
                "NotFound",
            }:
                raise BucketMissing(f"bucket {self.bucket!r} does not exist") from exc
            raise self._fail(exc) from exc
        except BotoCoreError as exc:
            raise self._fail(exc) from exc

    # --- objects --------------------------------------------------------------------
    def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
        if_none_match: bool = False,
        if_match: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Store an object and return its ETag. Conditional writes (S3, MinIO, moto): with
        if_none_match only if the key is new, with if_match only if its ETag is still that
        one. A lost race raises WriteConflict. `tags`: the object's tags, which a bucket's
        lifecycle rules can filter on (s3:PutObjectTagging too)."""
        extra: dict[str, Any] = {}
        if tags:
            extra["Tagging"] = urlencode(tags)
        if if_none_match:
            extra["IfNoneMatch"] = "*"
        if if_match is not None:
            extra["IfMatch"] = f'"{if_match}"'
        try:
            out = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                Metadata=metadata or {},
                **extra,
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}:
                raise WriteConflict(f"s3://{self.bucket}/{key} was changed by someone else") from exc
            raise self._fail(exc, key) from exc
        except BotoCoreError as exc:
            raise self._fail(exc, key) from exc
        return _strip_etag(out.get("ETag"))

    def swap(
        self,
        key: str,
        change: Callable[[StoredObject | None], tuple[bytes | None, T]],
        *,
        content_type: str,
        attempts: int = 25,
        pause: Callable[[float], None] = time.sleep,
    ) -> T:
        """Replace one object by compare-and-swap, the only way facewatch coordinates writers.

        Read the object (None when it does not exist), let `change` compute its new body
        from it, and write that only if nobody replaced it meanwhile (If-Match on the ETag
        read, If-None-Match when it was missing); on a conflict, read again and redo, after a
        short random pause that grows with the attempts. `change` returns (body, result):
        a body of None writes nothing. Returns the result of the attempt that won."""
        return self.swap_from(key, change, None, content_type=content_type, attempts=attempts, pause=pause)[0]

    def swap_from(
        self,
        key: str,
        change: Callable[[StoredObject | None], tuple[bytes | None, T]],
        guess: StoredObject | None,
        *,
        content_type: str,
        attempts: int = 25,
        pause: Callable[[float], None] = time.sleep,
    ) -> tuple[T, str | None]:
        """`swap`, first trying `change` on `guess` (the version this process last wrote,
        `change` knows its body) without reading it: the write's If-Match on the guess's
        ETag is what proves it is still the stored version, so a stale guess costs one
        refused write and then the usual read. Nothing is decided on a guess that is not
        written: a body of None, or an exception from `change`, on the guess is decided
        again on the object read. Returns the result and the ETag of the version it was
        decided on (written, or read when nothing was written; None when there is none)."""
        for attempt in range(attempts + (guess is not None)):
            guessed, current = guess is not None, guess
            guess = None
            if not guessed:
                try:
                    current = self.get(key)
                except ObjectMissing:
                    current = None
            try:
                body, result = change(current)
            except Exception:
                if guessed:
                    continue
                raise
            if body is None:
                if guessed:
                    continue
                return result, None if current is None else current.etag
            try:
                if current is None:
                    etag = self.put(key, body, content_type=content_type, if_none_match=True)
                else:
                    etag = self.put(key, body, content_type=content_type, if_match=current.etag)
                return result, etag
            except (WriteConflict, ObjectMissing) as exc:
                if isinstance(exc, ObjectMissing) and current is None:
                    raise  # not a lost race: the bucket itself is missing
                # ObjectMissing: removed since read; decided again on what is there now.
                if not guessed:
                    pause(random.uniform(0.01, 0.05) * (attempt + 1))
        raise StorageError(f"s3://{self.bucket}/{key}: changed by others {attempts} times in a row")

    def put_json(self, key: str, value: Any, **kwargs: Any) -> str:
        return self.put(key, encode_json(value), content_type="application/json", **kwargs)

    def get(self, key: str) -> StoredObject:
        try:
            out = self.client.get_object(Bucket=self.bucket, Key=key)
            body = out["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key) from exc
        return StoredObject(
            key=key,
            body=body,
            etag=_strip_etag(out.get("ETag")),
            metadata={k.lower(): v for k, v in (out.get("Metadata") or {}).items()},
            version_id=out.get("VersionId"),
            content_type=out.get("ContentType"),
        )

    def get_json(self, key: str) -> Any:
        obj = self.get(key)
        try:
            return json.loads(obj.body)
        except ValueError as exc:
            raise StorageError(f"s3://{self.bucket}/{key} is not valid JSON: {exc}") from exc

    def etag(self, key: str) -> str | None:
        """The object's ETag, or None when it does not exist."""
        try:
            out = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _MISSING_KEY:
                return None
            raise self._fail(exc, key) from exc
        except BotoCoreError as exc:
            raise self._fail(exc, key) from exc
        return _strip_etag(out.get("ETag"))

    def exists(self, key: str) -> bool:
        return self.etag(key) is not None

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key) from exc

    def put_file(self, key: str, path: str, *, content_type: str = "application/octet-stream") -> None:
        """Upload a file, in parts when it is large (a household's export)."""
        try:
            self.client.upload_file(path, self.bucket, key, ExtraArgs={"ContentType": content_type})
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise self._fail(exc, key) from exc

    def untag(self, key: str) -> None:
        """Remove every tag of an object, so that no tag-filtered lifecycle rule expires it;
        a missing object is no error (nothing is left to keep)."""
        try:
            self.client.delete_object_tagging(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            failure = self._fail(exc, key)
            if isinstance(failure, ObjectMissing):
                return
            raise failure from exc

    def delete_many(self, keys: list[str]) -> None:
        """Delete up to 1,000 objects in one request (S3 DeleteObjects); a missing one is no
        error, as with `delete`."""
        if not keys:
            return
        try:
            out = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, keys[0]) from exc
        failed = out.get("Errors") or []
        if failed:
            first = failed[0]
            code, message = first.get("Code", "error"), first.get("Message", "")
            raise StorageError(
                f"s3://{self.bucket}/{first.get('Key')}: {code}: {message} "
                f"({len(failed)} of {len(keys)} not deleted)"
            )

    def list_keys(self, prefix: str) -> Iterator[str]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, prefix) from exc

    def list_versions(self, prefix: str) -> Iterator[tuple[str, str]]:
        """(key, version id) of every version and delete marker under `prefix`: on a
        versioned bucket a deleted object is still there until each of these is deleted.
        An unversioned bucket lists each object once (version id "null")."""
        try:
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    yield item["Key"], str(item.get("VersionId") or "null")
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, prefix) from exc

    def delete_version(self, key: str, version_id: str) -> None:
        """Delete one version (or delete marker) for good."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key) from exc

    def list_households(self) -> list[str]:
        """Household ids that have anything in the bucket (one listing level, not every key)."""

        return self.list_folders(f"{ROOT}/")

    def list_folders(self, prefix: str) -> list[str]:
        """The names one level below `prefix` (which ends in '/'): a listing by delimiter,
        so a household's cameras are found without listing each of their frames."""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            )
            return [
                p["Prefix"].removeprefix(prefix).rstrip("/")
                for page in pages
                for p in page.get("CommonPrefixes", [])
            ]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, prefix) from exc

    def presigned_url(self, key: str, expires_seconds: int = 3600) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_seconds
        )
