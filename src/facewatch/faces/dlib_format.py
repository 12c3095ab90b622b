"""Reading dlib's serialization (dlib/serialize.h), for the model files read without dlib
(`facenet.py`: the encoder; `landmarks.py`: the 68-point landmark model)."""

from __future__ import annotations

import numpy as np


class DlibReader:
    """An integer is a control byte (0x80: negative, low nibble: how many little-endian bytes
    follow), a string its length then its bytes, a float its mantissa then its exponent, a
    tensor a version, four dimensions and raw float32s."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def integer(self) -> int:
        control = self.data[self.pos]
        size = control & 0x0F
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def expect(self, value: int, what: str) -> None:
        found = self.integer()
        if found != value:
            raise ValueError(f"{what}: expected {value}, found {found} at byte {self.pos}")

    def text(self) -> str:
        size = self.integer()
        self.pos += size
        return self.data[self.pos - size : self.pos].decode("ascii")

    def float(self) -> float:
        """The models' floats are float32s: the value rounded to one (exact for them)."""
        mantissa, exponent = self.integer(), self.integer()
        if exponent >= 32000:  # dlib's codes for inf and nan
            raise ValueError("a non-finite float in the model")
        return float(np.float32(mantissa * 2.0**exponent))

    def tensor(self) -> np.ndarray:
        if self.integer() != 2:
            raise ValueError("unknown tensor version")
        count = int(np.prod([self.integer() for _ in range(4)]))
        values = np.frombuffer(self.data, "<f4", count, self.pos)
        self.pos += 4 * count
        return values.astype(np.float32)

    def alias(self) -> tuple[int, ...]:
        if self.integer() != 1:
            raise ValueError("unknown alias_tensor version")
        return tuple(self.integer() for _ in range(4))
