"""The build cache's storage: files by content, entries by key, written so that none is half there.

Layout under the cache dir, a local dir or a URL of one of Beam's filesystems (``gs://bucket/path``,
``s3://...``, ``hdfs://...``), which CI and a team can share::

    v1/objects/ab/ab12...        a file's bytes, named by their sha256
    v1/entries/cd/cd34....json   one task build: its inputs and its output files' digests
    v1/tmp/                      where both are written before their rename

(at a URL without the two-letter dirs: ``v1/objects/ab12...``, see
:class:`~tft_build.engine.cachefiles.BeamFiles`).

An entry is written after every object it names, and each file is written
whole under ``tmp/`` and renamed into place, so a reader sees a whole entry or
none, and two writers of one entry leave one whole entry. An object is
verified against its name whenever it is restored: a truncated or altered one
is :class:`Damaged`, never used. An entry's time (mtime, or a URL's
last-updated time) is when it was last stored or restored; :meth:`Store.gc`
removes the least recently used.

:class:`Store` is that logic, once; it runs over the few primitives of one of
two backends (:mod:`tft_build.engine.cachefiles`): a local dir, or a URL through
Beam's ``FileSystems``. Nothing here imports TensorFlow.
"""

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tft_build.engine.cachefiles import ENTRIES, OBJECTS, TMP, backend, file_digests, place

GRACE_S = 600  # gc leaves younger temp files: a writer may still be using them


class Damaged(Exception):
    """A cache entry or object that does not hold what its name says."""


class Store:
    """One cache dir: put and get objects and entries, verify them, bound them.

    ``location`` is the cache dir as configured (what ``doit cache`` names); ``root`` is its ``v1`` dir
    (a Path, or a URL for a remote cache); ``files`` is the backend that reads and writes there.
    """

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        self.files = backend(self.location)
        self.root = self.files.root

    # -- writing

    def put_object(self, src: str | Path, sha: str) -> None:
        """Make the file ``src`` (whose sha256 is ``sha``) an object, unless it is one already."""
        if not self.files.exists(OBJECTS, sha):
            self.files.put_file(OBJECTS, sha, src)

    def put_entry(self, key: str, entry: Mapping[str, Any]) -> None:
        """Write an entry, after its objects: whole or not at all."""
        self.files.put_bytes(ENTRIES, entry_name(key), json.dumps(entry, sort_keys=True, indent=1).encode())

    # -- reading

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry stored under ``key``, or None; :class:`Damaged` if it cannot be read."""
        data = self.files.read(ENTRIES, entry_name(key))
        if data is None:
            return None
        try:
            entry = json.loads(data)
        except ValueError:
            raise Damaged(f"entry {key[:12]} is not valid JSON") from None
        if not isinstance(entry, dict) or entry.get("key") != key:
            raise Damaged(f"entry {key[:12]} is not the entry of that key")
        return entry

    def touch(self, key: str) -> None:
        """Mark an entry as used now (for gc's least-recently-used order)."""
        self.files.touch(ENTRIES, entry_name(key))

    def restore_object(self, sha: str, dst: str | Path) -> None:
        """Place object ``sha`` at ``dst`` after checking its bytes; :class:`Damaged` if they differ."""
        with self.files.fetched(OBJECTS, sha, Path(dst).parent) as src:
            try:
                actual = src and file_digests(src)[0]
            except FileNotFoundError:
                actual = None
            if actual is None:
                raise Damaged(f"object {sha[:12]} is missing")
            if actual != sha:
                self.files.delete(OBJECTS, [sha])  # or a later build of the same bytes would keep it as theirs
                raise Damaged(f"object {sha[:12]} holds other bytes (sha256 {actual[:12]})")
            place(src, dst)

    def keys(self) -> list[str]:
        """Every entry's key, most recently used first."""
        found = [(mtime, name[:-len(".json")]) for name, _, mtime in self.files.list(ENTRIES) if name.endswith(".json")]
        return [key for _, key in sorted(found, reverse=True)]

    def read_all(self) -> list[tuple[str, dict[str, Any] | None]]:
        """``[(key, entry or None when damaged)]``, most recently used first."""
        out = []
        for key in self.keys():
            try:
                out.append((key, self.get(key)))
            except Damaged:
                out.append((key, None))
        return out

    # -- bounding and checking

    def remove(self, key: str) -> None:
        self.files.delete(ENTRIES, [entry_name(key)])

    def size(self) -> int:
        """Bytes held by objects (each once: entries share them)."""
        return sum(size for _, size, _ in self.files.list(OBJECTS))

    def gc(self, max_bytes: int) -> tuple[int, int]:
        """Remove the least recently used entries until the objects the rest use fit in
        ``max_bytes``, then every object no entry uses; ``(entries removed, bytes freed)``."""
        sizes = {sha: size for sha, size, _ in self.files.list(OBJECTS)}
        kept, used, removed = set(), 0, []
        for key, entry in self.read_all():
            shas = set(entry_objects(entry)) if entry else None
            extra = sum(sizes.get(sha, 0) for sha in (shas or set()) - kept)
            if shas is None or used + extra > max_bytes:
                removed.append(key)
            else:
                kept |= shas
                used += extra
        self.files.delete(ENTRIES, [entry_name(key) for key in removed])
        # an entry still on its way that needs a removed object finds it missing: rebuilt
        self.files.delete(OBJECTS, [sha for sha in sizes if sha not in kept])
        now = time.time()
        self.files.delete(TMP, [name for name, _, mtime in self.files.list(TMP) if now - mtime > GRACE_S])
        return len(removed), sum(sizes.values()) - self.size()

    def verify(self) -> list[str]:
        """Check every entry and the bytes of every object it names; remove the damaged
        entries and objects; the problems found, one line each."""
        problems, checked = [], {}
        for key, entry in self.read_all():
            if entry is None:
                problems.append(f"entry {key[:12]}: not readable; removed")
                self.remove(key)
                continue
            for sha in entry_objects(entry):
                if sha not in checked:
                    actual = self.files.digest(OBJECTS, sha)
                    checked[sha] = actual == sha
                    if actual is not None and actual != sha:
                        self.files.delete(OBJECTS, [sha])
            bad = [sha for sha in entry_objects(entry) if not checked[sha]]
            if bad:
                problems.append(
                    f"entry {key[:12]} ({entry.get('task')}): {len(bad)} object(s) missing or altered; removed")
                self.remove(key)
        return problems

    def clear(self) -> None:
        """Remove every entry and object (only the cache's own layout)."""
        self.files.clear()


def entry_name(key: str) -> str:
    return f"{key}.json"


def entry_objects(entry: Mapping[str, Any]) -> list[str]:
    """The sha256 of every file an entry's outputs hold."""
    return [f["sha256"] for output in entry.get("outputs", {}).values() for f in output["files"].values()]
