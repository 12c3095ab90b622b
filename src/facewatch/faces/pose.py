"""How far a face is turned (yaw), from dlib's 68 landmarks: enrollment warns about a photo
of a face turned far, which teaches the known set one side of a person only."""

from __future__ import annotations

import math

import numpy as np

from facewatch.frames import Box

JAW_LEFT, JAW_RIGHT, NOSE_TIP = 0, 16, 30
"""Indices in dlib's 68-point scheme (iBUG 300-W): the jaw's ends at the ears' level, and the
tip of the nose."""


def yaw_degrees(points: np.ndarray) -> float:
    """The face's turn left or right, 0 frontal, from where the nose tip falls between the
    jaw's ends. Seen from the front, a head is roughly a cylinder: the nose tip sits on its
    axis's front, so turned by θ it moves sin θ of the half-width off the middle of the
    silhouette. Unsigned; 90 when the nose reaches the silhouette's edge (or beyond, where
    the far jaw is hidden and the landmarks guess)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    left, right, nose = pts[JAW_LEFT, 0], pts[JAW_RIGHT, 0], pts[NOSE_TIP, 0]
    half = (right - left) / 2.0
    if half <= 0:
        return 90.0
    offset = (nose - (left + half)) / half
    return math.degrees(math.asin(min(1.0, abs(offset))))


def landmarks(image_rgb: np.ndarray, box: Box) -> np.ndarray:
    """The 68 landmark points of the face at `box`, (68, 2), as encodings.face_crops fits them."""
    import dlib

    from facewatch.faces.landmarks import LandmarkModel
    from facewatch.faces.models import DLIB_LOCK, shape_predictor

    predictor = shape_predictor()
    rect = dlib.rectangle(box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)
    if isinstance(predictor, LandmarkModel):
        shape = predictor(image_rgb, rect)
    else:
        with DLIB_LOCK:
            shape = predictor(image_rgb, rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
