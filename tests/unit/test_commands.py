"""What the commands share: a tft_build project's config from its tasks, one line for another project."""

import json
import os

import pytest
from doit.exceptions import InvalidCommand
from doit.task import Task

from tft_build.commands.base import locked, project_tasks
from tft_build.config.settings import Config
from tft_build.engine.lock import lock_path


def test_a_tft_build_project_is_known_by_its_tasks_meta(tmp_path):
    cfg = Config(project_dir=tmp_path, artifacts_dir=tmp_path / "artifacts")
    tasks = [Task("plain", [lambda: None]), Task("ours", [lambda: None], meta={"tft_build": cfg})]
    found, by_name = project_tasks("graph", tasks)
    assert found is cfg and sorted(by_name) == ["ours", "plain"]


def test_another_doit_project_gets_one_line():
    with pytest.raises(InvalidCommand, match="^graph: this is not a tft_build project"):
        project_tasks("graph", [Task("plain", [lambda: None])])


def test_a_tft_build_project_is_locked_while_a_command_runs(tmp_path):
    cfg = Config(project_dir=tmp_path, artifacts_dir=tmp_path / "artifacts")
    with locked(cfg, no_wait=True):
        holder = json.loads(lock_path(tmp_path / "artifacts").read_text())
    assert holder["pid"] == os.getpid()
