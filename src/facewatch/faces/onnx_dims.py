"""Make a fixed-shape ONNX model's input and output sizes free, without the `onnx` package.

CenterFace's ONNX file (faces/centerface.py) declares its input as 10x3x32x32. OpenCV's dnn
ignores declared shapes, onnxruntime enforces them: to run the same file at any frame size
the batch, height and width of the graph's inputs and outputs become named free dimensions
("n", "h", "w"). The initializers the exporter also listed as graph inputs (BatchNorm's
`num_batches_tracked` and the like) are dropped from the inputs: listed there, onnxruntime
must treat them as overridable and cannot fold them into the convolutions.

An ONNX file is one protobuf `ModelProto`; only the few fields on the way to the shapes are
read, every other byte is copied unchanged, so the weights and the graph stay exactly as
shipped. Field numbers are onnx.proto3's: ModelProto.graph = 7; GraphProto.initializer = 5,
input = 11, output = 12; ValueInfoProto.name = 1, type = 2; TypeProto.tensor_type = 1;
Tensor.shape = 2; TensorShapeProto.dim = 1; Dimension.dim_value = 1, dim_param = 2;
TensorProto.name = 8."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5

Field = tuple[int, int, bytes]
"""(field number, wire type, the value's bytes: a varint's encoding or a LEN's payload)."""


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def fields(buf: bytes) -> Iterator[Field]:
    """The top-level fields of one protobuf message, in order."""
    pos = 0
    while pos < len(buf):
        tag, pos = _read_varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == _VARINT:
            start = pos
            _, pos = _read_varint(buf, pos)
            yield number, wire, buf[start:pos]
        elif wire == _LEN:
            length, pos = _read_varint(buf, pos)
            yield number, wire, buf[pos : pos + length]
            pos += length
        elif wire in (_I64, _I32):
            size = 8 if wire == _I64 else 4
            yield number, wire, buf[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} (groups are not used by ONNX)")


def encode(items: Sequence[Field]) -> bytes:
    out = bytearray()
    for number, wire, value in items:
        out += _varint(number << 3 | wire)
        if wire == _LEN:
            out += _varint(len(value))
        out += value
    return bytes(out)


def _string(buf: bytes, number: int) -> str | None:
    return next((v.decode() for n, w, v in fields(buf) if n == number and w == _LEN), None)


def _free_dims(value_info: bytes, names: dict[int, str]) -> bytes:
    """A ValueInfoProto with the dimensions at these indices turned into named parameters."""

    def dims(shape: bytes) -> bytes:
        out, index = [], 0
        for n, w, v in fields(shape):
            if n == 1 and w == _LEN:
                if index in names:
                    v = encode([(2, _LEN, names[index].encode())])
                index += 1
            out.append((n, w, v))
        return encode(out)

    def rewrite(buf: bytes, path: Sequence[int]) -> bytes:
        if not path:
            return dims(buf)
        return encode(
            [(n, w, rewrite(v, path[1:]) if n == path[0] and w == _LEN else v) for n, w, v in fields(buf)]
        )

    return rewrite(value_info, (2, 1, 2))  # type → tensor_type → shape


def free_image_dims(model: bytes, names: dict[int, str] | None = None) -> bytes:
    """The model with its graph inputs' and outputs' batch, height and width free (indices
    0, 2 and 3 of NCHW by default), and its initializers no longer listed as inputs."""
    names = {0: "n", 2: "h", 3: "w"} if names is None else names
    top = list(fields(model))
    graph_at = next((i for i, (n, w, _) in enumerate(top) if n == 7 and w == _LEN), None)
    if graph_at is None:
        raise ValueError("not an ONNX model: no graph")
    graph = list(fields(top[graph_at][2]))
    initializers = {_string(v, 8) for n, w, v in graph if n == 5 and w == _LEN}
    out: list[Field] = []
    for n, w, v in graph:
        if n == 11 and w == _LEN and _string(v, 1) in initializers:
            continue
        if n in (11, 12) and w == _LEN:
            v = _free_dims(v, names)
        out.append((n, w, v))
    top[graph_at] = (7, _LEN, encode(out))
    return encode(top)
