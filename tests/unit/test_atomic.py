"""Atomic outputs: all of a new output or all of the old one, never half."""

import os

import pytest

from tft_build.io.atomic import atomic_dir, write_file_atomic


def test_atomic_dir_replaces_the_output_on_success(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with atomic_dir(out) as staging:
        assert not (staging / "old.txt").exists()
        (staging / "new.txt").write_text("new")
        assert (out / "old.txt").exists()  # the old output stands until the end
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert oct(out.stat().st_mode & 0o777) == oct(0o755)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_dir_keeps_the_old_output_on_failure(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as staging:
            (staging / "half.txt").write_text("half")
            raise RuntimeError("step failed")
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_dir_leaves_nothing_when_there_was_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(tmp_path / "a" / "out") as staging:
            (staging / "x").write_text("x")
            raise KeyboardInterrupt
    assert list((tmp_path / "a").iterdir()) == []


def test_staging_left_by_a_killed_run_is_removed(tmp_path):
    (tmp_path / ".out.tmp-dead").mkdir()
    (tmp_path / ".out.tmp-dead" / "partial").write_text("p")
    (tmp_path / ".out.old-123").mkdir()
    with atomic_dir(tmp_path / "out") as staging:
        (staging / "f").write_text("f")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_file_atomic(tmp_path):
    path = tmp_path / "d" / "m.json"
    write_file_atomic(path, "one\n")
    write_file_atomic(path, "two\n")
    assert path.read_text() == "two\n"
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert os.listdir(path.parent) == ["m.json"]
