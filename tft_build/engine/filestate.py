"""What a data file is, for the build record: its content digest, found fast and never fooled.

A file's state is ``[inode, size, mtime_ns, ctime_ns, md5]``. The digest is
computed again only when the stat key (the first four) changed, as Git and
Bazel do. The ctime is part of the key because no user tool can set it back:
``cp -p``, ``rsync -t``, ``tar x`` or a restore from backup restore the
*mtime* of an edited file, and doit's own md5 checker, which trusts an
unchanged mtime, then never looks at the new content.

A stat key is trusted only when the file was last changed well before its
digest was taken (:data:`RACY_NS`): file times are coarse (a few ms), so two
writes of the same size in one tick could otherwise keep the same key.

:class:`StatDigestChecker` is doit's file checker (``check_file_uptodate``).
When a task succeeds, the states it records are the ones the task saw before
it ran (see :mod:`tft_build.engine.snapshot`), not ones taken afterwards.
"""

import errno
import hashlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from stat import S_ISREG
from typing import Any

from doit.dependency import FileChangedChecker

from tft_build.io.manifest import file_sha256

RACY_NS = 2_000_000_000  # a key is trusted once the file has been still this long before hashing
_digests = {}  # path -> (stat key, md5, taken at ns): this process's digest cache


def stat_key(stat: os.stat_result) -> list[int]:
    """The part of a stat result that changes whenever the content can have."""
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def trusted(key: Sequence[int], taken_ns: int) -> bool:
    """Whether a stat key taken at ``taken_ns`` vouches for the content (not racily new)."""
    return key[3] < taken_ns - RACY_NS


def file_state(path: str, previous: list[Any] | None = None) -> list[Any]:
    """The state of the file at ``path`` now; ``previous`` (a saved state) may spare the hashing."""
    stat = os.stat(path)
    if not S_ISREG(stat.st_mode):  # hashing a pipe would wait for a writer; the step says what is wrong
        raise OSError(errno.EINVAL, "not a regular file", path)
    key = stat_key(stat)
    if previous and list(previous[:4]) == key and len(previous) == 5:
        return previous
    cached = _digests.get(path)
    if cached and cached[0] == key and trusted(key, cached[2]):
        return key + [cached[1]]
    taken = time.time_ns()
    digest = file_md5(path)
    _digests[path] = (key, digest, taken)
    # A racily new file is saved without a key, so that the next check hashes it.
    return (key if trusted(key, taken) else [None] * 4) + [digest]


def file_md5(path: str | Path) -> str:
    """The md5 of a file's content (what doit's records have always held)."""
    return file_sha256(path, hashlib.md5)


class StatDigestChecker(FileChangedChecker):
    """doit's file checker: content digests behind a stat key that a restored mtime cannot fool.

    ``recorded`` holds, while doit saves a successful task, the file states
    the task's snapshot verified: those are saved instead of states taken now.
    """

    recorded: dict[str, list[Any] | None] | None = None

    def check_modified(self, file_path: str, file_stat: os.stat_result, state: Sequence[Any]) -> bool:
        if len(state) != 5:  # a state from another checker
            return True
        if state[:4] == stat_key(file_stat):
            return False
        if not S_ISREG(file_stat.st_mode):  # a pipe would block the hashing: changed, and the step says why
            return True
        return file_state(file_path)[4] != state[4]

    def get_state(self, dep: str, current_state: list[Any] | None) -> list[Any] | None:
        if self.recorded is not None and dep in self.recorded:
            state = self.recorded[dep]
        else:
            state = file_state(dep, current_state)
        return None if state == current_state else state
