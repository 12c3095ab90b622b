"""dlib's face-encoding network, read from its own model file and run with numpy.

dlib-bin runs `dlib_face_recognition_resnet_model_v1.dat` with dlib's own matrix code, one
thread, ~72 ms a face on this project's machine: most of recognize's warm time. The same
weights as numpy matrix products (numpy's OpenBLAS) take ~13 ms on one thread, and the
descriptors equal dlib's within 1e-6 (tests/unit/faces/test_facenet.py). dlib still cuts the
150x150 face chip (`encodings.py`), so the network sees exactly the pixels dlib's would.

The network is the ResNet of dlib's `dnn_face_recognition_ex.cpp`: a 7x7/2 convolution,
3x3/2 max pooling, 14 residual blocks in five levels (32, 64, 128, 256, 256 filters; the
first block of every level but the first halves the size, and its shortcut is 2x2 average
pooling, zero-filled where the two sides differ in channels or size, as dlib's add_prev
does), global average pooling and a 128-wide linear layer. The file is checked against
that shape when it is read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from facewatch.exceptions import ModelsUnavailable
from facewatch.faces.dlib_format import DlibReader

CHIP_PX = 150

# (filters, stride) of each residual block, input side first.
BLOCKS: tuple[tuple[int, int], ...] = (
    ((32, 1),) * 3 + ((64, 2),) + ((64, 1),) * 3 + ((128, 2),) + ((128, 1),) * 2
)
BLOCKS += ((256, 2),) + ((256, 1),) * 2 + ((256, 2),)

# A layer's record starts with its version string (a 1-byte length, then the text). Only
# layers with parameters matter: tags, skips, relu and add_prev carry none, and the way
# they connect the others is fixed by the architecture above.
_RECORD = re.compile(rb"\x01(\x15input_rgb_image_sized|\x05con_4|\x07affine_|\x04fc_2)")


@dataclass(frozen=True)
class Conv:
    """A convolution with the affine (frozen batch-norm) layer after it folded in."""

    weights: np.ndarray  # (filters, size * size * channels): row, column, then channel
    bias: np.ndarray
    size: int
    stride: int
    padding: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x: (n, height, width, channels) -> (n, height', width', filters)."""
        if self.padding:
            p = self.padding
            x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
        columns, shape = _columns(x, self.size, self.stride)
        out = columns @ self.weights.T
        out += self.bias
        return out.reshape(*shape, -1)


def _columns(x: np.ndarray, size: int, stride: int) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Each output position's window as one row (im2col), ordered row, column, channel."""
    n, height, width, channels = x.shape
    out_h, out_w = (height - size) // stride + 1, (width - size) // stride + 1
    if channels < 8:  # the 3-channel input: one strided copy beats 49 thin slices
        windows = sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
        rows = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * out_h * out_w, -1)
    else:  # wide inputs: size*size slabs side by side, 3-5x faster than the 6-d copy
        end_h, end_w = stride * (out_h - 1) + 1, stride * (out_w - 1) + 1
        slabs = [
            x[:, dy : dy + end_h : stride, dx : dx + end_w : stride]
            for dy in range(size)
            for dx in range(size)
        ]
        rows = np.concatenate(slabs, axis=3).reshape(n * out_h * out_w, -1)
    return rows, (n, out_h, out_w)


def _pool(x: np.ndarray, size: int, reduce: str) -> np.ndarray:
    """Pooling with stride 2 and no padding: only whole windows, as dlib sizes it."""
    windows = sliding_window_view(x, (size, size), axis=(1, 2))[:, ::2, ::2]
    return windows.max(axis=(-2, -1)) if reduce == "max" else windows.mean(axis=(-2, -1))


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """dlib's add_prev: the sum over the larger shape, each side zero outside itself."""
    if a.shape == b.shape:
        return a + b
    out = np.zeros(tuple(max(s, t) for s, t in zip(a.shape, b.shape, strict=True)), np.float32)
    out[tuple(slice(0, s) for s in a.shape)] += a
    out[tuple(slice(0, s) for s in b.shape)] += b
    return out


@dataclass(frozen=True)
class FaceNet:
    mean_rgb: np.ndarray
    stem: Conv
    blocks: tuple[tuple[Conv, Conv], ...]
    projection: np.ndarray  # (256, 128)

    @classmethod
    def from_file(cls, path: Path) -> FaceNet:
        try:
            return cls._parse(path.read_bytes())
        except (OSError, ValueError, IndexError) as exc:
            raise ModelsUnavailable(f"{path.name} is not dlib's face ResNet v1 as expected: {exc}") from exc

    @classmethod
    def _parse(cls, data: bytes) -> FaceNet:
        mean: np.ndarray | None = None
        convs: list[Conv] = []
        pending: tuple[np.ndarray, np.ndarray, int, int, int] | None = None
        projection: np.ndarray | None = None
        for match in _RECORD.finditer(data):
            reader = DlibReader(data, match.start())
            kind = reader.text()
            if kind == "input_rgb_image_sized":
                mean = np.array([reader.float() for _ in range(3)], np.float32)
            elif kind == "con_4":
                params = reader.tensor()
                filters, size, _, stride, _, padding, _ = (reader.integer() for _ in range(7))
                shape = reader.alias()
                count = int(np.prod(shape))
                weights = params[:count].reshape(shape).transpose(0, 2, 3, 1).reshape(shape[0], -1)
                pending = (weights, params[count : count + filters], size, stride, padding)
            elif kind == "affine_":
                if pending is None:
                    raise ValueError("an affine layer without a convolution before it")
                params = reader.tensor()
                gamma, beta = np.split(params, 2)
                weights, bias, size, stride, padding = pending
                convs.append(Conv(weights * gamma[:, None], bias * gamma + beta, size, stride, padding))
                pending = None
            else:
                outputs, inputs = reader.integer(), reader.integer()
                projection = reader.tensor().reshape(inputs, outputs)
        if mean is None or projection is None or projection.shape != (256, 128):
            raise ValueError("input or output layer missing")
        net = cls(mean, convs[0], tuple(zip(convs[1::2], convs[2::2], strict=True)), projection)
        net._check(len(convs))
        return net

    def _check(self, conv_count: int) -> None:
        expected = [(32, 3 * 49, 7, 2)]
        width = 32
        for filters, stride in BLOCKS:
            expected += [(filters, width * 9, 3, stride), (filters, filters * 9, 3, 1)]
            width = filters
        found = [(c.weights.shape[0], c.weights.shape[1], c.size, c.stride) for c in self.convs]
        if conv_count != len(expected) or found != expected:
            raise ValueError(f"layers {found} differ from the expected {expected}")

    @property
    def convs(self) -> list[Conv]:
        return [self.stem, *(c for block in self.blocks for c in block)]

    def __call__(self, chips_rgb: np.ndarray) -> np.ndarray:
        """(n, 150, 150, 3) uint8 face chips -> (n, 128) float32 descriptors."""
        x = (chips_rgb.astype(np.float32) - self.mean_rgb) / np.float32(256)
        x = _pool(np.maximum(self.stem(x), 0), 3, "max")
        for first, second in self.blocks:
            y = second(np.maximum(first(x), 0))
            x = np.maximum(_add(y, _pool(x, 2, "mean") if first.stride == 2 else x), 0)
        return x.mean(axis=(1, 2)) @ self.projection
