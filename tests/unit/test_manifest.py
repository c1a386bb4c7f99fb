"""Manifests and record digests: stable, order-independent, TF-compatible."""

import hashlib
import json

import pytest

from tft_build.io import manifest


def digest(*parts):
    return manifest.digest_json(manifest.add_digests(manifest.records_digest(part) for part in parts))


def test_records_digest_ignores_order_and_sharding():
    records = [f"record {i}".encode() for i in range(50)]
    whole = digest(records)
    assert whole == digest(records[::-1][:20], [], records[::-1][20:])
    assert whole["records"] == 50


def test_records_digest_sees_a_changed_or_duplicated_record():
    assert len({digest(r)["digest"] for r in ([b"1", b"2"], [b"1", b"3"], [b"1", b"2", b"2"])}) == 3


def test_records_digest_is_the_sum_of_sha256_values():
    records = [bytes([i]) * 40 for i in range(200)]
    expected = sum(int.from_bytes(hashlib.sha256(r).digest(), "big") for r in records) % 2**256
    assert digest(records)["digest"] == f"{expected:064x}"


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


@pytest.mark.parametrize("data", [{"b": 1, "a": [1, 2]}, {"a": {"z": 0, "y": None}}])
def test_to_json_is_canonical(data):
    text = manifest.to_json(data)
    assert json.loads(text) == data
    assert text == manifest.to_json(json.loads(text))
