"""Manifests and record digests: stable, order-independent, TF-compatible."""

import json

import pytest

from tft_build import manifest


def write_records(path, records):
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)


def test_read_tfrecords_reads_what_tensorflow_wrote(tmp_path):
    records = [b"", b"a", b"x" * 70_000, bytes(range(256))]
    write_records(tmp_path / "r.tfrecord", records)
    assert list(manifest.read_tfrecords(tmp_path / "r.tfrecord")) == records


def test_records_digest_ignores_order_and_sharding(tmp_path):
    records = [f"record {i}".encode() for i in range(50)]
    write_records(tmp_path / "one", records)
    write_records(tmp_path / "a", records[::-1][:20])
    write_records(tmp_path / "b", records[::-1][20:])
    whole = manifest.records_digest([tmp_path / "one"])
    split = manifest.records_digest([tmp_path / "a", tmp_path / "b"])
    assert whole == split
    assert whole["records"] == 50


def test_records_digest_sees_a_changed_or_duplicated_record(tmp_path):
    write_records(tmp_path / "a", [b"1", b"2"])
    write_records(tmp_path / "b", [b"1", b"3"])
    write_records(tmp_path / "c", [b"1", b"2", b"2"])
    digests = {manifest.records_digest([tmp_path / n])["digest"] for n in "abc"}
    assert len(digests) == 3


def test_write_manifest_lists_every_file_but_itself(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.txt").write_text("hello")
    (tmp_path / "g.bin").write_bytes(b"\0" * 10)
    path = manifest.write_manifest(tmp_path, {"model": "m"})
    data = json.loads(path.read_text())
    assert data["model"] == "m"
    assert set(data["files"]) == {"sub/f.txt", "g.bin"}
    assert data["files"]["g.bin"]["size"] == 10
    assert data["files"]["sub/f.txt"]["sha256"] == manifest.file_sha256(tmp_path / "sub" / "f.txt")
    # Writing it again changes nothing: the manifest is not part of itself.
    before = path.read_bytes()
    manifest.write_manifest(tmp_path, {"model": "m"})
    assert path.read_bytes() == before


def test_tree_digest_changes_with_content_and_name(tmp_path):
    (tmp_path / "f").write_text("a")
    first = manifest.tree_digest(tmp_path)
    (tmp_path / "f").write_text("b")
    second = manifest.tree_digest(tmp_path)
    (tmp_path / "f").rename(tmp_path / "g")
    third = manifest.tree_digest(tmp_path)
    assert len({first, second, third}) == 3


@pytest.mark.parametrize("data", [{"b": 1, "a": [1, 2]}, {"a": {"z": 0, "y": None}}])
def test_to_json_is_canonical(data):
    text = manifest.to_json(data)
    assert json.loads(text) == data
    assert text == manifest.to_json(json.loads(text))
