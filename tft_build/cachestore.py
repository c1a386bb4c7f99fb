"""The build cache's storage: files by content, entries by key, written so that none is half there.

Layout under the cache dir::

    v1/objects/ab/ab12...   a file's bytes, named by their sha256 (read-only)
    v1/entries/cd/cd34...json   one task build: its inputs and its output files' digests
    v1/tmp/                 where both are written before their rename

An object is placed into the cache and back into a project by reflink where
the filesystem can, else by hard link, else by copy; a hard-linked object is
the same inode as the output it came from, so both are made read-only. An
entry is renamed into place after every object it names, so a reader sees a
whole entry or none, and two writers of one entry leave one whole entry. An
object is verified against its name whenever it is restored: a truncated or
altered one is :class:`Damaged`, never used. An entry's mtime is when it was
last stored or restored; :meth:`Store.gc` removes the least recently used.
Nothing here imports TensorFlow.
"""

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

FORMAT = "v1"
FICLONE = 0x40049409  # linux/fs.h: share the source's blocks (btrfs, xfs, bcachefs)
GRACE_S = 600  # gc leaves younger temp files: a writer may still be using them
SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


class Damaged(Exception):
    """A cache entry or object that does not hold what its name says."""


def parse_size(text):
    """Bytes from ``5GB``, ``500 MB``, ``2GiB`` or a plain number of bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(text))
    unit = match and match.group(2).upper()
    if not match or unit not in SIZE_UNITS:
        raise ValueError(f"{text!r} is not a size; write it like 5GB, 500MB or 2GiB")
    return int(float(match.group(1)) * SIZE_UNITS[unit])


def file_digests(path):
    """``(sha256, md5, size)`` of a file, read once (the cache's name, doit's digest)."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
            md5.update(block)
            size += len(block)
    return sha.hexdigest(), md5.hexdigest(), size


class Store:
    """One cache dir: put and get objects and entries, verify them, bound them."""

    def __init__(self, root):
        self.root = Path(root) / FORMAT
        self.objects = self.root / "objects"
        self.entries = self.root / "entries"
        self.tmp = self.root / "tmp"

    def object_path(self, sha):
        return self.objects / sha[:2] / sha

    def entry_path(self, key):
        return self.entries / key[:2] / f"{key}.json"

    # -- writing

    def put_object(self, src, sha):
        """Make the file ``src`` (whose sha256 is ``sha``) an object, unless it is one already."""
        final = self.object_path(sha)
        if final.exists():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        with self._temp_name() as tmp:
            place(src, tmp)
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)

    def put_entry(self, key, entry):
        """Write an entry, after its objects: whole or not at all."""
        final = self.entry_path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        with self._temp_name() as tmp:
            tmp.write_text(json.dumps(entry, sort_keys=True, indent=1), encoding="utf-8")
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)

    @contextlib.contextmanager
    def _temp_name(self):
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.tmp)
        os.close(fd)
        os.unlink(name)  # a free name: link and reflink want to create it
        try:
            yield Path(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    # -- reading

    def get(self, key):
        """The entry stored under ``key``, or None; :class:`Damaged` if it cannot be read."""
        path = self.entry_path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            entry = json.loads(text)
        except ValueError:
            raise Damaged(f"entry {key[:12]} is not valid JSON") from None
        if not isinstance(entry, dict) or entry.get("key") != key:
            raise Damaged(f"entry {key[:12]} is not the entry of that key")
        return entry

    def touch(self, key):
        """Mark an entry as used now (for gc's least-recently-used order)."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.entry_path(key))

    def restore_object(self, sha, dst):
        """Place object ``sha`` at ``dst`` after checking its bytes; :class:`Damaged` if they differ."""
        src = self.object_path(sha)
        try:
            actual = file_digests(src)[0]
        except FileNotFoundError:
            raise Damaged(f"object {sha[:12]} is missing") from None
        if actual != sha:
            src.unlink()  # or a later build of the same bytes would keep it as theirs
            raise Damaged(f"object {sha[:12]} holds other bytes (sha256 {actual[:12]})")
        place(src, dst)

    def keys(self):
        """Every entry's key with its path, most recently used first."""
        found = [(p.stat().st_mtime, p.stem, p) for p in self.entries.glob("*/*.json")]
        return [(key, path) for _, key, path in sorted(found, reverse=True)]

    def read_all(self):
        """``[(key, entry or None when damaged)]``, most recently used first."""
        out = []
        for key, _ in self.keys():
            try:
                out.append((key, self.get(key)))
            except Damaged:
                out.append((key, None))
        return out

    # -- bounding and checking

    def remove(self, key):
        with contextlib.suppress(FileNotFoundError):
            self.entry_path(key).unlink()

    def size(self):
        """Bytes held by objects (each once: entries share them)."""
        return sum(p.stat().st_size for p in self.objects.glob("*/*"))

    def gc(self, max_bytes):
        """Remove the least recently used entries until the objects the rest use fit in
        ``max_bytes``, then every object no entry uses; ``(entries removed, bytes freed)``."""
        before = self.size()
        kept, used, removed = set(), 0, 0
        for key, entry in self.read_all():
            shas = set(entry_objects(entry)) if entry else None
            extra = sum(self.object_size(sha) for sha in (shas or set()) - kept)
            if shas is None or used + extra > max_bytes:
                self.remove(key)
                removed += 1
            else:
                kept |= shas
                used += extra
        for path in self.objects.glob("*/*"):
            if path.name not in kept:
                path.unlink()  # an entry still on its way that needs it finds it missing: rebuilt
        now = time.time()
        for path in self.tmp.glob("*"):
            if now - path.stat().st_mtime > GRACE_S:
                path.unlink()
        return removed, before - self.size()

    def object_size(self, sha):
        try:
            return self.object_path(sha).stat().st_size
        except FileNotFoundError:
            return 0

    def verify(self):
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
                    path = self.object_path(sha)
                    checked[sha] = path.exists() and file_digests(path)[0] == sha
                    if path.exists() and not checked[sha]:
                        path.unlink()
            bad = [sha for sha in entry_objects(entry) if not checked[sha]]
            if bad:
                problems.append(f"entry {key[:12]} ({entry.get('task')}): {len(bad)} object(s) missing or altered; removed")
                self.remove(key)
        return problems

    def clear(self):
        """Remove every entry and object (only the cache's own layout)."""
        shutil.rmtree(self.root, ignore_errors=True)


def entry_objects(entry):
    """The sha256 of every file an entry's outputs hold."""
    return [f["sha256"] for output in entry.get("outputs", {}).values() for f in output["files"].values()]


def place(src, dst):
    """Put ``src``'s bytes at the new path ``dst``: reflink, else hard link, else copy."""
    with open(src, "rb") as source:
        try:
            with open(dst, "xb") as target:
                fcntl.ioctl(target.fileno(), FICLONE, source.fileno())
            return
        except OSError as err:
            if err.errno == errno.EEXIST:
                raise
            with contextlib.suppress(FileNotFoundError):
                os.unlink(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
