"""dlib's 68-point landmark model, read once from its own file into numpy arrays and kept
in a cache directory, so that a new process maps it in a few milliseconds instead of
letting dlib parse 100 MB (~0.5 s of every cold start, holding the GIL).

dlib stores each of the model's 16 million floats as two variable-length integers (a
mantissa and an exponent); `dlib.shape_predictor(path)` decodes them one by one. The same
numbers as one float32 array (`leaves.npy`, 65 MB) are memory-mapped: a face touches 7,500
of its 120,000 leaf vectors (one per tree), so a cold start reads ~4 MB of it.

`LandmarkModel.__call__` is dlib's `shape_predictor::operator()` (dlib/image_processing/
shape_predictor.h) step for step, in the same float32 and float64 arithmetic: 15 cascades;
each maps its 400 feature pixels from the mean shape onto the current shape by the
similarity transform between the two (Umeyama, as dlib's find_similarity_transform), reads
their grey levels ((r + g + b) // 3, 0 outside the image), walks 500 depth-4 trees on pixel
differences and adds the reached leaves to the shape one after another, as dlib does. The
68 points are rounded to whole pixels as dlib rounds them, so the chips dlib cuts from them
are the same pixels and the encodings the same bits: tests/unit/faces/test_landmarks.py
compares the points with dlib's own on every test photo and on random boxes.

The arrays are kept by model_cache.py (built from the installed face_recognition_models
file on first use or ahead, keyed by its SHA-256); models.shape_predictor() loads them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from facewatch.faces.dlib_format import DlibReader

_LEAF_HEADER = b"\x81\x88\x81\x01"  # a leaf vector: dlib's matrix header, -136 rows, -1 column


def _integers(data: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One dlib integer at each of the offsets `pos`, all at once: (values, next offsets)."""
    control = data[pos].astype(np.int64)
    size = control & 0x0F
    value = np.zeros(len(pos), np.int64)
    for k in range(int(size.max(initial=0))):
        has = size > k
        byte = data[np.where(has, pos + 1 + k, 0)].astype(np.int64)
        value |= np.where(has, byte << (8 * k), 0)
    return np.where(control & 0x80, -value, value), pos + 1 + size


