"""Storing a face frame: the one path shared by the edge agent and the detect function, so a
frame POSTed to detect is stored exactly as the agent would store it."""

from __future__ import annotations

import numpy as np

from facewatch.frames import FrameMeta
from facewatch.images import encode_jpeg
from facewatch.layout import EXPIRY_TAG, FrameKey
from facewatch.store.storage import Storage


def frame_tags(expiry_days: int | None) -> dict[str, str]:
    """A frame's tags: the lifecycle rule's when the deployment expires frames by it
    (FACEWATCH_FRAME_EXPIRY_DAYS), none otherwise (a store without the rule, or a policy
    without s3:PutObjectTagging, is then never asked for one)."""
    return dict([EXPIRY_TAG]) if expiry_days else {}


def frame_object(
    image_bgr: np.ndarray, meta: FrameMeta, quality: int = 85
) -> tuple[str, bytes, dict[str, str]]:
    """(key, JPEG bytes, S3 metadata) for a face frame; no I/O, so the agent can spool it."""
    key = FrameKey.new(meta.household, meta.camera, meta.captured_at)
    return str(key), encode_jpeg(image_bgr, quality), meta.to_s3_metadata()


def put_frame(
    storage: Storage, key: str, jpeg: bytes, metadata: dict[str, str], tags: dict[str, str] | None = None
) -> str:
    """Upload one frame; this PUT is what triggers recognition."""
    return storage.put(key, jpeg, content_type="image/jpeg", metadata=metadata, tags=tags)


def store_face_frame(
    storage: Storage,
    image_bgr: np.ndarray,
    meta: FrameMeta,
    quality: int = 85,
    tags: dict[str, str] | None = None,
) -> str:
    key, jpeg, metadata = frame_object(image_bgr, meta, quality)
    put_frame(storage, key, jpeg, metadata, tags)
    return key
