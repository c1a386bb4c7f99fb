"""The build record after each change of the data and the settings (see tests/e2e/matrix.py),
and a state database that another program holds busy."""

import subprocess
import sys

from matrix import TRAIN, matrix_tests
from support import ran

project, test_the_next_doit_reruns_exactly_what_it_must = matrix_tests(["train CSV", "eval CSV", "setting"])


HOLD = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.readline()
"""


def test_a_busy_state_database_is_waited_for_not_rebuilt(project):
    """Case 6: another sqlite client holds a write lock on doit's database while `doit list` starts."""
    state = project.artifacts / ".doit-state.sqlite3"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(state)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    listing = project.start("list")
    waiting = listing.stderr.readline()
    assert "is locked by another program; waiting" in waiting
    holder.communicate("\n", timeout=30)
    out, err = listing.communicate(timeout=60)
    assert listing.returncode == 0, err
    assert TRAIN in out and "damaged" not in err
    assert not state.with_name(state.name + ".damaged").exists()
    assert ran(project.doit(script=True).stdout) == set()
