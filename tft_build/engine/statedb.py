"""doit's dependency database, waited for when busy and recovered when damaged.

A doit backend plugin (entry point ``doit.BACKEND``, name ``tft_sqlite3``):
doit's ``sqlite3`` backend, opened only after a check that tells a *busy*
database (another program holds a write lock on it: a sqlite client, a
backup tool) from a *damaged* one (truncated, garbage):

- busy: waited for, with a message, up to :data:`BUSY_WAIT_S`; then one line
  that says who to look for. It is never mistaken for damage.
- damaged: under the project lock (:mod:`tft_build.engine.lock`), so that no run is
  using it, it is checked again, moved aside to ``<name>.damaged`` with one
  line, and the run rebuilds what the database can no longer vouch for.

Every command that reads the database opens it this way (``list``,
``explain``, ``run``...); a busy database also gets sqlite's busy timeout
for the writes at the end of a run.
"""

import os
import sqlite3
import sys
from pathlib import Path
from typing import TextIO

from doit.dependency import JSONCodec, SqliteDB
from doit.exceptions import InvalidCommand

from tft_build.engine.lock import project_lock
from tft_build.errors import TftBuildError

BUSY_WAIT_S = 30
BUSY = "busy"
OK = "ok"


class StateDB(SqliteDB):
    """doit's sqlite3 backend behind the busy/damaged check of :func:`open_checked`."""

    desc = "sqlite3, waiting for a busy database and recovering a damaged one (tft_build)"

    def __init__(self, name: str, codec: JSONCodec, *, module_name: str | None = None) -> None:
        open_checked(Path(name))
        super().__init__(name, codec, module_name=module_name)
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_WAIT_S * 1000}")
        self._opened = file_id(name)

    def dump(self) -> None:
        """Save the run's records, unless the database was deleted meanwhile (with the artifacts dir).

        sqlite cannot write a file whose dir is gone, and doit would show its
        traceback: one line instead, and the next run redoes what is not recorded.
        """
        if self._dirty and file_id(self.name) != self._opened:
            self._conn.close()
            raise TftBuildError(
                f"the dependency database {self.name} was deleted while this run went on (with the artifacts "
                "dir?), so what it built is not recorded; run doit again"
            )
        super().dump()


def file_id(path: str) -> tuple[int, int] | None:
    """The device and inode of ``path``, or None when there is no such file."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def open_checked(path: Path, out: TextIO | None = None, wait_s: float = BUSY_WAIT_S) -> None:
    """Make ``path`` safe to open: wait while it is busy, move it aside when damaged."""
    out = out or sys.stderr
    problem = health(path)
    if problem == BUSY:
        out.write(f"tft_build: the dependency database {path} is locked by another program; "
                  f"waiting up to {wait_s} s...\n")
        out.flush()
        problem = health(path, timeout=wait_s)
        if problem == BUSY:
            raise InvalidCommand(
                f"tft_build: the dependency database {path} is still locked by another program after "
                f"{wait_s} s; close the program that holds it (a sqlite client, a backup) and run again"
            )
    if problem != OK:
        with project_lock(path.parent, out=out):
            problem = health(path, timeout=wait_s)
            if problem not in (OK, BUSY):
                set_aside(path, problem, out)


def health(path: Path, timeout: float = 0.5) -> str:
    """``"ok"`` (or no database yet), ``"busy"``, or what is wrong with the database."""
    if not path.exists() or path.stat().st_size == 0:
        return OK
    conn = sqlite3.connect(path, timeout=timeout)
    try:
        conn.execute("SELECT name FROM sqlite_master").fetchall()
        (problem,) = conn.execute("PRAGMA quick_check").fetchone()
        return problem
    except sqlite3.OperationalError as err:
        text = str(err)
        return BUSY if "locked" in text or "busy" in text else text
    except sqlite3.DatabaseError as err:
        return str(err)
    finally:
        conn.close()


def set_aside(path: Path, problem: str, out: TextIO) -> None:
    """Move a damaged database to ``<name>.damaged``, saying so in one line."""
    damaged = path.with_name(path.name + ".damaged")
    path.replace(damaged)
    out.write(
        f"tft_build: the dependency database {path} is damaged ({problem}); "
        f"moved it to {damaged.name} and will rebuild what it cannot vouch for\n"
    )
