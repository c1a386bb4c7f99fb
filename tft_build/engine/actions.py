"""What a doit task runs: a step by dotted name, and the clean action.

Tasks name their step as ``"tft_build.steps.transform:transform_raw_data"``;
the step module (and with it TensorFlow) is imported only when the task really
runs, so loading the tasks stays fast. A step's user errors become a one-line
doit failure instead of a traceback. Around the step, the task's inputs are
snapshot, checked again afterwards and returned as the build record
(:mod:`tft_build.engine.snapshot`).
"""

import dataclasses
import shlex
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed
from doit.task import Task

from tft_build import layout
from tft_build.config.settings import Config
from tft_build.config.sizes import parse_size
from tft_build.engine import buildcache, interrupt, portable, snapshot, sourceguard, stepcall, warm
from tft_build.errors import TftBuildError
from tft_build.io import location


def run_step(step: str, cfg: Config, *args: Any, task: Task, run: str = "") -> TaskFailed | dict[str, Any]:
    """Import and call ``step(cfg, *args)``, traced; a user error fails the task in one line.

    doit passes ``task`` (the running doit task); the call trace goes to
    ``<artifacts>/traces/<task>.json``, stamped with ``run`` (the run's id). Beam options given on the command
    line (``--beam-args``) are added to the config's for this run only.
    Returns the snapshot of the inputs the step ran on, which doit saves as
    the task's values; an input that changed while it ran fails the task.
    A build of the same inputs in the build cache is restored instead of run;
    a build that ran is stored there.
    """
    interrupt.check()
    before = snapshot.take(task)
    stale_engine = sourceguard.refresh(before.modules)
    if stale_engine:
        return TaskFailed(f"{task.name}: module {stale_engine[0]} changed since this run imported it; run doit again")
    trace_file = cfg.artifact(*layout.trace_file(task.name))
    cache = CachedBuild(cfg, task, before, trace_file)
    if cache.restore():
        snapshot.seed(before, task)
        changed = snapshot.changed_while_running(before, task)
        if changed:
            return TaskFailed(f"{task.name}: {', '.join(changed)} changed while it was restored; run doit again")
        return {**before.record(), buildcache.RESTORED: cache.key}
    failure = _run(step, cfg, args, task, trace_file, run, before.modules)
    if failure:
        return failure
    snapshot.seed(before, task)
    changed = snapshot.changed_while_running(before, task)
    if changed:
        return TaskFailed(f"{task.name}: {', '.join(changed)} changed while it ran; run doit again")
    cache.save(before)
    return before.record()


def _run(step, cfg, args, task, trace_file, run, modules):
    """Run the step, in a warm worker when there is one (:mod:`tft_build.engine.warm`), else here;
    a :class:`TaskFailed` if it failed, else None."""
    extra_beam_args = shlex.split(task.options.get("beam_args") or "") if task.options else []
    if extra_beam_args:
        cfg = dataclasses.replace(cfg, beam_pipeline_args=cfg.beam_pipeline_args + tuple(extra_beam_args))
    failure = warm.run(cfg, step, args, task.name, trace_file, run, modules)
    if failure is warm.NOT_THERE:
        failure = stepcall.call_step(step, cfg, args, task.name, trace_file, run)
    return TaskFailed(failure) if failure else None


class CachedBuild:
    """A task's build in the build cache (:mod:`tft_build.engine.buildcache`): restored
    instead of run when its key is there, stored after it ran."""

    def __init__(self, cfg: Config, task: Task, before: snapshot.Snapshot, trace_file: str) -> None:
        self.cfg = cfg
        self.task_name = task.name
        self.store = buildcache.store_for(cfg)
        declared = (task.meta or {}).get("outputs") or []
        self.outputs = declared + [trace_file] if declared and self.store else []
        self.roots = portable.roots(cfg)
        self.described = buildcache.inputs(task.name, before, self.roots) if self.outputs else None
        self.key = self.described and buildcache.key_of(self.described)
        self.started = time.perf_counter()

    def restore(self) -> bool:
        """Whether the outputs were restored from the cache."""
        if not self.outputs:
            return False
        try:
            return buildcache.restore(self.store, self.key, self.outputs, self.roots, self.cfg.shared_dir)
        except OSError as err:
            buildcache.give_up(self.store, "restore from", err)
            return False

    def save(self, recorded: snapshot.Snapshot) -> None:
        """Store the outputs of the run; a cache that cannot be written never fails the build.

        They go under the key of the inputs the run started from and, when the record holds more
        (the schema file the task seeded, :func:`snapshot.seed`), under the key of ``recorded`` too:
        a later build that finds that file then finds this build.
        """
        if not self.outputs:
            return
        described = buildcache.inputs(self.task_name, recorded, self.roots)
        keys = {self.key: self.described, buildcache.key_of(described): described}
        try:
            seconds = time.perf_counter() - self.started
            for key, inputs in keys.items():
                buildcache.save(self.store, key, inputs, self.outputs, self.roots, seconds)
            buildcache.bound(self.store, parse_size(self.cfg.cache_max_size))
        except OSError as err:
            buildcache.give_up(self.store, "store the build in", err)


def clean_outputs(cfg: Config, paths: Iterable[str | Path]) -> None:
    """Remove ``paths`` (files or directories), only ever inside the artifacts dir."""
    root = Path(cfg.artifacts_dir).resolve()
    for path in map(Path, paths):
        path = path.resolve()
        if root not in path.parents:
            raise TftBuildError(f"refusing to clean {path}: it is outside the artifacts dir {root}")
        if path.is_dir():
            location.remove_pointed_build(path)
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        _remove_empty_parents(path.parent, root)


def _remove_empty_parents(directory, root):
    while directory != root and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent
