"""Manifests: what a step wrote, and digests of what its consumers read.

A directory output ends with ``MANIFEST.json`` (every file's sha256 and size),
written last. Consumers do not depend on bytes that vary without meaning
(record order, shard layout): they depend on small digest files holding an
order-independent hash of the records, so an identical rerun changes nothing
downstream (early cutoff).
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from tft_build import layout

_MOD = 2**256


def to_json(data: Any) -> str:
    """Canonical JSON text: sorted keys, stable across runs and machines."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def file_sha256(path: str | Path, algorithm: Callable[[], Any] = hashlib.sha256) -> str:
    """Hex digest of a file's bytes (sha256 unless told), read in 1 MiB blocks."""
    digest = algorithm()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_files(root: str | Path) -> dict[str, dict[str, str | int]]:
    """Every file under ``root`` but the manifest itself as ``{relative path: {sha256, size}}``."""
    root = Path(root)
    return {
        str(p.relative_to(root)): {"sha256": file_sha256(p), "size": p.stat().st_size}
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != layout.MANIFEST
    }


def write_manifest(root: str | Path, extra: Mapping[str, Any]) -> Path:
    """Write ``root/MANIFEST.json``: the files, plus ``extra``; returns its path."""
    path = Path(root) / layout.MANIFEST
    path.write_text(to_json({"files": tree_files(root), **extra}), encoding="utf-8")
    return path


def records_digest(records: Iterable[bytes]) -> tuple[int, int]:
    """``(count, sum)`` of ``records``: their number and the sum of their sha256 values mod 2**256.

    Parts add up (:func:`add_digests`), so the same multiset of records gives
    the same digest whatever the order, sharding or batching. The 256-bit
    values are summed as eight 32-bit columns (no overflow below 2**32
    records), then carried once.
    """
    import numpy as np  # only the transform step sums digests; loading the tasks stays light

    records = list(records)
    if not records:
        return 0, 0
    hashes = b"".join(hashlib.sha256(record).digest() for record in records)
    columns = np.frombuffer(hashes, ">u4").reshape(-1, 8).astype(np.uint64).sum(axis=0)
    return len(records), sum(int(word) << (32 * (7 - i)) for i, word in enumerate(columns)) % _MOD


def add_digests(parts):  # no hints: Beam would code the 256-bit sum with its 64-bit integer coder
    """The ``(count, sum)`` of the records of several ``(count, sum)`` parts (iterables of two ints)."""
    parts = list(parts)
    return sum(n for n, _ in parts), sum(t for _, t in parts) % _MOD


def digest_json(part: tuple[int, int]) -> dict[str, int | str]:
    """A ``(count, sum)`` digest as JSON-able ``{records, digest}``."""
    count, total = part
    return {"records": count, "digest": f"{total:064x}"}
