"""File states: a content digest behind a stat key that a restored mtime cannot fool."""

import os
import time

from tft_build.engine import filestate
from tft_build.engine.filestate import StatDigestChecker, file_state


def test_an_edit_with_the_old_mtime_restored_is_a_change(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("a,b\n1,2\n")
    saved = file_state(str(path))
    stat = path.stat()
    path.write_text("a,b\n1,3\n")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    checker = StatDigestChecker()
    assert checker.check_modified(str(path), path.stat(), saved)


def test_a_touch_is_no_change_and_a_settled_file_is_not_hashed_again(tmp_path, monkeypatch):
    path = tmp_path / "train.csv"
    path.write_text("a,b\n1,2\n")
    past = time.time() - 3600
    os.utime(path, (past, past))
    monkeypatch.setattr(filestate, "RACY_NS", 0)  # ctime is now, but trust it for this test
    saved = file_state(str(path))
    checker = StatDigestChecker()
    real_md5 = filestate.file_md5
    monkeypatch.setattr(filestate, "file_md5", lambda p: (_ for _ in ()).throw(AssertionError("hashed")))
    assert file_state(str(path), saved) == saved  # same key: the saved digest stands, unhashed
    assert not checker.check_modified(str(path), path.stat(), saved)
    monkeypatch.setattr(filestate, "file_md5", real_md5)
    os.utime(path, None)
    assert not checker.check_modified(str(path), path.stat(), saved)


def test_a_racily_new_file_is_saved_without_a_key(tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("x\n")
    state = file_state(str(path))
    assert state[:4] == [None] * 4 and state[4] == filestate.file_md5(str(path))
    assert not StatDigestChecker().check_modified(str(path), path.stat(), state)


def test_a_state_of_another_checker_counts_as_changed(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    assert StatDigestChecker().check_modified(str(path), path.stat(), [path.stat().st_mtime, 1, "md5"])


def test_saving_uses_the_recorded_state_not_the_file_now(tmp_path):
    path = tmp_path / "f"
    path.write_text("before")
    checker = StatDigestChecker()
    recorded = file_state(str(path))
    path.write_text("after, edited once the task had read it")
    checker.recorded = {str(path): recorded}
    assert checker.get_state(str(path), None) == recorded
    checker.recorded = None
    assert checker.get_state(str(path), None)[4] == filestate.file_md5(str(path)) != recorded[4]
