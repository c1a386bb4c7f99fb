"""Snapshot, run, verify: what is saved is what the task saw before it ran."""

from doit.dependency import Dependency, SqliteDB
from doit.task import Task

from tft_build.engine.filestate import StatDigestChecker, file_md5
from tft_build.engine.snapshot import FILES, Snapshot, differences, recording, take
from tft_build.engine.uptodate import settings_unchanged


def test_saving_records_the_snapshot_not_the_file_as_edited_after_the_step(tmp_path):
    data = tmp_path / "train.csv"
    data.write_text("a\n1\n")
    task = Task("t", [None], file_dep=[str(data)], uptodate=[settings_unchanged({"nbuckets": 10})])
    before = take(task)
    data.write_text("a\n2\n")  # after the step read it, before doit saves
    deps = recording(Dependency(SqliteDB, str(tmp_path / "state.sqlite3"), checker_cls=StatDigestChecker))
    task.values = before.record()
    deps.save_success(task)
    saved = deps._get("t", str(data))
    assert saved[4] == before.files[str(data)][4] != file_md5(str(data))
    assert FILES not in deps.get_values("t") and deps.get_values("t")["_settings"]["nbuckets"] == 10
    status = deps.get_status(task, {"t": task})
    assert status.status == "run", "the edit made after the snapshot is still to be built"


def test_differences_name_files_settings_and_modules():
    code = {"digest": "a", "modules": {"my_helpers": "1", "my_preprocessing": "2"}}
    before = Snapshot({"data/train.csv": [1, 2, 3, 4, "x"]}, {"_settings": {"n": 1}, "_code": code})
    touched = Snapshot({"data/train.csv": [1, 2, 9, 9, "x"]}, {"_settings": {"n": 1}, "_code": code})
    assert differences(before, touched) == []
    edited_code = {"digest": "b", "modules": {"my_helpers": "3", "my_preprocessing": "2"}}
    after = Snapshot({"data/train.csv": [1, 2, 9, 9, "y"]}, {"_settings": {"n": 2}, "_code": edited_code})
    assert differences(before, after) == ["data/train.csv", "settings", "module my_helpers"]
    comment_only = {"digest": "a", "modules": {"my_helpers": "3", "my_preprocessing": "2"}}
    assert differences(before, Snapshot(before.files, {"_settings": {"n": 1}, "_code": comment_only})) == []
