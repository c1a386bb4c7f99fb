"""One build at a time: an exclusive lock on the project's artifacts dir.

A ``doit`` (or ``tft-tasks``) that runs or cleans tasks holds the lock for its
whole run; a second one waits, saying who holds it (pid, command, since
when), or with ``--no-wait`` fails at once with that message. The lock is an
``flock`` on ``.<artifacts>.tft_build.lock`` beside the artifacts dir
(:func:`lock_path`), so that deleting the artifacts dir while a build runs
cannot take the lock with it; the kernel releases it when its process dies,
so a lock left by a killed run is simply taken over. Commands that only read
(``list``, ``explain``, ``graph``) never take it.
"""

import contextlib
import datetime
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from tft_build import layout
from tft_build.errors import TftBuildError

_held: int | None = None  # the descriptor of the lock this process holds


class LockBusy(TftBuildError):
    """Another process holds the project's lock and we were told not to wait."""


@contextlib.contextmanager
def project_lock(artifacts_dir: str | Path, wait: bool = True, out: TextIO | None = None) -> Iterator[None]:
    """Hold the project's lock for the block; wait for it (with a message) or fail."""
    out = out or sys.stderr
    path = lock_path(artifacts_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise TftBuildError(f"cannot make the lock {path} of {artifacts_dir} ({err.strerror}); "
                            "make its dir writable or set another artifacts_dir") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            busy = f"{artifacts_dir} is in use by {holder(fd)}"
            if not wait:
                raise LockBusy(f"{busy}; not waiting (--no-wait)") from None
            out.write(f"tft_build: {busy}; waiting for it to finish...\n")
            out.flush()
            fcntl.flock(fd, fcntl.LOCK_EX)
            out.write("tft_build: the lock is free; going on\n")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me()).encode(), 0)
        global _held
        _held = fd
        try:
            yield
        finally:
            _held = None
            os.ftruncate(fd, 0)  # nobody holds it now
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def project_lock_descriptor() -> int | None:
    """The descriptor of the lock this process holds, or None: a warm worker given a copy keeps
    the lock held while it runs a step (:mod:`tft_build.engine.warm`), even if this process dies."""
    return _held


def lock_path(artifacts_dir: str | Path) -> Path:
    """The lock file of ``artifacts_dir``: beside it, named after it (``.artifacts.tft_build.lock``)."""
    artifacts = Path(os.path.abspath(artifacts_dir))
    return artifacts.parent / f".{artifacts.name}{layout.LOCK_FILE}"


def me() -> dict[str, int | str]:
    """Who holds the lock: this process, its command line, since now."""
    return {
        "pid": os.getpid(),
        "command": " ".join([os.path.basename(sys.orig_argv[0]), *sys.orig_argv[1:]]),
        "since": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def holder(fd: int) -> str:
    """A description of the process that holds the lock, from what it wrote."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']} (`{info['command']}`, since {info['since']})"
    except (ValueError, KeyError):
        return "another process"
