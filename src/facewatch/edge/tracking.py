"""Following faces across frames, and choosing which frames to upload: pure functions on plain
data (no images, no clocks), so every decision the edge agent takes can be unit-tested.

Times are seconds on the source's own clock (a file's position, a camera's monotonic time).

Tracking. The agent does not detect on every frame (see agent.py), so two detections of a
face can be a few frames apart: a walking face moves more than its own width in 0.2 s at
1080p, and plain IoU would start a new track at every detection. A track is matched to
the detection nearest its position predicted from its velocity, within a gate that grows
with the time since it was last seen (a head moves at most `max_speed` face widths per
second); after one match the prediction carries it, and an IoU-style overlap is then what
the match amounts to. Assignment is greedy, nearest first: faces in one frame are rarely
closer to each other than to themselves a few frames later.

Uploads. A track is worth a frame when it is new (the first frame once it is confirmed by
a second detection: one-off Haar false positives die unconfirmed) and then again each
`interval`, or up to `lookahead` sooner when it is seen now (the next look may miss it).
Once a track falls due the policy holds the best frame seen during
`prefer_window` (largest and sharpest faces, see `face_quality`) and sends that; a frame
sent for one track counts for every track boxed in it. However many faces there are, at
most one frame leaves per `min_gap`: a crowd shares frames instead of multiplying them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from facewatch.frames import Box

# --- tracking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackParams:
    max_speed: float = 10.0
    """Face widths per second a head can move (a brisk walk across the view: ~1.5 m/s for a
    ~0.15 m face)."""
    reach_time: float = 0.25
    """The longest gap over which that speed is allowed for: a face unseen for longer is
    only matched near where it was predicted. Joining two people into one track is the
    worse error (recognize continues a visit by track id, so the second person could
    join the first one's visit unannounced); splitting one into two costs one frame."""
    jitter: float = 0.5
    """Face widths a detector's box wobbles by on a face that does not move."""
    max_size_change: float = 1.6
    """Largest ratio between a track's width and its next detection's (detectors step
    scales by 1.1, and a face walks towards the camera)."""
    max_age: float = 1.0
    """Seconds a track may go unfound while its place is searched before it ends."""
    max_unseen: float = 3.0
    """Seconds after which a track ends even if its place was not searched (its prediction
    left the view, say): nothing vouched for it all that time."""
    velocity_smoothing: float = 0.5
    """Weight of the newest displacement in the velocity estimate."""


@dataclass(frozen=True, slots=True)
class Track:
    id: int
    box: Box
    born: float
    last_seen: float
    hits: int = 1
    """Detections matched to it (a track vouched for by the motion gate gains none)."""
    misses: int = 0
    """Consecutive searches of its place that did not find it."""
    vx: float = 0.0
    vy: float = 0.0
    """Velocity of the box centre, pixels per second."""

    def predicted(self, now: float, horizon: float = 0.5) -> Box:
        """Where the box should be now, extrapolating its velocity at most `horizon` seconds."""
        dt = min(max(0.0, now - self.last_seen), horizon)
        return Box(round(self.box.x + self.vx * dt), round(self.box.y + self.vy * dt), self.box.w, self.box.h)


@dataclass(frozen=True, slots=True)
class TrackStep:
    tracks: tuple[Track, ...]
    next_id: int
    matched: Mapping[int, int] = field(default_factory=dict)
    """Detection index → track id, for every detection (new tracks included)."""
    born: tuple[int, ...] = ()
    ended: tuple[int, ...] = ()


def center(box: Box) -> tuple[float, float]:
    return box.x + box.w / 2, box.y + box.h / 2


def match_distance(track: Track, detection: Box, now: float, params: TrackParams) -> float | None:
    """Distance from the track's predicted centre to the detection's, in face widths, or
    None when the detection cannot be this face (too far for the time elapsed, or, for a
    track missed since, for its own motion; or too different in size)."""
    ratio = max(detection.w, track.box.w) / max(1, min(detection.w, track.box.w))
    if ratio > params.max_size_change:
        return None
    predicted = track.predicted(now)
    (px, py), (dx, dy) = center(predicted), center(detection)
    width = max(1.0, (predicted.w + detection.w) / 2)
    distance = math.hypot(dx - px, dy - py) / width
    if track.misses:
        # Looked for and not found since: it has more likely left than moved unpredictably,
        # so only a detection where its own motion puts it continues it. Someone stepping
        # in where another just left is a new person.
        gate = params.jitter
    else:
        elapsed = min(max(0.0, now - track.last_seen), params.reach_time)
        gate = params.jitter + params.max_speed * elapsed
    return distance if distance <= gate else None


def associate(
    tracks: Sequence[Track], detections: Sequence[Box], now: float, params: TrackParams
) -> dict[int, int]:
    """Detection index → track index, greedily nearest first, one to one."""
    pairs = sorted(
        (d, ti, di)
        for ti, track in enumerate(tracks)
        for di, box in enumerate(detections)
        if (d := match_distance(track, box, now, params)) is not None
    )
    taken_tracks: set[int] = set()
    out: dict[int, int] = {}
    for _, ti, di in pairs:
        if ti not in taken_tracks and di not in out:
            taken_tracks.add(ti)
            out[di] = ti
    return out


def _moved(track: Track, box: Box, now: float, params: TrackParams) -> Track:
    dt = now - track.last_seen
    (ox, oy), (nx, ny) = center(track.box), center(box)
    if dt > 0:
        a = params.velocity_smoothing if track.hits > 1 else 1.0
        vx = a * (nx - ox) / dt + (1 - a) * track.vx
        vy = a * (ny - oy) / dt + (1 - a) * track.vy
        # Two boxes a frame apart give a noisy speed (a few pixels of detector jitter over
        # 1/30 s): no head moves faster than max_speed face widths a second.
        limit = params.max_speed * max(box.w, track.box.w)
        speed = math.hypot(vx, vy)
        if speed > limit:
            vx, vy = vx * limit / speed, vy * limit / speed
    else:
        vx, vy = track.vx, track.vy
    return replace(track, box=box, last_seen=now, hits=track.hits + 1, misses=0, vx=vx, vy=vy)


def is_searched(box: Box, searched: Sequence[Box] | None) -> bool:
    """Whether a detector ran over (most of) this box: None means the whole frame."""
    if searched is None:
        return True
    return any(inside_fraction(box, region) >= 0.5 for region in searched)


def inside_fraction(box: Box, region: Box) -> float:
    """How much of `box` lies inside `region` (0 to 1)."""
    ix = max(0, min(box.x + box.w, region.x + region.w) - max(box.x, region.x))
    iy = max(0, min(box.y + box.h, region.y + region.h) - max(box.y, region.y))
    return ix * iy / max(1, box.area)


def step_tracks(
    tracks: Sequence[Track],
    detections: Sequence[Box],
    now: float,
    *,
    next_id: int,
    searched: Sequence[Box] | None = None,
    vouched: Iterable[int] = (),
    params: TrackParams = TrackParams(),
) -> TrackStep:
    """Advance the tracks to `now` with this frame's detections.

    `searched` are the regions the detector ran over (None: all of it): a track outside
    them was not looked for and neither gains nor loses, up to `max_unseen`. `vouched` are tracks the motion
    gate says have not changed since they were last found: still there, same box. A track
    looked for and not found for `max_age` seconds ends."""
    vouched = set(vouched)
    links = associate(tracks, detections, now, params)
    by_track = {ti: di for di, ti in links.items()}
    kept: list[Track] = []
    ended: list[int] = []
    matched: dict[int, int] = {}
    for ti, track in enumerate(tracks):
        if ti in by_track:
            di = by_track[ti]
            kept.append(_moved(track, detections[di], now, params))
            matched[di] = track.id
        elif track.id in vouched and track.misses == 0:
            kept.append(replace(track, last_seen=now))
        elif is_searched(track.predicted(now), searched):
            if now - track.last_seen >= params.max_age:
                ended.append(track.id)
            else:
                kept.append(replace(track, misses=track.misses + 1))
        elif now - track.last_seen >= params.max_unseen:
            ended.append(track.id)
        else:
            kept.append(track)
    born: list[int] = []
    for di, box in enumerate(detections):
        if di not in links:
            kept.append(Track(id=next_id, box=box, born=now, last_seen=now))
            matched[di] = next_id
            born.append(next_id)
            next_id += 1
    return TrackStep(tuple(kept), next_id, matched, tuple(born), tuple(ended))


# --- uploads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadPolicy:
    interval: float = 0.5
    """One frame per track per this many seconds (`lookahead` sooner at most). With
    `prefer_window` and a frame or two of detection latency, consecutive frames of a face
    stay under 1 s apart: every second a face is in view gives recognition a frame of it."""
    prefer_window: float = 0.2
    """Once a track is due, how long to keep looking for a better frame of it."""
    min_gap: float = 1 / 3
    """At most one frame per this many seconds, whatever the number of faces."""
    min_hits: int = 2
    """Detections before a track is believed (a single Haar hit is often texture)."""
    lookahead: float = 0.2
    """A face seen now that falls due within this long counts as due: the agent's next look
    (a detection tick, 0.2 s later) may not find it again, and a face the detector finds
    only now and then would otherwise go a whole second unsent."""


@dataclass(frozen=True, slots=True)
class FaceView:
    """A tracked face as it appears in the current frame."""

    track_id: int
    box: Box
    hits: int
    quality: float = 1.0


@dataclass(frozen=True, slots=True)
class Held:
    """The best frame kept so far for the tracks that are due."""

    time: float
    score: float
    deadline: float
    track_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class PolicyState:
    last_upload: Mapping[int, float] = field(default_factory=dict)
    """Track id → capture time of the last frame sent with it."""
    last_sent: float | None = None
    held: Held | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    hold_current: bool = False
    """Keep the current frame: it is now the held candidate."""
    send: Literal["none", "current", "held"] = "none"


def face_quality(face_px: int, sharpness: float) -> float:
    """How useful a view of a face is to recognition: its size up to the 150 px the encoder
    works at, times its sharpness up to a Laplacian variance of 100 (well past recognize's
    blur limit), so a large blurred face does not beat a sharp one of fair size."""
    return min(face_px, 150) * min(1.0, max(0.0, sharpness) / 100.0)


def wanted(view: FaceView, state: PolicyState, now: float, policy: UploadPolicy) -> Literal["new", "due", ""]:
    if view.hits < policy.min_hits:
        return ""
    last = state.last_upload.get(view.track_id)
    if last is None:
        return "new"
    return "due" if now - last >= policy.interval - policy.lookahead - 1e-9 else ""


def decide(
    views: Sequence[FaceView], now: float, state: PolicyState, policy: UploadPolicy
) -> tuple[PolicyState, Decision]:
    """What to do with the current frame, given the faces in it (every view's box is current).

    A new track is sent at the first free slot, a due one after `prefer_window` spent
    keeping the frame that shows the wanted faces best. Returns the next state; when a
    frame is sent every track boxed in it counts as uploaded at that frame's time."""
    needs = {v.track_id: wanted(v, state, now, policy) for v in views}
    needed = [v for v in views if needs[v.track_id]]
    slot_open = state.last_sent is None or now - state.last_sent >= policy.min_gap - 1e-9
    held, hold_current = state.held, False
    if needed:
        score = sum(v.quality for v in needed) + 1e-6 * len(views)
        ids = frozenset(v.track_id for v in views)
        new = {v.track_id for v in needed if needs[v.track_id] == "new"}
        if new:
            # A new face goes out at the first free slot, in a frame that shows it.
            if held is None or not new <= held.track_ids or score > held.score:
                held, hold_current = Held(now, score, now, ids), True
            else:
                held = replace(held, deadline=min(held.deadline, now))
        elif held is None:
            held, hold_current = Held(now, score, now + policy.prefer_window, ids), True
        elif score > held.score:
            held, hold_current = Held(now, score, held.deadline, ids), True
    if held is None or now < held.deadline - 1e-9 or not slot_open:
        return replace(state, held=held), Decision(hold_current=hold_current)
    uploads = dict(state.last_upload)
    for track_id in held.track_ids:
        uploads[track_id] = held.time
    sent = PolicyState(uploads, now, None)
    return sent, Decision(hold_current=False, send="current" if hold_current else "held")


def forget(state: PolicyState, ended: Iterable[int]) -> PolicyState:
    """Drop ended tracks from the state (a held frame still goes out for them)."""
    gone = set(ended)
    if not gone:
        return state
    return replace(state, last_upload={k: v for k, v in state.last_upload.items() if k not in gone})