def _floats(data: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mantissa, pos = _integers(data, pos)
    exponent, pos = _integers(data, pos)
    if (exponent >= 32000).any():
        raise ValueError("a non-finite float in the model")
    return np.ldexp(mantissa.astype(np.float64), exponent.astype(np.int32)).astype(np.float32), pos


@dataclass(frozen=True)
class Arrays:
    """The model's contents, as dlib's shape_predictor holds them."""

    initial_shape: np.ndarray  # (136,) float32: the mean shape, x0 y0 x1 y1 ..., in box units
    split_idx1: np.ndarray  # (cascades, trees, splits) int16: feature pixel indices
    split_idx2: np.ndarray
    split_thresh: np.ndarray  # (cascades, trees, splits) float32
    leaves: np.ndarray  # (cascades * trees * leaves, 136) float32
    anchor_idx: np.ndarray  # (cascades, pixels) int16: the landmark each feature pixel hangs on
    deltas: np.ndarray  # (cascades, pixels, 2) float32: its offset from that landmark

    def as_dict(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, arrays: dict[str, np.ndarray]) -> Arrays:
        """Checked for the shapes dlib's model has (an incomplete cache entry fails here)."""
        out = cls(**{f.name: arrays[f.name] for f in fields(cls)})
        cascades, trees, splits = out.split_idx1.shape
        pixels = out.anchor_idx.shape[1]
        expected = {
            "initial_shape": (136,),
            "split_idx2": (cascades, trees, splits),
            "split_thresh": (cascades, trees, splits),
            "leaves": (cascades * trees * (splits + 1), 136),
            "anchor_idx": (cascades, pixels),
            "deltas": (cascades, pixels, 2),
        }
        for name, shape in expected.items():
            if getattr(out, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(out, name).shape}, not {shape}")
        if (splits + 1) & splits:
            raise ValueError("trees not complete")
        return out


def parse(raw: bytes) -> Arrays:
    """dlib's shape_predictor file (serialize(shape_predictor), version 1) as arrays. The
    leaf vectors are found by their header and decoded side by side; everything is then
    walked in order, and every leaf must end where the next record begins. ValueError if
    the file is not such a model, or not all of one."""
    try:
        return _parse(raw)
    except IndexError as exc:
        raise ValueError(f"the model ends early ({exc})") from exc


def _parse(raw: bytes) -> Arrays:
    data = np.frombuffer(raw, np.uint8)
    r = DlibReader(raw)
    r.expect(1, "version")
    r.expect(-136, "initial shape rows")
    r.expect(-1, "initial shape columns")
    initial = np.array([r.float() for _ in range(136)], np.float32)
    cascades = r.integer()
    first_tree = r.pos
    # Every leaf header in the file; the walk below proves each one is a leaf and none is missed.
    starts, at = [], raw.find(_LEAF_HEADER, first_tree)
    while at >= 0:
        starts.append(at)
        at = raw.find(_LEAF_HEADER, at + 1)
    heads = np.array(starts, np.int64)
    values = np.empty((len(heads), 136), np.float32)
    pos = heads + len(_LEAF_HEADER)
    for j in range(136):
        values[:, j], pos = _floats(data, pos)
    ends = pos
    leaf_of = {int(h): i for i, h in enumerate(heads)}

    idx1: list[list[list[int]]] = []
    idx2: list[list[list[int]]] = []
    thresh: list[list[list[float]]] = []
    order: list[int] = []
    r.pos = first_tree
    trees = splits = leaves_per_tree = 0
    for c in range(cascades):
        n_trees = r.integer()
        trees = trees or n_trees
        if n_trees != trees:
            raise ValueError("cascades of different sizes")
        idx1.append([])
        idx2.append([])
        thresh.append([])
        for _ in range(trees):
            n_splits = r.integer()
            splits = splits or n_splits
            if n_splits != splits:
                raise ValueError("trees of different depths")
            tree = [(r.integer(), r.integer(), r.float()) for _ in range(splits)]
            idx1[c].append([s[0] for s in tree])
            idx2[c].append([s[1] for s in tree])
            thresh[c].append([s[2] for s in tree])
            r.expect(splits + 1, "leaves in a tree")
            leaves_per_tree = splits + 1
            for _ in range(leaves_per_tree):
                leaf = leaf_of.get(r.pos)
                if leaf is None:
                    raise ValueError(f"no leaf where one should start (byte {r.pos})")
                order.append(leaf)
                r.pos = int(ends[leaf])
    if len(order) != len(heads) or order != list(range(len(heads))):
        raise ValueError("leaf headers found outside the trees")
    r.expect(cascades, "anchor lists")
    anchors = []
    for _ in range(cascades):
        anchors.append([r.integer() for _ in range(r.integer())])
    r.expect(cascades, "delta lists")
    deltas = []
    for _ in range(cascades):
        deltas.append([(r.float(), r.float()) for _ in range(r.integer())])
    if r.pos != len(raw):
        raise ValueError(f"{len(raw) - r.pos} bytes after the model")
    arrays = Arrays(
        initial,
        np.array(idx1, np.int16),
        np.array(idx2, np.int16),
        np.array(thresh, np.float32),
        values,
        np.array(anchors, np.int16),
        np.array(deltas, np.float32),
    )
    pixels = arrays.anchor_idx.shape[1]
    if max(arrays.split_idx1.max(), arrays.split_idx2.max()) >= pixels or arrays.anchor_idx.max() >= 68:
        raise ValueError("an index out of range")
    return arrays


def _similarity(centred_src: np.ndarray, src_norm: float, dst: np.ndarray) -> np.ndarray:
    """The 2x2 part of dlib's find_similarity_transform(src, dst), in float64; `centred_src`
    is src minus its mean, `src_norm` its sum of squares.

    dlib computes it as Umeyama does, by the SVD of the 2x2 covariance C = B^T A / n (A, B:
    the centred points) with a sign fix against reflections: c·R = tr(D·S) / sigma_A² ·
    U·S·V^T. In the plane that is [[p, -q], [q, p]] with p = (C00 + C11) / sigma_A² and
    q = (C10 - C01) / sigma_A², whatever the sign of det C (|tr(D·S)| is the length of (p, q)
    times sigma_A² either way). The two agree to the last bits of a float64; dlib casts the
    matrix to float32 before using it."""
    b = dst - dst.mean(axis=0)
    cov = b.T @ centred_src  # n·C
    p = (cov[0, 0] + cov[1, 1]) / src_norm
    q = (cov[1, 0] - cov[0, 1]) / src_norm
    return np.array([[p, -q], [q, p]])


@dataclass(frozen=True)
class LandmarkModel:
    """A 68-point dlib.shape_predictor, evaluated in numpy (module docstring)."""

    arrays: Arrays

    def __post_init__(self) -> None:
        a = self.arrays
        cascades, trees, splits = a.split_idx1.shape
        mean = a.initial_shape.reshape(-1, 2).astype(np.float64)
        centred = mean - mean.mean(axis=0)
        derived = {
            "_centred_mean": centred,
            "_mean_norm": float((centred * centred).sum()),
            # per cascade and tree: the row of its first leaf in `leaves`
            "_first_leaf": (np.arange(cascades * trees) * (splits + 1)).reshape(cascades, trees) - splits,
            "_idx1": a.split_idx1.astype(np.intp),
            "_idx2": a.split_idx2.astype(np.intp),
            "_anchor": a.anchor_idx.astype(np.intp),
            "_dx": np.ascontiguousarray(a.deltas[:, :, 0]),
            "_dy": np.ascontiguousarray(a.deltas[:, :, 1]),
            "_trees": np.arange(trees),
            "_depth": splits.bit_length(),  # 15 splits: 4 levels
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def points(self, image: np.ndarray, left: int, top: int, right: int, bottom: int) -> np.ndarray:
        """The 68 landmarks, (68, 2) int64 (x, y), for the box [left, right] x [top, bottom]."""
        d: dict[str, Any] = self.__dict__
        a = self.arrays
        height, width = image.shape[:2]
        sx, sy = float(right - left), float(bottom - top)
        trees, first_leaf = d["_trees"], d["_first_leaf"]
        current = a.initial_shape.copy()
        rows = np.empty((len(trees) + 1, current.size), np.float32)
        for c in range(len(first_leaf)):
            shape = current.reshape(-1, 2)
            t = _similarity(d["_centred_mean"], d["_mean_norm"], shape.astype(np.float64)).astype(np.float32)
            dx, dy, anchor = d["_dx"][c], d["_dy"][c], shape[d["_anchor"][c]]
            # float32, in dlib's order: (t00·dx + t01·dy) + anchor; then float64 into the box
            u = (t[0, 0] * dx + t[0, 1] * dy) + anchor[:, 0]
            v = (t[1, 0] * dx + t[1, 1] * dy) + anchor[:, 1]
            x = np.floor(sx * u.astype(np.float64) + left + 0.5).astype(np.intp)
            y = np.floor(sy * v.astype(np.float64) + top + 0.5).astype(np.intp)
            outside = (x < 0) | (x >= width) | (y < 0) | (y >= height)
            if outside.any():
                x[outside] = 0
                y[outside] = 0
            px = image[y, x].astype(np.int32)
            grey = (px[:, 0] + px[:, 1] + px[:, 2]) // 3 if px.ndim == 2 else px
            grey[outside] = 0
            features = grey.astype(np.float32)
            go_left = (features[d["_idx1"][c]] - features[d["_idx2"][c]]) > a.split_thresh[c]
            node = np.zeros(len(trees), np.intp)
            for _ in range(d["_depth"]):
                node = 2 * node + 2 - go_left[trees, node]
            rows[0] = current
            np.take(a.leaves, first_leaf[c] + node, axis=0, out=rows[1:])
            current = np.add.reduce(rows, axis=0)  # row after row, as dlib's += per tree
        shape64 = current.reshape(-1, 2).astype(np.float64)
        xs = np.floor(sx * shape64[:, 0] + left + 0.5)
        ys = np.floor(sy * shape64[:, 1] + top + 0.5)
        return np.stack([xs, ys], axis=1).astype(np.int64)

    def __call__(self, image: np.ndarray, rect: Any) -> Any:
        """As dlib.shape_predictor's call: an RGB or grey uint8 image and a dlib.rectangle,
        giving a dlib.full_object_detection."""
        import dlib

        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
            raise ValueError("Unsupported image type, must be 8bit gray or RGB image.")
        found = self.points(image, rect.left(), rect.top(), rect.right(), rect.bottom())
        return dlib.full_object_detection(rect, [dlib.point(x, y) for x, y in found.tolist()])
