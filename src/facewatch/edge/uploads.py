"""Storing a face frame: the one path shared by the edge agent and the detect function, so a
frame POSTed to detect is stored exactly as the agent would store it."""

from __future__ import annotations

import numpy as np

from facewatch.frames import FrameMeta
from facewatch.images import encode_jpeg
from facewatch.layout import FrameKey
from facewatch.store.storage import Storage


def frame_object(
    image_bgr: np.ndarray, meta: FrameMeta, quality: int = 85
) -> tuple[str, bytes, dict[str, str]]:
    """(key, JPEG bytes, S3 metadata) for a face frame; no I/O, so the agent can spool it."""
    key = FrameKey.new(meta.household, meta.camera, meta.captured_at)
    return str(key), encode_jpeg(image_bgr, quality), meta.to_s3_metadata()


def put_frame(storage: Storage, key: str, jpeg: bytes, metadata: dict[str, str]) -> str:
    """Upload one frame; this PUT is what triggers recognition."""
    return storage.put(key, jpeg, content_type="image/jpeg", metadata=metadata)


def store_face_frame(storage: Storage, image_bgr: np.ndarray, meta: FrameMeta, quality: int = 85) -> str:
    key, jpeg, metadata = frame_object(image_bgr, meta, quality)
    put_frame(storage, key, jpeg, metadata)
    return key
