"""Record batches -> the bytes of a TFRecord file of ``tf.Example``s, vectorized.

Each row becomes one ``tf.Example`` serialized canonically: exactly the bytes
of ``SerializeToString(deterministic=True)`` (feature map sorted by name). The
same rows must give the same bytes in every run, and protobuf's own encoders
(tfx_bsl's included) write the map in an order that changes from process to
process. When every column holds one float32, int64 or bytes value per row
(what ``FixedLenFeature([])`` features give), the protobuf wire format is
built with numpy, one column at a time; other batches go row by row through
tfx_bsl's encoder and a deterministic re-serialization.

The protobuf layout, outermost first: ``Example{1: Features{1: entry{1: key,
2: Feature{1: BytesList | 2: FloatList | 3: Int64List {1: values}}}}}``;
every message field is length-delimited (wire type 2). A TFRecord frames each
record as: length (uint64), masked crc32c of the length, data, masked crc32c
of the data.
"""

from collections.abc import Sequence
from typing import NamedTuple

import google_crc32c
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike

VALUE_TAGS = {"float": 0x12, "int64": 0x1A, "bytes": 0x0A}  # Feature's oneof: field number << 3 | 2
FIELD_1, FIELD_2 = 0x0A, 0x12  # field 1 / field 2, length-delimited
CRC_MASK_DELTA = 0xA282EAD8
VARINT_LIMITS = np.array([1 << (7 * k) for k in range(1, 10)], np.uint64)  # a varint grows a byte at each
# A length: one int when it is the same in every row, else one per row.
Length = int | np.ndarray
# A part of every row: constant bytes, or a (rows, width) byte matrix with its per-row widths (None: all of it).
Part = bytes | tuple[np.ndarray, np.ndarray | None]


class Chunk(NamedTuple):
    """TFRecord file bytes, and where each record's payload (its ``tf.Example``) lies in them."""

    data: bytes
    spans: list[tuple[int, int]]  # (start, end) per record

    def records(self) -> list[bytes]:
        """The payload of each record."""
        return [self.data[start:end] for start, end in self.spans]


def tfrecord_chunk(batch: pa.RecordBatch) -> Chunk:
    """The rows of ``batch`` as TFRecord file bytes, one canonical ``tf.Example`` per row."""
    if batch.num_rows == 0:
        return Chunk(b"", [])
    columns = sorted(zip(batch.schema.names, batch.columns), key=lambda item: map_order(item[0]))
    if all(scalar_kind(column) for _, column in columns):
        parts, length = example(columns, batch.num_rows)
    else:
        parts, length = serialized_rows(batch)
    return framed(parts, length, batch.num_rows)


def map_order(name: str) -> list[int]:
    """Sort key of a feature name in protobuf's (upb's) deterministic map order.

    Byte order, except that a name sorts after the longer names it is a
    prefix of ("trip_km" < "trip"): upb's order, so the bytes equal those of
    ``SerializeToString(deterministic=True)``.
    """
    return [*name.encode(), 256]


def scalar_kind(column: pa.Array) -> str | None:
    """"float", "int64" or "bytes" for a list column of exactly one value per row; else None."""
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)) or column.null_count:
        return None
    value_type = column.type.value_type
    kinds = {pa.float32(): "float", pa.int64(): "int64", pa.binary(): "bytes", pa.large_binary(): "bytes",
             pa.string(): "bytes", pa.large_string(): "bytes"}
    if value_type not in kinds or not pc.all(pc.equal(pc.list_value_length(column), 1)).as_py():
        return None
    return kinds[value_type]


def example(columns: Sequence[tuple[str, pa.Array]], rows: int) -> tuple[list[Part], Length]:
    """The parts and length of ``Example`` messages holding every column.

    A length is an int when it is the same in every row, else an array.
    """
    parts, length = [], 0
    for name, column in columns:
        entry_parts, entry_length = feature_entry(name, scalar_kind(column), column.flatten(), rows)
        item_parts, item_length = field(FIELD_1, entry_parts, entry_length)
        parts += item_parts
        length = length + item_length
    return field(FIELD_1, parts, length)


def feature_entry(name: str, kind: str, values: pa.Array, rows: int) -> tuple[list[Part], Length]:
    """One map entry ``{1: name, 2: Feature}`` of a scalar column: parts and length."""
    if kind == "float":
        payload, length = (values.to_numpy().astype("<f4").view(np.uint8).reshape(rows, 4), None), 4
    elif kind == "int64":
        numbers = values.to_numpy().view(np.uint64)
        length = uniform(varint_size(numbers))
        payload = (varint_matrix(numbers, length), None if isinstance(length, int) else length)
    else:
        payload, length = ragged(values.cast(pa.large_binary()))
    value_list, length = field(FIELD_1, [payload], length)  # one value: packed or not, the same bytes
    feature, length = field(VALUE_TAGS[kind], value_list, length)
    key = name.encode()
    key_part, key_length = field(FIELD_1, [key], len(key))
    value_part, value_length = field(FIELD_2, feature, length)
    return key_part + value_part, key_length + value_length


def field(tag: int, parts: Sequence[Part], length: Length) -> tuple[list[Part], Length]:
    """``parts`` as one length-delimited field: (tag, length varint, parts), and its length."""
    return [bytes([tag]), varint(length), *parts], 1 + varint_size(length) + length


def uniform(values: np.ndarray) -> Length:
    """``values`` as one int when they are all equal, else as they are."""
    return int(values[0]) if (values == values[0]).all() else values


