"""Where the build cache's files live: a local dir, or a URL of one of Beam's filesystems.

:class:`~tft_build.engine.cachestore.Store` keeps the cache's logic once; it reads
and writes through the few primitives of one of these backends, each file
named by its kind (:data:`OBJECTS`, :data:`ENTRIES`, :data:`TMP`) and name:
:class:`LocalFiles` (os and pathlib, as fast as a local cache can be) and
:class:`BeamFiles` (Beam's ``FileSystems``, imported only at the first use of
a URL cache: Beam takes seconds to import and a no-op ``doit`` must stay
fast). Nothing here imports TensorFlow.
"""

import contextlib
import errno
import fcntl
import functools
import hashlib
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar

from tft_build.errors import first_line
from tft_build.io.location import is_remote, join

FORMAT = "v1"
OBJECTS, ENTRIES, TMP = "objects", "entries", "tmp"  # the layout's dirs, the "kinds" of the backends' files
FICLONE = 0x40049409  # linux/fs.h: share the source's blocks (btrfs, xfs, bcachefs)
BLOCK = 1 << 20
UNCOMPRESSED = "uncompressed"  # apache_beam.io.filesystem.CompressionTypes.UNCOMPRESSED, without importing Beam

P = ParamSpec("P")
T = TypeVar("T")


def backend(location: str) -> "LocalFiles | BeamFiles":
    """The backend of a cache dir: :class:`BeamFiles` for a URL, else :class:`LocalFiles`."""
    return BeamFiles(location) if is_remote(location) else LocalFiles(location)


