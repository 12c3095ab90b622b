"""Finding and judging the faces of one frame: recognize's recognition, without I/O.

`find_faces` decides where the faces are (edge boxes, confirmed, or a search of a frame that
came without them); `judge_faces` encodes them and judges each against the known set."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Literal

import numpy as np

from facewatch.config import Settings
from facewatch.exceptions import ModelsUnavailable
from facewatch.faces.detection import HogDetector, confirm_face
from facewatch.faces.detectors import CNN_DETECTORS
from facewatch.faces.encodings import QUICK_DISTANCE_ERROR, describe_chips, describe_views, face_crops
from facewatch.faces.gallery import Gallery
from facewatch.faces.quality import sharpness
from facewatch.frames import Box, FrameMeta
from facewatch.images import to_rgb
from facewatch.recognize.decisions import Judgement, MatchPolicy, judge_face, settled
from facewatch.records import FaceState, FaceVerdict

log = logging.getLogger(__name__)


PENDING = "pending"
KNOWN_ONLY = "pending: known only"
"""What people read of a face found and not yet judged (FaceState.PENDING, .KNOWN_ONLY).
A known-only face, judged, has its "stranger" verdict made "unsure": outside the geometry
the known set was encoded in, a known person's distance grows, and a false alarm costs more
than a missed one (the track's other frames and the next visit still alert). Judged on its
quick encoding alone: the six views that settle close calls cost 3x the network time, for
a face that can only be named."""
NOT_CALLED_STRANGER = (
    "no close match, but HOG does not find this face (turned or blurred): not called a stranger"
)

HOG_SIDE = 0.88
HOG_DROP = 0.065
"""A CNN box in the edge's Haar-box convention, as the box dlib's HOG gives the same face:
a square 0.88 times as wide, its centre 0.065 widths lower (medians over 52 faces of the
test photos and the clip that both found; interquartile ranges 0.79-0.95 and 0.03-0.07;
the horizontal offset, -0.02, is taken as 0: faces are left-right symmetric). The
landmark model was trained on HOG's boxes and the known set was encoded from them."""


def as_hog_box(box: Box, width: int, height: int) -> Box:
    side = box.w * HOG_SIDE
    cx, cy = box.x + box.w / 2, box.y + box.h / 2 + HOG_DROP * box.w
    return Box(round(cx - side / 2), round(cy - side / 2), max(1, round(side)), max(1, round(side))).clipped(
        width, height
    )


def fitted(image: np.ndarray, box: Box, cnn: bool) -> FaceVerdict | None:
    """A face to judge at this edge box, fitted by HOG on a crop: PENDING where HOG finds it,
    KNOWN_ONLY in HOG's geometry where only a CNN did, None where it is not a face."""
    height, width = image.shape[:2]
    # HOG's second, larger scale is there not to refuse a real face; a CNN's box is not
    # refused, so one try at fitting it is enough.
    hog = confirm_face(image, box, face_px=(110,)) if cnn else confirm_face(image, box)
    if hog is not None:
        return FaceVerdict(box=hog, verdict="unsure", state=FaceState.PENDING, reason=PENDING)
    if cnn:
        return FaceVerdict(
            box=as_hog_box(box, width, height),
            verdict="unsure",
            state=FaceState.KNOWN_ONLY,
            reason=KNOWN_ONLY,
        )
    return None


def search_frame(image: np.ndarray, settings: Settings) -> list[FaceVerdict]:
    """A frame that came without boxes, searched whole at most `detect_width` wide with the
    edge's CNN and fitted as its boxes are; with HOG where CenterFace's file is missing."""
    try:
        from facewatch.faces.centerface import CenterFaceDetector, model_path

        model_path()
    except ModelsUnavailable as exc:
        log.warning("searching with HOG: %s", exc)
        hog = HogDetector(max_width=settings.detect_width, min_face_px=settings.min_face_px)
        return [
            FaceVerdict(box=b, verdict="unsure", state=FaceState.PENDING, reason=PENDING)
            for b in hog.detect(image)
        ]
    cnn = CenterFaceDetector(max_width=settings.detect_width, min_face_px=settings.min_face_px)
    return [face for b in cnn.detect(image) if (face := fitted(image, b, cnn=True)) is not None]


def find_faces(
    image: np.ndarray, meta: FrameMeta, settings: Settings
) -> tuple[list[FaceVerdict], Literal["edge", "detected"]]:
    """The faces to judge, as verdicts 'pending' (or 'unsure' with the reason already known).

    Edge boxes are trusted for where to look; what is there is trusted only from a CNN
    (`CNN_DETECTORS`, as the frame's metadata names its detector). A box too small or too
    blurred to judge is unsure at once (no model runs for it); the others are fitted by HOG
    on a crop, and a Haar box HOG does not find is not a face, a CNN's is (`KNOWN_ONLY`).
    Only a frame that came without boxes is searched whole, downscaled (`search_frame`)."""
    if not meta.boxes:
        return search_frame(image, settings), "detected"
    cnn = meta.detector in CNN_DETECTORS
    tracks = meta.track_ids or (None,) * len(meta.boxes)
    faces = []
    for box, track in zip(meta.boxes, tracks, strict=True):
        sharp = sharpness(image, box)
        state = FaceState.JUDGED  # unsure at once
        if min(box.w, box.h) < settings.min_judge_face_px:
            reason = f"face {min(box.w, box.h)}px is below {settings.min_judge_face_px}px"
        elif sharp < settings.min_sharpness:
            reason = f"face too blurred (sharpness {sharp:.1f})"
        else:
            face = fitted(image, box, cnn)
            if face is not None:
                faces.append(face.model_copy(update={"track_id": track}))
                continue
            state, reason = FaceState.NOT_A_FACE, "edge box not confirmed as a face"
        faces.append(FaceVerdict(box=box, verdict="unsure", state=state, reason=reason, track_id=track))
    return faces, "edge"


def judge_faces(
    image: np.ndarray,
    faces: list[FaceVerdict],
    gallery: Gallery | None,
    policy: MatchPolicy,
    why_not: str = "",
    negatives: Mapping[str, np.ndarray] | None = None,
) -> tuple[list[FaceVerdict], dict[int, np.ndarray]]:
    """Encode and judge each pending face; returns the verdicts and the quick encodings by
    index (what visits and remembered strangers compare among themselves).
    `negatives`: person → faces the household said are not them ("this is not X").

    Each face is judged on its quick encoding (2 views); the few whose verdict could change
    if its distances moved by QUICK_DISTANCE_ERROR are judged again on the full one (6
    views, as known photos are encoded): the full encoding's verdicts, at a third of the
    network time for clear faces."""
    pending = [i for i, f in enumerate(faces) if f.state in (FaceState.PENDING, FaceState.KNOWN_ONLY)]
    crops = face_crops(to_rgb(image), [faces[i].box for i in pending])
    quick = describe_chips(crops.chips)
    encodings = dict(zip(pending, quick, strict=True))

    def judge(i: int, encoding: np.ndarray) -> Judgement:
        face = faces[i]
        return judge_face(
            encoding,
            face_px=min(face.box.w, face.box.h),
            sharpness=sharpness(image, face.box),
            gallery=gallery,
            policy=policy,
            negatives=negatives,
        )

    judgements = {i: judge(i, encodings[i]) for i in pending}
    unsettled = [
        j
        for j, i in enumerate(pending)
        if judgements[i].verdict != "unsure"
        and faces[i].state is not FaceState.KNOWN_ONLY  # its quick encoding decides: close calls are not its
        and not settled(
            encodings[i], gallery=gallery, policy=policy, slack=QUICK_DISTANCE_ERROR, negatives=negatives
        )
    ]
    if unsettled:
        full = describe_views(crops.take(unsettled), quick[unsettled])
        for j, row in zip(unsettled, full, strict=True):
            judgements[pending[j]] = judge(pending[j], row)
    out = list(faces)
    for j, i in enumerate(pending):
        judgement = judgements[i]
        verdict, reason = judgement.verdict, judgement.reason
        if verdict == "stranger" and faces[i].state is FaceState.KNOWN_ONLY:
            verdict, reason = "unsure", NOT_CALLED_STRANGER
        if gallery is None and why_not:
            reason = f"{reason} ({why_not})"
        out[i] = faces[i].model_copy(
            update={
                "verdict": verdict,
                "name": judgement.name,
                "distance": judgement.distance,
                "nearest": judgement.nearest,
                "reason": reason,
                "state": judgement.state,
                "yaw_degrees": None if crops.yaws is None else round(float(crops.yaws[j]), 1),
            }
        )
    return out, encodings