def varint(values: int | np.integer | np.ndarray) -> Part:
    """Protobuf varints of an unsigned int (bytes) or array (a (matrix, widths) part)."""
    if isinstance(values, (int, np.integer)):
        return encode_varint(int(values))
    widths = varint_size(values)
    return varint_matrix(values, widths), widths


def varint_matrix(values: ArrayLike, widths: Length) -> np.ndarray:
    """The varints of ``values`` as rows of a byte matrix, padded to the widest."""
    values = np.asarray(values).astype(np.uint64)
    positions = np.arange(np.max(widths))
    groups = (values[:, None] >> (positions * 7).astype(np.uint64)) & np.uint64(0x7F)
    more = np.where(positions < np.reshape(widths, (-1, 1)) - 1, 0x80, 0).astype(np.uint64)
    return (groups | more).astype(np.uint8)


def varint_size(values: int | np.integer | np.ndarray) -> Length:
    """Bytes of the protobuf varint of an unsigned int, or of each of an array."""
    if isinstance(values, (int, np.integer)):
        return max(1, (int(values).bit_length() + 6) // 7)
    return 1 + np.searchsorted(VARINT_LIMITS, np.asarray(values).astype(np.uint64), side="right")


def encode_varint(value: int) -> bytes:
    """The protobuf varint of one unsigned ``value``."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def ragged(values: pa.Array) -> tuple[Part, Length]:
    """A large_binary array as a part (zero-padded byte matrix, widths) and its length."""
    offsets = np.frombuffer(values.buffers()[1], np.int64)[values.offset:values.offset + len(values) + 1]
    data = np.frombuffer(values.buffers()[2] or b"\0", np.uint8)
    length = uniform(np.diff(offsets))
    index = offsets[:-1, None] + np.arange(np.max(length))
    return (data[np.minimum(index, len(data) - 1)], None if isinstance(length, int) else length), length


def serialized_rows(batch: pa.RecordBatch) -> tuple[list[Part], Length]:
    """Canonical ``tf.Example`` bytes of any batch, one row at a time: parts and lengths."""
    import tensorflow as tf
    from tfx_bsl.coders import example_coder

    rows = [
        tf.train.Example.FromString(row).SerializeToString(deterministic=True)
        for row in example_coder.RecordBatchToExamplesEncoder().encode(batch)
    ]
    payload, length = ragged(pa.array(rows, pa.large_binary()))
    return [payload], length


def framed(parts: Sequence[Part], length: Length, rows: int) -> Chunk:
    """The chunk of ``rows`` records laid out by ``parts`` of ``length`` bytes each."""
    buffer, ends = assemble([frame_header(length), *parts, bytes(4)], rows)
    data, body_ends = buffer.tobytes(), ends - 4
    spans = list(zip((body_ends - length).tolist(), body_ends.tolist()))
    crc = masked_crc([google_crc32c.value(data[start:end]) for start, end in spans])
    buffer[body_ends[:, None] + np.arange(4)] = crc_bytes(crc)
    return Chunk(buffer.tobytes(), spans)


def frame_header(length: Length) -> Part:
    """The part of each record's header: its length (uint64) and the length's masked crc32c."""
    unique, inverse = np.unique(length, return_inverse=True)
    headers = [n.to_bytes(8, "little") for n in map(int, unique)]
    headers = [h + crc_bytes(masked_crc([google_crc32c.value(h)])).tobytes() for h in headers]
    if len(headers) == 1:
        return headers[0]
    return np.frombuffer(b"".join(headers), np.uint8).reshape(-1, 12)[inverse], None


def masked_crc(values: ArrayLike) -> np.ndarray:
    """TFRecord's masked crc32c of each crc in ``values``."""
    crc = np.asarray(values, np.uint64)
    return (((crc >> np.uint64(15)) | (crc << np.uint64(17))) + np.uint64(CRC_MASK_DELTA)) & np.uint64(0xFFFFFFFF)


def crc_bytes(crc: np.ndarray) -> np.ndarray:
    """Masked crcs as a (rows, 4) little-endian byte matrix."""
    return crc.astype("<u4").view(np.uint8).reshape(-1, 4)


def assemble(parts: Sequence[Part], rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Lay the parts side by side per row; the flat bytes and the end offset of each row.

    A part is constant bytes, or a (rows, width) byte matrix with an optional
    per-row width (only its first bytes count). Rows are built in a padded
    matrix, column block by column block, then the padding is dropped.
    """
    blocks = merged(parts, rows)
    matrix = np.empty((rows, sum(block.shape[1] for block, _ in blocks)), np.uint8)
    keep, column, row_length = None, 0, np.full(rows, matrix.shape[1])
    for block, widths in blocks:
        matrix[:, column:column + block.shape[1]] = block
        if widths is not None:
            keep = np.ones(matrix.shape, bool) if keep is None else keep
            keep[:, column:column + block.shape[1]] = np.arange(block.shape[1]) < widths[:, None]
            row_length += widths - block.shape[1]
        column += block.shape[1]
    return (matrix[keep] if keep is not None else matrix.reshape(-1)), np.cumsum(row_length)


def merged(parts: Sequence[Part], rows: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Adjacent constant parts joined, then every part as (matrix, widths or None)."""
    blocks, constant = [], b""
    for part in [*parts, None]:
        if isinstance(part, bytes):
            constant += part
            continue
        if constant:
            blocks.append((np.broadcast_to(np.frombuffer(constant, np.uint8), (rows, len(constant))), None))
            constant = b""
        if part is not None:
            blocks.append(part)
    return blocks
