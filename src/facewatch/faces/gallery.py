"""A household's known set ("gallery"): names, 128-d rows and the photos they came from,
stored as one compact .npz object in the bucket. Plain numpy: the decision rules read it
without loading the encoder or OpenCV."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

import numpy as np

from facewatch.exceptions import StorageError

GALLERY_FORMAT = 3
"""How the rows are made. 1: dlib's descriptor of the face chip; 2: the mean of the chip's
and its mirror image's (`describe_chips`); 3: the mean over six views (`describe_views`) of
the chip aligned by the 68-point landmarks instead of the 5-point ones (models.SHAPE_68).
Rows of different formats are not comparable at the precision the decision rule needs, so a
known set of an older format is rebuilt (recognize/known.py: `GalleryCache`, `rebuild_gallery`)."""


READABLE_FORMATS = (1, 2, GALLERY_FORMAT)


@dataclass
class Gallery:
    """A household's known faces: one row per enrolled photo."""

    names: list[str] = field(default_factory=list)
    encodings: np.ndarray = field(default_factory=lambda: np.zeros((0, 128), dtype=np.float32))
    photo_keys: list[str] = field(default_factory=list)
    photo_etags: list[str] = field(default_factory=list)
    format: int = GALLERY_FORMAT
    """How its rows were made (GALLERY_FORMAT); an older one is read but `stale`."""
    derived: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Values the decision code computes from the rows once per gallery (thresholds); a
    gallery is never changed after it is built, so they stay valid."""

    def __post_init__(self) -> None:
        n = len(self.names)
        if self.encodings.shape != (n, 128) or len(self.photo_keys) != n or len(self.photo_etags) != n:
            raise ValueError("gallery columns disagree in length")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def people(self) -> list[str]:
        return sorted(set(self.names))

    @property
    def stale(self) -> bool:
        """Built by an older facewatch: its rows are not comparable with today's encodings."""
        return self.format != GALLERY_FORMAT

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            format=np.array(self.format),
            names=np.array(self.names, dtype=str),
            encodings=self.encodings.astype(np.float32),
            photo_keys=np.array(self.photo_keys, dtype=str),
            photo_etags=np.array(self.photo_etags, dtype=str),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Gallery:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                built_as = int(npz["format"])
                if built_as not in READABLE_FORMATS:
                    raise ValueError(f"format {built_as} is not one of {READABLE_FORMATS}")
                encodings = npz["encodings"].astype(np.float32).reshape(-1, 128)
                return cls(
                    names=[str(n) for n in npz["names"]],
                    encodings=encodings,
                    photo_keys=[str(k) for k in npz["photo_keys"]],
                    photo_etags=[str(e) for e in npz["photo_etags"]],
                    format=built_as,
                )
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise StorageError(f"known-encodings object is corrupt: {exc}") from exc
