"""The vectorized tf.Example encoder: protobuf's deterministic bytes, in readable TFRecords."""

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf

from tft_build.io import tfrecords


def scalar_column(values, value_type):
    offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(values, value_type))


def expected_records(batch):
    """What protobuf's deterministic serialization makes of each row."""
    out = []
    for row in batch.to_pylist():
        example = tf.train.Example()
        for name, values in row.items():
            feature = example.features.feature[name]
            for value in values:
                if isinstance(value, float):
                    feature.float_list.value.append(value)
                elif isinstance(value, int):
                    feature.int64_list.value.append(value)
                else:
                    feature.bytes_list.value.append(value.encode() if isinstance(value, str) else value)
        out.append(example.SerializeToString(deterministic=True))
    return out


def written_records(batch, tmp_path):
    path = tmp_path / "r.tfrecord"
    chunk = tfrecords.tfrecord_chunk(batch)
    path.write_bytes(chunk.data)
    records = [record.numpy() for record in tf.data.TFRecordDataset(str(path))]
    assert chunk.records() == records  # the spans point at the payloads
    return records


@pytest.fixture
def scalars():
    rng = np.random.default_rng(3)
    n = 500
    wide = rng.integers(-(2**63), 2**63 - 1, n)
    wide[:200] = rng.integers(0, 300, 200)  # one- and two-byte varints among ten-byte ones
    return pa.RecordBatch.from_pydict({
        "trip": scalar_column(rng.integers(0, 10_000, n), pa.int64()),
        "trip_km": scalar_column(rng.normal(size=n).astype(np.float32), pa.float32()),
        "trip_time": scalar_column(np.full(n, 7), pa.int64()),
        "wide": scalar_column(wide, pa.int64()),
        "key": scalar_column([f"k{i}" * (i % 90) for i in range(n)], pa.binary()),
        "text": scalar_column(["é" * 3] * n, pa.string()),
        "long_" * 40: scalar_column(np.ones(n, np.float32), pa.float32()),
    })


def test_scalar_columns_give_deterministic_protobuf_bytes(scalars, tmp_path):
    assert written_records(scalars, tmp_path) == expected_records(scalars)


def test_a_sliced_batch(scalars, tmp_path):
    part = scalars.slice(123, 200)
    assert written_records(part, tmp_path) == expected_records(part)


def test_other_shapes_go_row_by_row(tmp_path):
    batch = pa.RecordBatch.from_pydict({
        "v": pa.array([[1.0, 2.0], [3.0], [4.0, 5.0, 6.0]], pa.list_(pa.float32())),
        "b": pa.array([[1], [2], [3]], pa.list_(pa.int64())),
    })
    assert tfrecords.scalar_kind(batch.column("v")) is None
    assert written_records(batch, tmp_path) == expected_records(batch)


def test_an_empty_batch_is_no_bytes():
    assert tfrecords.tfrecord_chunk(pa.RecordBatch.from_pydict({"a": pa.array([], pa.list_(pa.float32()))})).data == b""
