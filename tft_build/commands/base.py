"""What tft_build's doit commands share: the project's config, the lock option and the lock.

These commands replace or join doit's own for every doit project on the
machine; a dodo.py that is not tft_build's gets doit's behaviour unchanged
(``run``, ``clean``) or one line saying so (the others).
"""

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator

from doit.control import TaskControl
from doit.exceptions import InvalidCommand
from doit.task import Task

from tft_build.config.settings import Config
from tft_build.engine.lock import project_lock
from tft_build.engine.pipeline import project_config

NO_WAIT = {
    "name": "no_wait",
    "long": "no-wait",
    "type": bool,
    "default": False,
    "help": "fail at once when another run holds the project's lock, instead of waiting",
}


def project_tasks(command: str, task_list: Iterable[Task]) -> tuple[Config, dict[str, Task]]:
    """``(cfg, {name: task})`` of a tft_build project; doit's one-line error for another project."""
    tasks = TaskControl(task_list).tasks
    cfg = project_config(tasks.values())
    if cfg is None:
        raise InvalidCommand(f"{command}: this is not a tft_build project (no task made by tft_build)")
    return cfg, tasks


@contextlib.contextmanager
def locked(cfg: Config | None, no_wait: bool) -> Iterator[None]:
    """The project's lock for a tft_build project; nothing for another doit project."""
    if cfg is None:
        yield
    else:
        with project_lock(cfg.artifacts_dir, wait=not no_wait):
            yield


@contextlib.contextmanager
def reader_gone() -> Iterator[None]:
    """A command's output to a reader that stopped reading (``doit explain | head``) just ends.

    Python would print a BrokenPipeError traceback, then fail again at exit
    flushing stdout: what is left to write goes to /dev/null instead.
    """
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
