"""Face encodings: dlib's landmarks and chips for given boxes, and the 128-d descriptors of
those chips (the network runs in numpy, facenet.py). How the rows are stored: gallery.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facewatch.faces.facenet import CHIP_PX
from facewatch.faces.landmarks import LandmarkModel
from facewatch.faces.models import DLIB_LOCK, face_encoder, shape_predictor
from facewatch.faces.pose import yaw_degrees
from facewatch.frames import Box

VIEW_SHIFT_PX = 4
"""How far the shifted views move the chip up and down: about the error of the landmarks
that place it, 4% of the chip."""
WIDE_PX = CHIP_PX + 2 * VIEW_SHIFT_PX
WIDE_PADDING = (WIDE_PX / CHIP_PX * 1.5 - 1) / 2
"""dlib's chip maps the face's landmarks onto 1 + 2·padding units of size px; 150 px at
padding 0.25 is 100 px a unit. The wide chip keeps 100 px a unit and adds VIEW_SHIFT_PX on
every side, so its centre crop is the standard chip and its off-centre crops are shifts.
(Only the vertical ones are used; the wide chip is square because dlib cuts it so.)"""
QUICK_DISTANCE_ERROR = 0.05
"""How far a distance measured from a face's quick encoding (`describe_chips`, 2 views) to a
stored full one (`describe_views`, 6 views) may lie from the distance the face's own full
encoding would give. Over the 3,064 news faces of bench/RESULTS.md (9.4 million pairs):
0.005 at the median, one pair in 100,000 above 0.041, the largest 0.046; the test photos
stay inside (tests/unit/faces/test_encodings.py). recognize judges with the quick encoding and
pays for the full one only when moving every distance this far could change the verdict
(`decisions.settled`)."""


@dataclass(frozen=True, slots=True)
class FaceCrops:
    """Each face's aligned chips: the standard one and the wide one the shifts are cut from."""

    chips: np.ndarray
    """(n, 150, 150, 3): exactly as face_recognition's face_encodings(model="large") cuts them."""
    wide: np.ndarray
    """(n, WIDE_PX, WIDE_PX, 3): the same alignment and scale with a border."""
    yaws: np.ndarray | None = None
    """(n,): how far each face is turned (pose.yaw_degrees), from the landmarks the chips
    were cut by: a track's running encoding weighs a turned face less."""

    def __len__(self) -> int:
        return len(self.chips)

    def take(self, indices: Sequence[int]) -> FaceCrops:
        picked = list(indices)
        return FaceCrops(
            self.chips[picked], self.wide[picked], None if self.yaws is None else self.yaws[picked]
        )


def _rect(box: Box) -> object:
    import dlib

    return dlib.rectangle(box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)


def face_crops(image_rgb: np.ndarray, boxes: Sequence[Box]) -> FaceCrops:
    """Each box's chips, from one landmark fit (dlib's 68-point model, as face_recognition's
    `model="large"`; models.SHAPE_68 says why; evaluated in numpy, landmarks.py, when the
    model cache is there: the same points as dlib's)."""
    if not boxes:
        empty = np.zeros((0, CHIP_PX, CHIP_PX, 3), dtype=np.uint8)
        return FaceCrops(empty, np.zeros((0, WIDE_PX, WIDE_PX, 3), dtype=np.uint8), np.zeros(0))
    import dlib

    predictor = shape_predictor()
    if isinstance(predictor, LandmarkModel):  # numpy, no per-call state: outside the lock
        shapes = dlib.full_object_detections([predictor(image_rgb, _rect(b)) for b in boxes])
    with DLIB_LOCK:
        if not isinstance(predictor, LandmarkModel):
            shapes = dlib.full_object_detections([predictor(image_rgb, _rect(b)) for b in boxes])
        chips = dlib.get_face_chips(image_rgb, shapes, size=CHIP_PX, padding=0.25)
        wide = dlib.get_face_chips(image_rgb, shapes, size=WIDE_PX, padding=WIDE_PADDING)
    points = [np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64) for shape in shapes]
    return FaceCrops(np.stack(chips), np.stack(wide), np.array([yaw_degrees(p) for p in points]))


def _mirrored(chips: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(chips[:, :, ::-1])


def describe_chips(chips: np.ndarray) -> np.ndarray:
    """The quick encoding, one 128-d row per chip: the mean of dlib's descriptors of the
    chip and of its mirror image, not re-normalised (dlib's own jitter averages the same way).

    A face and its mirror image are the same person seen from the other side, so the mean
    keeps what is the person's and halves what is this view's (bench/RESULTS.md). Both
    views run in one batch."""
    if not len(chips):
        return np.zeros((0, 128), dtype=np.float64)
    n = len(chips)
    both = face_encoder()(np.concatenate([chips, _mirrored(chips)]))
    return (both[:n].astype(np.float64) + both[n:]) / 2.0


def describe_views(crops: FaceCrops, quick: np.ndarray | None = None) -> np.ndarray:
    """The full encoding: the mean over six views, the chip and the chip shifted
    VIEW_SHIFT_PX up and down, each also mirrored. The shifts average out where the
    landmarks happened to put the face; the mirror image already shows the face's
    horizontal placement from the other side, so horizontal shifts add little (measured:
    0.3 points against 0.7, and both together no more than the vertical alone). On news
    photos this names about 0.5–1 point more of 50 known people at the same rate of
    strangers accepted (bench/RESULTS.md), for three times the network time. `quick`
    (describe_chips of the same chips) is reused if given."""
    n = len(crops)
    if not n:
        return np.zeros((0, 128), dtype=np.float64)
    if quick is None:
        quick = describe_chips(crops.chips)
    s, c = VIEW_SHIFT_PX, CHIP_PX
    shifted = [crops.wide[:, s + dy : s + dy + c, s : s + c] for dy in (-s, s)]
    views = np.concatenate([np.ascontiguousarray(v) for v in shifted])
    views = np.concatenate([views, _mirrored(views)])
    rows = face_encoder()(views).astype(np.float64).reshape(4, n, 128)
    return (2.0 * quick + rows.sum(axis=0)) / 6.0


def encode_faces(image_rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """One full encoding per box, shape (len(boxes), 128): what is stored (known photos,
    negatives) and what a face is judged by when the quick one cannot settle it.

    dlib finds the landmarks and cuts the chips; the network runs in numpy (facenet.py),
    all the faces' views in one batch."""
    return describe_views(face_crops(image_rgb, boxes))
