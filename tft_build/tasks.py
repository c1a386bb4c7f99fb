"""What a project's ``dodo.py`` loads: the pipeline's tasks with doit's settings.

This module joins the rooms: the settings (:mod:`tft_build.config`), the task
definitions (:mod:`tft_build.engine.pipeline`) and the run's reporter
(:mod:`tft_build.report.reporter`). Task names are the seed's (*tft_tasks*), so
its instructions keep working. Nothing here imports TensorFlow.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from doit.exceptions import InvalidDodoFile

from tft_build import layout
from tft_build.config.settings import Config, load_config
from tft_build.engine import dotted, parallel, pipeline, portable, sourceguard
from tft_build.engine.actions import clean_outputs
from tft_build.engine.filestate import StatDigestChecker
from tft_build.engine.safety import check_artifacts_dir, make_artifacts_dir
from tft_build.errors import TftBuildError
from tft_build.report import history, reporter

STATE_BACKEND = "tft_sqlite3"  # tft_build.engine.statedb, registered as a doit.BACKEND plugin

TaskCreator = Callable[[], dict[str, Any]]  # doit's task_<name>(): the task's dict


def load_tasks(project_dir: str | Path = ".") -> tuple[dict[str, Any], dict[str, TaskCreator]]:
    """``(DOIT_CONFIG, {"task_<name>": creator})`` for the project's config."""
    cfg = load_config(project_dir)
    sourceguard.add_code_dirs(cfg.code_dirs)  # before any fingerprint: it reads what import will load
    for setting in dotted.plugin_settings(cfg):
        dotted.check(cfg, setting)
    check_artifacts_dir(cfg)
    make_artifacts_dir(cfg)
    run = history.now()  # this run's id, in its history, its traces and its report
    doit_config = {
        "default_tasks": [f"train_and_predict_{name}_model" for name, _ in cfg.models],
        "backend": STATE_BACKEND,
        "dep_file": str(cfg.artifacts_dir / layout.STATE_FILE),
        "check_file_uptodate": StatDigestChecker,
        "codec_cls": portable.codec_for(portable.roots(cfg)),  # a moved project keeps its record
        "verbosity": 2,
        "num_process": parallel.default_jobs(len(cfg.models)),  # independent tasks side by side
        "cleanall": True,  # `doit clean` empties the artifacts, not only the defaults'
        "reporter": reporter.reporter_for(cfg, run),
    }
    creators = pipeline.creators(cfg)
    return doit_config, {name: recorded(cfg, run, name, creator) for name, creator in creators.items()}


def recorded(cfg: Config, run: str, creator_name: str, creator: TaskCreator) -> TaskCreator:
    """The creator, with what the task makes (``outputs``: the dirs and files it replaces,
    which clean removes and the build cache stores), the run's id on its actions, and its
    run records, forgotten on clean."""

    def create() -> dict[str, Any]:
        task = creator()
        outputs = task.pop("outputs", [])
        # for the doit commands of tft_build (graph, run, clean, cache) and the build cache
        task["meta"] = {"tft_build": cfg, "outputs": outputs}
        task["actions"] = [(action, args, {"run": run}) for action, args in task["actions"]]
        name = creator_name[len("task_"):]
        cleaners = [(clean_outputs, [cfg, outputs])] if outputs else []
        task["clean"] = cleaners + [(history.forget_status, [cfg.artifacts_dir, name])]
        return task

    create.__name__ = creator_name
    return create


def dodo_globals(project_dir: str | Path = ".") -> dict[str, Any]:
    """What ``dodo.py`` defines; a bad config is doit's one-line error, not a traceback."""
    try:
        doit_config, creators = load_tasks(project_dir)
    except TftBuildError as err:
        raise InvalidDodoFile(f"tft_build: {err}") from None
    return {"DOIT_CONFIG": doit_config, **creators}
