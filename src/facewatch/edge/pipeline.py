"""What the edge agent decides about frames, without I/O: where to look, which faces are
followed, which frames to send. Feed it frames in order (`EdgePipeline.process`).

Per frame, almost always nothing: detection runs on "ticks", at most every `scan_interval`
seconds of the source (5 a second by default: a face in view for half a second is found at
least twice). A tick asks the motion gate (motion.py) what changed since the detector last
looked, searches only there at the scale the smallest face needs (detection.py), and looks
again for each known face whose neighbourhood changed, at that face's own scale. A face in
a part of the scene that did not change is still there with the same box: the gate vouches
for it, so a visitor standing still costs no detection yet is uploaded every interval. The
whole frame is searched on the first tick, when most of it changed, and every
`idle_scan_interval` as a safety net; where most of the frame keeps changing (a busy street,
a shaking camera) at most every `busy_scan_interval`, the tracker carrying the faces
between (`busy_tick`). Frames no tick or confirmation will look at are never converted
(`wants`). The frame after a new face is seen, that face alone is
looked for again: a real face is confirmed one frame later (and its first frame sent at
once), a one-off false detection dies unsent.

Faces are followed across ticks (tracking.py), and the upload policy (also tracking.py)
picks the frames: the first frame of each confirmed face, then at most one per face per
`interval`, the sharpest/largest of those seen within `prefer_window`, with at most
one frame per `min_gap` whatever the number of faces."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from facewatch.edge.capture import Frame
from facewatch.edge.motion import Motion, MotionGate, MotionParams
from facewatch.edge.spool import SpoolOptions
from facewatch.edge.tracking import (
    FaceView,
    PolicyState,
    Track,
    TrackParams,
    UploadPolicy,
    decide,
    face_quality,
    forget,
    inside_fraction,
    is_searched,
    step_tracks,
    wanted,
)
from facewatch.faces.detection import FaceDetector, detect_near, near_region
from facewatch.faces.quality import sharpness
from facewatch.frames import Box


@dataclass(frozen=True, slots=True)
class EdgeOptions:
    """How the agent spends its CPU and its uplink (config.Settings holds the detector's own):
    what the pipeline looks at, which frames it sends (`upload`), and how the agent keeps
    them until they are sent (`spool`, which the pipeline does not read)."""

    scan_interval: float = 0.2
    """Seconds between detection ticks."""
    idle_scan_interval: float = 2.0
    """Seconds between whole-frame searches when the gate sees nothing new."""
    busy_scan_interval: float = 0.4
    """Seconds between whole-frame searches while most of the frame keeps changing (a busy
    street, a shaking camera): the ticks between them search nothing, and the tracker
    carries the faces (see `busy_tick`)."""
    motion_gate: bool = True
    """Off: every tick searches the whole frame."""
    motion_threshold: int = MotionParams.threshold
    max_age: float = TrackParams.max_age
    upload: UploadPolicy = field(default_factory=UploadPolicy)
    """Which frames to send. Its `lookahead` is taken to be `scan_interval`: the next look
    at a face is one tick away."""
    spool: SpoolOptions = field(default_factory=SpoolOptions)


@dataclass
class AgentSummary:
    frames_read: int = 0
    """Frames read from the source, `frames_passed` included."""
    frames_passed: int = 0
    """Frames read that the pipeline would not look at: decoded, never converted."""
    frames_detected: int = 0
    """Frames the detector ran on (any part of them)."""
    full_scans: int = 0
    faces_seen: int = 0
    """Face boxes found, summed over the frames searched."""
    tracks: int = 0
    """Faces followed (tracks started)."""
    frames_chosen: int = 0
    frames_uploaded: int = 0
    upload_bytes: int = 0
    upload_failures: int = 0
    spooled: int = 0
    """Frames waiting in the spool (at the end: sent on the next start)."""
    dropped: int = 0
    """Frames the full spool dropped, oldest first."""
    reconnects: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Outgoing:
    frame: Frame
    views: tuple[FaceView, ...]


@dataclass
class _Look:
    """What one look at a frame found."""

    detections: list[Box] = field(default_factory=list)
    searched: list[Box] | None = field(default_factory=list)
    """The regions the detector ran over; None: the whole frame."""
    vouched: list[int] = field(default_factory=list)


class EdgePipeline:
    """Everything the agent decides about frames, without I/O: feed it frames in order,
    it returns the ones to upload."""

    def __init__(
        self,
        detector: FaceDetector,
        *,
        options: EdgeOptions = EdgeOptions(),
        first_track_id: int = 1,
    ) -> None:
        self.detector = detector
        self.options = options
        self.policy = replace(options.upload, lookahead=options.scan_interval)
        self.track_params = TrackParams(max_age=options.max_age)
        self.gate = MotionGate(
            MotionParams(min_face_px=detector.min_face_px, threshold=options.motion_threshold)
        )
        self.tracks: tuple[Track, ...] = ()
        self.state = PolicyState()
        self.next_id = first_track_id
        self.summary = AgentSummary()
        self._last_tick: float | None = None
        self._last_full: float | None = None
        self._confirm_next = False
        self._held: Outgoing | None = None

    def wants(self, time: float) -> bool:
        """Whether `process` would look at a frame taken at `time`: the source need not
        convert the others (at 1080p, half the cost of reading a frame)."""
        return self._confirm_next or self._tick_due(time)

    def _tick_due(self, time: float) -> bool:
        return self._last_tick is None or time - self._last_tick >= self.options.scan_interval - 1e-3

    def process(self, frame: Frame) -> Outgoing | None:
        """Look at the frame if it is time to; the frame to send now, if any."""
        if self._tick_due(frame.time):
            self._last_tick = frame.time
            look = self._tick(frame)
        elif self._confirm_next:
            look = self._confirm(frame)
        else:
            return None
        return self._update(frame, look)

    def finish(self) -> Outgoing | None:
        """At the end of the source: the frame still held for a face that is due, if any."""
        held, self._held = self._held, None
        return held

    # --- looking ----------------------------------------------------------------------
    def _tick(self, frame: Frame) -> _Look:
        image, now = frame.image, frame.time
        height, width = image.shape[:2]
        motion = self._motion(image)
        since_full = None if self._last_full is None else now - self._last_full
        idle = since_full is None or since_full >= self.options.idle_scan_interval
        if motion.full and not idle and busy_tick(since_full, self.options.busy_scan_interval):
            return self._carry(image)
        self.summary.frames_detected += 1
        if motion.full or idle:
            self._last_full = now
            self.summary.full_scans += 1
            look = _Look(self._scan(image, None), None, [])
            self.gate.commit(None)
            return look
        searched: list[Box] = []  # the regions looked at, for step_tracks
        look = _Look(searched=searched)
        for region in motion.regions:
            look.detections += self._scan(image, region)
            searched.append(region)
        for track in self.tracks:
            predicted = track.predicted(now)
            near = near_region(predicted, width, height)
            unchanged = not self.gate.changed(near)
            if unchanged and track.misses == 0 and track.hits >= self.policy.min_hits:
                look.vouched.append(track.id)  # found when last looked at, nothing changed since
            elif unchanged and track.misses:
                searched.append(near)  # not found then, nothing changed since: still gone
            elif not is_searched(predicted, motion.regions):
                look.detections += detect_near(self.detector, image, predicted)
                searched.append(near)
        look.detections = distinct(look.detections)
        self.gate.commit(look.searched)
        return look

    def _carry(self, image: np.ndarray) -> _Look:
        """A busy tick between whole-frame searches: nothing is searched; the tracks the
        gate vouches for are still where they were, the others keep their boxes until the
        next search finds them (tracking.py: a track not looked for neither gains nor
        loses). The reference stays as it was, so the gate keeps seeing the change."""
        height, width = image.shape[:2]
        look = _Look(searched=[])
        for track in self.tracks:
            near = near_region(track.box, width, height)
            if track.misses == 0 and track.hits >= self.policy.min_hits and not self.gate.changed(near):
                look.vouched.append(track.id)
        return look

    def _confirm(self, frame: Frame) -> _Look:
        """The frame after new faces appeared: look for them alone, at their own scale."""
        self._confirm_next = False
        image, now = frame.image, frame.time
        height, width = image.shape[:2]
        searched: list[Box] = []  # the regions looked at, for step_tracks
        look = _Look(searched=searched)
        for track in self.tracks:
            if track.hits < self.policy.min_hits:
                predicted = track.predicted(now)
                look.detections += detect_near(self.detector, image, predicted)
                searched.append(near_region(predicted, width, height))
            elif track.misses == 0:
                look.vouched.append(track.id)  # seen a frame ago: its box is still good
        if look.searched:
            self.summary.frames_detected += 1
        look.detections = distinct(look.detections)
        return look

    def _motion(self, image: np.ndarray) -> Motion:
        if not self.options.motion_gate:
            height, width = image.shape[:2]
            return Motion((Box(0, 0, width, height),), 1.0, True)
        return self.gate.observe(image)

    def _scan(self, image: np.ndarray, region: Box | None) -> list[Box]:
        scale = self.detector.search_scale(image.shape[1])
        return self.detector.detect_in(image, region, scale, self.detector.min_face_px)

    # --- following and choosing --------------------------------------------------------
    def _update(self, frame: Frame, look: _Look) -> Outgoing | None:
        now = frame.time
        step = step_tracks(
            self.tracks,
            look.detections,
            now,
            next_id=self.next_id,
            searched=look.searched,
            vouched=look.vouched,
            params=self.track_params,
        )
        self.tracks, self.next_id = step.tracks, step.next_id
        self.summary.faces_seen += len(look.detections)
        self.summary.tracks += len(step.born)
        self._confirm_next = self._confirm_next or bool(step.born)
        views = self._views(frame, step.matched, look.vouched)
        self.state, decision = decide(views, now, self.state, self.policy)
        self.state = forget(self.state, step.ended)
        current = Outgoing(frame, views)
        if decision.send == "current":
            self._held = None
            return current
        if decision.send == "held":
            held, self._held = self._held, None
            return held
        if decision.hold_current:
            self._held = current
        return None

    def _views(
        self, frame: Frame, matched: Mapping[int, int], vouched: Sequence[int]
    ) -> tuple[FaceView, ...]:
        """The confirmed faces in this frame: an unconfirmed box (often texture) is neither
        a reason to send a frame nor sent along in one."""
        by_id = {t.id: t for t in self.tracks}
        ids = list(dict.fromkeys([*matched.values(), *(v for v in vouched if v in by_id)]))
        views = []
        for track_id in ids:
            track = by_id[track_id]
            if track.hits < self.policy.min_hits:
                continue
            view = FaceView(track_id, track.box, track.hits)
            if wanted(view, self.state, frame.time, self.policy):
                quality = face_quality(min(track.box.w, track.box.h), sharpness(frame.image, track.box))
                view = FaceView(track_id, track.box, track.hits, quality)
            views.append(view)
        return tuple(views)


def busy_tick(since_full: float | None, busy_scan_interval: float) -> bool:
    """Whether a tick on which most of the frame changed may skip the whole-frame search:
    the last one was less than `busy_scan_interval` ago. On a busy street the gate opens
    everywhere on every tick, and a search of the whole frame at the smallest face's scale
    on each of them is most of the agent's time; faces found every `busy_scan_interval`
    (0.4 s: twice a second; the bench's walkers move under a face width in that time) are
    followed by the tracker, and every frame that can be sent shows all of them, since
    they were all found in it."""
    return since_full is not None and since_full < busy_scan_interval - 1e-3


def distinct(boxes: list[Box], overlap: float = 0.5) -> list[Box]:
    """One box per face when overlapping searches found it twice, at two sizes as often as
    not: a box mostly inside a larger one is the same face (faces do not nest); the larger
    one is kept."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b.area):
        if all(inside_fraction(box, other) < overlap for other in kept):
            kept.append(box)
    return kept
