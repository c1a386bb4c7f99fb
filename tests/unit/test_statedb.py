"""doit's dependency database: a busy one is waited for, never taken for damaged."""

import io
import sqlite3
import subprocess
import sys

import pytest
from doit.dependency import JSONCodec
from doit.exceptions import InvalidCommand

from tft_build.engine.statedb import BUSY, OK, StateDB, health, open_checked
from tft_build.errors import TftBuildError

HOLD = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


def hold(path):
    """Another sqlite client holding a write lock on ``path`` until its stdin gets a line."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def release(holder):
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.wait(timeout=30) == 0


@pytest.fixture
def state(tmp_path):
    path = tmp_path / ".doit-state.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("create table doit (task_id text not null primary key, task_data json)")
    conn.commit()
    conn.close()
    return path


def test_a_busy_database_is_refused_in_one_line_and_kept(state):
    holder = hold(state)
    try:
        assert health(state) == BUSY
        out = io.StringIO()
        with pytest.raises(InvalidCommand, match="still locked by another program after 1 s"):
            open_checked(state, out=out, wait_s=1)
        assert "waiting up to 1 s" in out.getvalue()
        assert state.exists() and not state.with_name(state.name + ".damaged").exists()
    finally:
        release(holder)
    assert health(state) == OK


def test_a_damaged_database_is_set_aside_under_the_lock(state):
    state.write_bytes(b"not a database" * 100)
    out = io.StringIO()
    open_checked(state, out=out)
    assert not state.exists() and state.with_name(state.name + ".damaged").exists()
    (line,) = out.getvalue().splitlines()
    assert "is damaged" in line and "will rebuild" in line


def test_a_database_deleted_while_a_run_goes_on_is_one_line(tmp_path):
    db = StateDB(str(tmp_path / "state.sqlite3"), JSONCodec())
    db.set("task", "dep", "value")
    (tmp_path / "state.sqlite3").unlink()
    with pytest.raises(TftBuildError, match="state.sqlite3 was deleted while this run went on"):
        db.dump()
