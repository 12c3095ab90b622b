"""Every face detector by name, in one registry: the settings' FACEWATCH_DETECTOR, the
agent's `--detector`, the factory and recognize's trust in an edge box (a CNN's) all read it.

Cheap to import (the settings object validates against it): each factory imports its
detector, and with it OpenCV, dlib or onnxruntime, only when a detector is made."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from facewatch.exceptions import ModelsUnavailable

if TYPE_CHECKING:
    from facewatch.config import Settings
    from facewatch.faces.detection import FaceDetector


@dataclass(frozen=True, slots=True)
class DetectorKind:
    name: str
    cnn: bool
    """Its boxes are faces already: a CNN trained on faces in every pose, with almost no
    false faces (bench/RESULTS.md, Edge detectors: CenterFace 0 false faces on the labelled
    clip, Haar 16). recognize's HOG still fits their boxes where it finds the face (the
    geometry the landmark model and the known set were made with: a CNN box moved to HOG's
    by a fixed transform was 12% too wide and 15 px off on a known person's video, who was
    then judged a stranger); where HOG does not find it (31 of 83 CenterFace faces of the
    clip and test photos, most near-frontal but blurred) the CNN's word is taken, in HOG's
    geometry, and the face may be named but not called a stranger (`KNOWN_ONLY`,
    recognize/recognition.py). A Haar or HOG box HOG does not find again is no face."""
    make: Callable[[Settings], FaceDetector]


def _haar(settings: Settings) -> FaceDetector:
    from facewatch.faces.detection import HaarDetector

    return HaarDetector(
        max_width=settings.detect_width,
        scale_factor=settings.haar_scale_factor,
        min_neighbors=settings.haar_min_neighbors,
        min_face_px=settings.min_face_px,
    )


def _hog(settings: Settings) -> FaceDetector:
    from facewatch.faces.detection import HogDetector

    return HogDetector(max_width=settings.detect_width, min_face_px=settings.min_face_px)


def _yunet(settings: Settings) -> FaceDetector:
    from facewatch.faces.detection import YuNetDetector

    if not settings.yunet_model:
        raise ModelsUnavailable("detector 'yunet' needs FACEWATCH_YUNET_MODEL (an ONNX file path)")
    return YuNetDetector(
        settings.yunet_model, max_width=settings.detect_width, min_face_px=settings.min_face_px
    )


def _centerface(settings: Settings) -> FaceDetector:
    from facewatch.faces.centerface import CenterFaceDetector

    return CenterFaceDetector(
        max_width=settings.detect_width,
        min_face_px=settings.min_face_px,
        backend=settings.centerface_backend,
    )


DETECTORS: dict[str, DetectorKind] = {
    kind.name: kind
    for kind in (
        DetectorKind("haar", cnn=False, make=_haar),
        DetectorKind("hog", cnn=False, make=_hog),
        DetectorKind("yunet", cnn=True, make=_yunet),
        DetectorKind("centerface", cnn=True, make=_centerface),
    )
}
DETECTOR_NAMES: tuple[str, ...] = tuple(DETECTORS)
CNN_DETECTORS = frozenset(name for name, kind in DETECTORS.items() if kind.cnn)


def check_detector(name: str) -> str:
    """`name` if a detector has it, else ValueError naming them all."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}: one of {', '.join(DETECTOR_NAMES)}")
    return name


def make_detector(settings: Settings, kind: str | None = None) -> FaceDetector:
    """The detector `kind` (default: the settings' FACEWATCH_DETECTOR), made from the settings."""
    return DETECTORS[check_detector(kind or settings.detector)].make(settings)
