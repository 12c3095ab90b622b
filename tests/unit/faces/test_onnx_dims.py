"""onnx_dims frees a model's input and output sizes without touching anything else."""

from __future__ import annotations

from facewatch.faces.onnx_dims import encode, fields, free_image_dims

LEN, VARINT = 2, 0


def dim(value: int) -> bytes:
    return encode([(1, LEN, encode([(1, VARINT, bytes([value]))]))])


def value_info(name: str, dims: list[int]) -> bytes:
    shape = b"".join(dim(d) for d in dims)
    tensor = encode([(1, VARINT, b"\x01"), (2, LEN, shape)])
    return encode([(1, LEN, name.encode()), (2, LEN, encode([(1, LEN, tensor)]))])


def shape_of(info: bytes) -> list[int | str]:
    (tensor,) = [v for n, _, v in fields(info) if n == 2]
    (inner,) = [v for n, _, v in fields(tensor) if n == 1]
    (shape,) = [v for n, _, v in fields(inner) if n == 2]
    out: list[int | str] = []
    for _, _, d in fields(shape):
        ((number, _, raw),) = list(fields(d))
        out.append(raw.decode() if number == 2 else raw[0])
    return out


def model() -> bytes:
    weight = encode([(8, LEN, b"w"), (9, LEN, b"\x00" * 8)])  # TensorProto: name, raw_data
    graph = encode(
        [
            (1, LEN, b"a node"),
            (5, LEN, weight),
            (11, LEN, value_info("input", [10, 3, 32, 32])),
            (11, LEN, value_info("w", [2, 2])),  # an initializer listed as an input
            (12, LEN, value_info("out", [10, 1, 8, 8])),
        ]
    )
    return encode([(1, VARINT, b"\x07"), (7, LEN, graph), (8, LEN, b"opset")])


def test_batch_height_and_width_become_named_and_initializers_leave_the_inputs() -> None:
    out = list(fields(free_image_dims(model())))
    assert [(n, v) for n, _, v in out if n != 7] == [(1, b"\x07"), (8, b"opset")]  # the rest as it was
    (graph,) = [v for n, _, v in out if n == 7]
    parts = list(fields(graph))
    inputs = [v for n, _, v in parts if n == 11]
    outputs = [v for n, _, v in parts if n == 12]
    assert [shape_of(i) for i in inputs] == [["n", 3, "h", "w"]]
    assert [shape_of(o) for o in outputs] == [["n", 1, "h", "w"]]
    assert [v for n, _, v in parts if n in (1, 5)] == [
        b"a node",
        encode([(8, LEN, b"w"), (9, LEN, b"\x00" * 8)]),
    ]


def test_encode_reads_back_what_fields_read() -> None:
    raw = model()
    assert encode(list(fields(raw))) == raw
    big = encode([(3, VARINT, bytes([0xAC, 0x02])), (4, LEN, b"x" * 300)])  # multi-byte varints
    assert [(n, v) for n, _, v in fields(big)] == [(3, bytes([0xAC, 0x02])), (4, b"x" * 300)]
