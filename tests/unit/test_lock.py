"""The project lock: one build at a time, a clear message for the second, taken over after a kill."""

import contextlib
import io
import json
import shutil
import subprocess
import sys
import threading
import time

import pytest

from tft_build.engine.lock import LockBusy, lock_path, project_lock


def test_the_holder_is_written_while_held_and_cleared_after(tmp_path):
    with project_lock(tmp_path):
        holder = json.loads(lock_path(tmp_path).read_text())
        assert set(holder) == {"pid", "command", "since"}
    assert lock_path(tmp_path).read_text() == ""


def test_a_second_holder_fails_at_once_with_no_wait_naming_the_first(tmp_path):
    with project_lock(tmp_path):
        code = (f"from tft_build.engine.lock import project_lock\n"
                f"with project_lock({str(tmp_path)!r}, wait=False):\n    pass\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "is in use by pid" in done.stderr and "not waiting (--no-wait)" in done.stderr


@contextlib.contextmanager
def held_elsewhere(artifacts_dir):
    """The lock held by another process until the block ends."""
    code = (f"import sys\nfrom tft_build.engine.lock import project_lock\n"
            f"with project_lock({str(artifacts_dir)!r}):\n    print('held', flush=True)\n    sys.stdin.read()\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        yield child
    finally:
        child.stdin.close()
        child.wait(timeout=30)


def test_a_second_holder_waits_and_says_so(tmp_path):
    out = io.StringIO()
    acquired = threading.Event()

    def take():
        with project_lock(tmp_path, out=out):
            acquired.set()

    with held_elsewhere(tmp_path) as holder:
        thread = threading.Thread(target=take)
        thread.start()
        deadline = time.monotonic() + 30
        while "waiting for it to finish" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert f"is in use by pid {holder.pid}" in out.getvalue() and not acquired.is_set()
    thread.join(timeout=30)
    assert acquired.is_set() and out.getvalue().endswith("tft_build: the lock is free; going on\n")


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    code = (f"import os\nfrom tft_build.engine.lock import project_lock\n"
            f"with project_lock({str(tmp_path)!r}):\n    os._exit(9)\n")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    with project_lock(tmp_path, wait=False):
        pass


def test_no_wait_raises_lock_busy_in_process(tmp_path):
    with held_elsewhere(tmp_path), pytest.raises(LockBusy, match=r"(?s)pid \d+ .*not waiting"):
        with project_lock(tmp_path, wait=False):
            pass


def test_the_lock_outlives_its_artifacts_dir(tmp_path):
    """`rm -rf artifacts` while a build holds the lock: a second build still waits (here: fails at once)."""
    artifacts = tmp_path / "artifacts"
    with project_lock(artifacts):
        shutil.rmtree(artifacts, ignore_errors=True)
        with pytest.raises(LockBusy, match="is in use by pid"):
            with project_lock(artifacts, wait=False):
                pass
    assert lock_path(artifacts).parent == tmp_path