def file_digests(path: str | Path) -> tuple[str, str, int]:
    """``(sha256, md5, size)`` of a file, read once (the cache's name, doit's digest)."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            sha.update(block)
            md5.update(block)
            size += len(block)
    return sha.hexdigest(), md5.hexdigest(), size


class LocalFiles:
    """The cache in a local dir (or one mounted from elsewhere), through os and pathlib.

    An object is placed into the cache and back into a project by reflink where
    the filesystem can, else by hard link, else by copy; a hard-linked object is
    the same inode as the output it came from, so both are made read-only. A
    file is written under a temp name in ``tmp/`` and renamed into place
    (``os.replace``: atomic; of two writers the last wins, with a whole file).
    An entry's mtime is its last use. Objects and entries sit in dirs named by
    their first two letters, so that no dir holds too many files.
    """

    def __init__(self, location: str | Path) -> None:
        self.root = Path(location) / FORMAT

    def where(self, kind: str, name: str) -> Path:
        """The path of the file ``name`` of ``kind`` (OBJECTS, ENTRIES or TMP)."""
        return self.root / kind / name if kind == TMP else self.root / kind / name[:2] / name

    def exists(self, kind: str, name: str) -> bool:
        return self.where(kind, name).exists()

    def read(self, kind: str, name: str) -> bytes | None:
        """The file's bytes, or None if there is none."""
        try:
            return self.where(kind, name).read_bytes()
        except FileNotFoundError:
            return None

    def digest(self, kind: str, name: str) -> str | None:
        """The file's sha256, or None if there is none."""
        try:
            return file_digests(self.where(kind, name))[0]
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def fetched(self, kind: str, name: str, near: str | Path) -> Iterator[Path]:
        """A local path holding the file: here, the cache's own file (reading it tells whether it is there)."""
        yield self.where(kind, name)

    def put_file(self, kind: str, name: str, src: str | Path) -> None:
        self._write(kind, name, lambda tmp: place(src, tmp), 0o444)

    def put_bytes(self, kind: str, name: str, data: bytes) -> None:
        self._write(kind, name, lambda tmp: tmp.write_bytes(data), 0o644)

    def _write(self, kind, name, fill, mode):
        """Fill a free temp path with ``fill(path)`` and rename it into place."""
        final = self.where(kind, name)
        final.parent.mkdir(parents=True, exist_ok=True)
        (self.root / TMP).mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root / TMP)
        os.close(fd)
        os.unlink(tmp)  # a free name: link and reflink want to create it
        try:
            fill(Path(tmp))
            os.chmod(tmp, mode)
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def touch(self, kind: str, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.where(kind, name))

    def list(self, kind: str) -> list[tuple[str, int, float]]:
        """``[(name, size, mtime)]`` of the files of ``kind``."""
        out = []
        for path in (self.root / kind).glob("*" if kind == TMP else "*/*"):
            with contextlib.suppress(FileNotFoundError):  # removed since the listing
                stat = path.stat()
                out.append((path.name, stat.st_size, stat.st_mtime))
        return out

    def delete(self, kind: str, names: Iterable[str]) -> None:
        """Remove the files ``names`` of ``kind``; one already gone is as good."""
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                self.where(kind, name).unlink()

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def as_oserror(method: Callable[P, T]) -> Callable[P, T]:
    """``method``, raising any failure of Beam or of a cloud client (no access, no such filesystem) as OSError:
    the cache's callers handle that one kind, and a cache that cannot be reached never fails a build."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except OSError:
            raise
        except Exception as err:
            raise OSError(f"{type(err).__name__}: {first_line(err)}") from err

    return wrapper


class BeamFiles:
    """The cache at a URL of one of Beam's filesystems (``gs://``, ``s3://``, ``hdfs://`` ...), through
    ``FileSystems``, so that CI and a team reuse each other's builds.

    A file is written whole under ``tmp/``, then renamed into place: on GCS and
    S3 the rename is a server-side copy, whose result appears whole or not at
    all (a direct write would be too, but not on HDFS); on HDFS it is the
    namenode's atomic rename. A rename onto a file already there (HDFS refuses
    it) leaves that file: an object there holds the same bytes, an entry there
    is another writer's whole one. Objects are copied (no link reaches another
    machine); a restore downloads one to a local temp file beside its place,
    which the store verifies, then places. An entry's last-updated time is its
    last use: a use rewrites it (on HDFS it stays when it was stored, so gc goes
    by least recently stored there). There are no two-letter dirs: Beam lists
    one level of a filesystem with dirs, so each kind is one flat dir. Leftover
    temp files of a writer that died are gc's. Beam is imported at the first
    call, not when the store is made.
    """

    def __init__(self, location: str) -> None:
        self.root = join(location, FORMAT)
        self._dirs_made = False

    @functools.cached_property
    def _fs(self):
        from apache_beam.io.filesystems import FileSystems  # only for a URL cache: Beam loads slowly

        return FileSystems

    def where(self, kind: str, name: str) -> str:
        """The URL of the file ``name`` of ``kind`` (OBJECTS, ENTRIES or TMP)."""
        return join(self.root, kind, name)

    @as_oserror
    def exists(self, kind: str, name: str) -> bool:
        return self._fs.exists(self.where(kind, name))

    def read(self, kind: str, name: str) -> bytes | None:
        """The file's bytes, or None if there is none."""
        data = io.BytesIO()
        return data.getvalue() if self._stream(self.where(kind, name), data.write) else None

    def digest(self, kind: str, name: str) -> str | None:
        """The file's sha256, or None if there is none."""
        sha = hashlib.sha256()
        return sha.hexdigest() if self._stream(self.where(kind, name), sha.update) else None

    @contextlib.contextmanager
    def fetched(self, kind: str, name: str, near: str | Path) -> Iterator[Path | None]:
        """A local copy of the file (None if there is none), downloaded into the dir ``near``: placing it from
        there is a link. Read-only, like a local object, so that a hard link of it is too."""
        fd, tmp = tempfile.mkstemp(prefix=".tft_build-download-", dir=near)
        try:
            with os.fdopen(fd, "wb") as out:
                found = self._stream(self.where(kind, name), out.write)
            os.chmod(tmp, 0o444)
            yield Path(tmp) if found else None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    @as_oserror
    def _stream(self, url, write):
        """Pass the bytes of the file at ``url`` to ``write``, a block at a time; False if there is no such file."""
        try:
            with self._fs.open(url, compression_type=UNCOMPRESSED) as f:
                for block in iter(lambda: f.read(BLOCK), b""):
                    write(block)
        except FileNotFoundError:
            return False
        except Exception:
            if self._fs.exists(url):  # a filesystem that says "missing" otherwise (or one just written now)
                raise
            return False
        return True

    def put_file(self, kind: str, name: str, src: str | Path) -> None:
        with open(src, "rb") as f:
            self._write(kind, name, lambda out: shutil.copyfileobj(f, out, BLOCK))

    def put_bytes(self, kind: str, name: str, data: bytes) -> None:
        self._write(kind, name, lambda out: out.write(data))

    @as_oserror
    def _write(self, kind, name, fill):
        """Fill a new temp file with ``fill(stream)`` and rename it into place."""
        self._make_dirs()
        tmp, final = self.where(TMP, uuid.uuid4().hex), self.where(kind, name)
        with self._fs.create(tmp, compression_type=UNCOMPRESSED) as out:
            fill(out)
        try:
            self._fs.rename([tmp], [final])
        except Exception:
            if not self._fs.exists(final):
                raise
            self.delete(TMP, [tmp.rsplit("/", 1)[1]])  # a whole one is there already (see the class)

    def _make_dirs(self):
        """The dirs a rename needs on a filesystem with dirs (HDFS); on object stores, nothing."""
        if self._dirs_made:
            return
        for kind in (OBJECTS, ENTRIES, TMP):
            url = join(self.root, kind)
            if not self._fs.exists(url):
                with contextlib.suppress(OSError):  # another writer made it just now
                    self._fs.mkdirs(url)
        self._dirs_made = True

    def touch(self, kind: str, name: str) -> None:
        data = self.read(kind, name)
        if data is not None:
            self.put_bytes(kind, name, data)

    @as_oserror
    def list(self, kind: str) -> list[tuple[str, int, float]]:
        """``[(name, size, last updated)]`` of the files of ``kind``."""
        folder = join(self.root, kind)
        try:
            found = self._fs.match([join(folder, "*")])[0].metadata_list
        except Exception:
            if self._fs.get_filesystem(folder).has_dirs() and not self._fs.exists(folder):
                return []  # HDFS lists no dir that is not there yet; object stores list nothing
            raise
        return [(m.path.rsplit("/", 1)[1], m.size_in_bytes, m.last_updated_in_seconds) for m in found]

    @as_oserror
    def delete(self, kind: str, names: Iterable[str]) -> None:
        """Remove the files ``names`` of ``kind``; one already gone is as good."""
        urls = [self.where(kind, name) for name in names]
        if not urls:
            return
        try:
            self._fs.delete(urls)
        except Exception:
            if any(self._fs.exists(url) for url in urls):
                raise

    def clear(self) -> None:
        for kind in (OBJECTS, ENTRIES, TMP):
            self.delete(kind, [name for name, _, _ in self.list(kind)])


def place(src: str | Path, dst: str | Path) -> None:
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
