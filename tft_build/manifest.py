"""Manifests: what a step wrote, and digests of what its consumers read.

A directory output ends with ``MANIFEST.json`` (every file's sha256 and size),
written last. Consumers do not depend on bytes that vary without meaning
(record order, shard layout): they depend on small digest files holding an
order-independent hash of the records, so an identical rerun changes nothing
downstream (early cutoff).
"""

import hashlib
import json
import struct
from pathlib import Path

MANIFEST = "MANIFEST.json"
_MOD = 2**256


def to_json(data):
    """Canonical JSON text: sorted keys, stable across runs and machines."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def file_sha256(path):
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_files(root, ignore=()):
    """Every file under ``root`` as ``{relative path: {sha256, size}}``.

    The manifest itself and files named in ``ignore`` are left out.
    """
    root = Path(root)
    return {
        str(p.relative_to(root)): {"sha256": file_sha256(p), "size": p.stat().st_size}
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST and p.name not in ignore
    }


def tree_digest(root, ignore=()):
    """One hash of every file's path and content under ``root``, but ``ignore``d names."""
    text = to_json(tree_files(root, ignore))
    return hashlib.sha256(text.encode()).hexdigest()


def write_manifest(root, extra):
    """Write ``root/MANIFEST.json``: the files, plus ``extra``; returns its path."""
    path = Path(root) / MANIFEST
    path.write_text(to_json({"files": tree_files(root), **extra}), encoding="utf-8")
    return path


def read_tfrecords(path):
    """Yield the records of an uncompressed TFRecord file (no TensorFlow needed)."""
    with open(path, "rb") as f:
        while header := f.read(12):
            (length,) = struct.unpack("<Q", header[:8])
            yield f.read(length)
            f.read(4)  # the data's CRC


def records_digest(paths):
    """Record count and an order-independent hash of the records of ``paths``.

    The hash is the sum of the records' sha256 values modulo 2**256: the same
    multiset of records gives the same digest whatever the order or sharding.
    """
    count, total = 0, 0
    for path in paths:
        for record in read_tfrecords(path):
            count += 1
            total = (total + int.from_bytes(hashlib.sha256(record).digest(), "big")) % _MOD
    return {"records": count, "digest": f"{total:064x}"}
