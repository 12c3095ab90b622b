"""The motion gate: which parts of a frame the detector must look at again."""

import numpy as np

from facewatch.edge.motion import MotionGate, MotionParams
from facewatch.frames import Box

W, H = 640, 360


def scene(noise_seed: int = 0, square: tuple[int, int] | None = None, level: int = 200) -> np.ndarray:
    """A textured background with sensor-like noise, and optionally a bright square."""
    rng = np.random.default_rng(noise_seed)
    base = np.tile((np.arange(W) % 64 * 2).astype(np.uint8), (H, 1))
    image = np.clip(base.astype(int) + rng.integers(-4, 5, size=(H, W)), 0, 255).astype(np.uint8)
    image = np.dstack([image] * 3)
    if square is not None:
        x, y = square
        image[y : y + 60, x : x + 60] = level
    return image


def test_the_first_frame_is_searched_whole():
    gate = MotionGate()
    motion = gate.observe(scene())
    assert motion.full and motion.regions == (Box(0, 0, W, H),)


def test_a_still_scene_with_sensor_noise_needs_no_search():
    gate = MotionGate()
    gate.observe(scene(0))
    gate.commit(None)
    for seed in range(1, 6):
        motion = gate.observe(scene(seed))
        assert not motion.moving
        gate.commit(motion.regions)


def test_something_appearing_is_searched_where_it_appeared_only():
    gate = MotionGate(MotionParams(min_face_px=40))
    gate.observe(scene(0))
    gate.commit(None)
    motion = gate.observe(scene(1, square=(300, 150)))
    assert not motion.full and len(motion.regions) == 1
    (region,) = motion.regions
    assert region.x <= 300 and region.y <= 150
    assert region.x + region.w >= 360 and region.y + region.h >= 210
    assert region.area < W * H / 4  # not the whole frame
    assert gate.changed(Box(300, 150, 60, 60)) and not gate.changed(Box(0, 0, 60, 60))


def test_a_slow_change_accumulates_until_it_is_searched():
    # The reference is only refreshed where the detector looked: a face fading in slowly,
    # a few grey levels a frame, is caught once it has changed enough in all.
    gate = MotionGate(MotionParams(threshold=20))
    gate.observe(scene(0, square=(300, 150), level=100))
    gate.commit(None)
    caught_at = None
    for step in range(1, 12):
        motion = gate.observe(scene(0, square=(300, 150), level=100 + 4 * step))
        if motion.moving:
            caught_at = step
            break
        gate.commit(motion.regions)
    assert caught_at is not None and 4 <= caught_at <= 8


def test_most_of_the_frame_changing_means_a_whole_search():
    gate = MotionGate()
    gate.observe(scene(0))
    gate.commit(None)
    motion = gate.observe(255 - scene(0))
    assert motion.full


def test_a_new_resolution_starts_over():
    gate = MotionGate()
    gate.observe(scene(0))
    gate.commit(None)
    assert gate.observe(np.zeros((720, 1280, 3), np.uint8)).full
