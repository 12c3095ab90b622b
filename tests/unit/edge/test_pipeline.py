"""The edge pipeline's choices on synthetic frames, with a detector that finds white squares:
what is searched, what is vouched for, what is sent."""

import itertools
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from facewatch.edge.capture import Frame
from facewatch.edge.pipeline import EdgePipeline, busy_tick
from facewatch.frames import Box

W, H, FPS = 640, 360, 10
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class SquareDetector:
    """Finds white squares (the 'faces') in grey frames; counts the pixels it searched."""

    name = "squares"
    min_face_px = 40
    window_px = 24

    def __init__(self) -> None:
        self.searched_px = 0
        self.calls = 0

    def search_scale(self, frame_width: int) -> float:
        return 1.0

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        return self.detect_in(image_bgr, None, 1.0, self.min_face_px)

    def detect_in(self, image_bgr, region, scale, min_px, max_px=None):
        x0, y0 = (region.x, region.y) if region else (0, 0)
        crop = image_bgr if region is None else image_bgr[y0 : y0 + region.h, x0 : x0 + region.w]
        self.calls += 1
        self.searched_px += crop.shape[0] * crop.shape[1]
        mask = (crop[:, :, 0] == 255).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        boxes = [Box(int(s[0]) + x0, int(s[1]) + y0, int(s[2]), int(s[3])) for s in stats[1:count]]
        return [b for b in boxes if min(b.w, b.h) >= min_px and (max_px is None or b.w <= max_px * 1.15)]


def frame(index: int, squares: list[tuple[int, int]] = ()) -> Frame:
    image = np.full((H, W, 3), 90, np.uint8)
    for x, y in squares:
        image[y : y + 60, x : x + 60] = 255
        image[y + 20 : y + 25, x + 15 : x + 45] = 0  # some texture, so it is "sharp"
    return Frame(image, index, index / FPS, T0 + timedelta(seconds=index / FPS))


def play(frames: list[Frame]) -> tuple[EdgePipeline, SquareDetector, list[tuple[int, tuple[int, ...]]]]:
    detector = SquareDetector()
    pipeline = EdgePipeline(detector)
    sent = []
    for f in frames:
        out = pipeline.process(f)
        if out is not None:
            sent.append((out.frame.index, tuple(v.track_id for v in out.views)))
    out = pipeline.finish()
    if out is not None:
        sent.append((out.frame.index, tuple(v.track_id for v in out.views)))
    return pipeline, detector, sent


def test_a_visitor_standing_still_is_sent_about_every_interval_without_being_searched_again():
    frames = [frame(i) for i in range(10)] + [frame(i, [(300, 150)]) for i in range(10, 60)]
    pipeline, detector, sent = play(frames)
    assert sent[0][0] in (10, 11)  # confirmed the frame after it appeared, sent at once
    assert {tracks for _, tracks in sent} == {(1,)}
    times = [i / FPS for i, _ in sent]
    assert all(0.3 - 1e-9 <= b - a <= 0.8 for a, b in itertools.pairwise(times))
    # Ticks every 0.2 s for 5 s, but the still face was vouched for: what was searched is
    # the whole frame on the first tick, at the arrival, and every 2 s (the safety net).
    assert pipeline.summary.full_scans <= 5
    assert detector.searched_px < 8 * W * H


def test_a_face_seen_in_one_frame_only_is_never_sent():
    frames = [frame(i) for i in range(10)] + [frame(10, [(300, 150)])] + [frame(i) for i in range(11, 30)]
    _, _, sent = play(frames)
    assert sent == []


def test_a_walking_face_keeps_its_track_and_two_faces_share_frames():
    walk = [frame(i, [(20 + 12 * i, 100), (500, 200)]) for i in range(40)]
    _, _, sent = play(walk)
    assert sent and all(tracks == (1, 2) or set(tracks) == {1, 2} for _, tracks in sent)
    assert len(sent) <= 40 / FPS / (1 / 3) + 1  # at most one frame per min_gap


def busy(index: int, squares: list[tuple[int, int]] = ()) -> Frame:
    """A frame in which everything changes: a camera shaking over a random texture."""
    out = frame(index, squares)
    noise = np.random.default_rng(index).integers(0, 200, (H // 8, W // 8), dtype=np.uint8)
    texture = cv2.resize(noise, (W, H), interpolation=cv2.INTER_NEAREST)
    image = out.image
    plain = image[:, :, 0] == 90
    image[plain] = texture[plain][:, None]
    return out


def test_busy_tick_skips_the_whole_frame_search_only_soon_after_one():
    assert not busy_tick(None, 0.4)  # never searched: search
    assert busy_tick(0.2, 0.4)
    assert not busy_tick(0.4, 0.4)  # due (within a millisecond of the interval)
    assert not busy_tick(0.3995, 0.4)
    assert not busy_tick(0.2, 0.2)


def test_a_busy_scene_is_searched_whole_every_busy_interval_and_its_faces_still_sent():
    # 6 s of a scene that changes everywhere on every frame, a face walking through it
    walk = [busy(i, [(20 + 8 * i, 150)]) for i in range(60)]
    pipeline, detector, sent = play(walk)
    # Ticks every 0.2 s, whole-frame searches only every 0.4 s: 15, not 30.
    assert pipeline.summary.full_scans == 15
    assert detector.searched_px < 16 * W * H
    assert sent and {tracks for _, tracks in sent} == {(1,)}
    times = [i / FPS for i, _ in sent]
    assert all(b - a <= 0.8 + 1e-9 for a, b in itertools.pairwise(times))  # every second covered
    assert pipeline.summary.tracks == 1  # carried between searches, not lost and found again


def test_the_pipeline_wants_only_the_frames_it_looks_at():
    pipeline = EdgePipeline(SquareDetector())
    wanted = []
    frames = [frame(i) for i in range(5)] + [frame(i, [(300, 150)]) for i in range(5, 12)]
    for f in frames:
        wanted.append(pipeline.wants(f.time))
        if wanted[-1]:
            pipeline.process(f)
    # ticks at 0, 0.2, 0.4, 0.6, 0.8, 1.0 s (frames 0, 2, 4, ...); the face appears at frame 5,
    # is first found at the tick of frame 6, and frame 7 confirms it.
    assert [i for i, w in enumerate(wanted) if w] == [0, 2, 4, 6, 7, 8, 10]
