"""What a doit task runs: a step by dotted name, and the clean action.

Tasks name their step as ``"tft_build.steps.transform:transform_raw_data"``;
the step module (and with it TensorFlow) is imported only when the task really
runs, so loading the tasks stays fast. A step's user errors become a one-line
doit failure instead of a traceback. Around the step, the task's inputs are
snapshot, checked again afterwards and returned as the build record
(:mod:`tft_build.engine.snapshot`).
"""

import contextlib
import dataclasses
import errno
import importlib
import logging
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed
from doit.task import Task

from tft_build import layout
from tft_build.config.settings import Config
from tft_build.config.sizes import parse_size
from tft_build.engine import buildcache, interrupt, portable, snapshot, sourceguard, trace
from tft_build.errors import TftBuildError, first_line, message
from tft_build.io import location

VERBOSE = "TFT_BUILD_VERBOSE"


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
    failure = _run(step, cfg, args, task, trace_file, run)
    if failure:
        return failure
    snapshot.seed(before, task)
    changed = snapshot.changed_while_running(before, task)
    if changed:
        return TaskFailed(f"{task.name}: {', '.join(changed)} changed while it ran; run doit again")
    cache.save(before)
    return before.record()


def _run(step, cfg, args, task, trace_file, run):
    """Call the step, traced; a :class:`TaskFailed` if it failed, else None."""
    module_name, _, function = step.partition(":")
    extra_beam_args = shlex.split(task.options.get("beam_args") or "") if task.options else []
    if extra_beam_args:
        cfg = dataclasses.replace(cfg, beam_pipeline_args=cfg.beam_pipeline_args + tuple(extra_beam_args))
    try:
        with quiet_native_stderr():
            module = importlib.import_module(module_name)
        with trace.recording(task.name, trace_file, run):
            getattr(module, function)(cfg, *args)
    except TftBuildError as err:
        if os.environ.get(VERBOSE) and err.__cause__:  # user code's error, blamed on its setting
            traceback.print_exception(err.__cause__)
        return TaskFailed(message(err))
    except SystemExit as err:  # a library's argparse or the user's code exits: the task fails, the run goes on
        return TaskFailed(f"{task.name}: the step exited with status {err.code} (set {VERBOSE}=1 for the traceback)")
    except Exception as err:
        if os.environ.get(VERBOSE):
            raise
        if not Path(cfg.artifacts_dir).is_dir():  # what the step wrote into went with it
            return TaskFailed(f"{task.name}: {cfg.artifacts_dir} was deleted while the task ran; run doit again")
        full = out_of_space(cfg, err)
        if full:
            return TaskFailed(f"{task.name}: {full}")
        return TaskFailed(f"{type(err).__name__}: {first_line(err)} (set {VERBOSE}=1 for the traceback)")
    return None


def out_of_space(cfg: Config, err: Exception) -> str | None:
    """What to say of a step that ran out of disk space, naming where; None for any other error.

    TensorFlow and Beam re-raise the OSError as their own error, with the
    file in the text: the dir named is the artifacts dir or ``shared_dir``
    that holds that file, else the file's dir.
    """
    text = str(err)
    if getattr(err, "errno", None) != errno.ENOSPC and "No space left on device" not in text:
        return None
    named = getattr(err, "filename", None) or next(iter(re.findall(r"(/[^\s;:,'\"]+)", text)), None)
    path = Path(named or cfg.artifacts_dir)
    roots = [Path(d) for d in (cfg.artifacts_dir, cfg.shared_dir) if d and not location.is_remote(str(d))]
    where = next((root for root in roots if root == path or root in path.parents), path.parent)
    room = next((d for d in (where, *where.parents) if d.exists()), where)
    free = f" ({shutil.disk_usage(room).free / 2**20:.1f} MiB free now)"
    return (f"no space left on the device of {where}{free}; free some space there, or set artifacts_dir "
            "(and shared_dir) to a disk with room, and run doit again")


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


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hide TensorFlow's C++ start-up chatter (no env var silences it).

    Native code writes to file descriptor 2 directly, so the descriptor is
    pointed at a temp file while the step module (and TensorFlow) load, and
    what was written is replayed if the import fails. Python's own logging is
    set to errors only and to the real stderr, which doit does not wrap.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # errors reach Python as exceptions
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
            _quiet_python_logging()
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.__stderr__.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _quiet_python_logging():
    """Errors only from absl; none from Beam, whose failures come back as exceptions."""
    import absl.logging  # installed with TensorFlow; imported only once it is

    logging.getLogger("apache_beam").setLevel(logging.CRITICAL)
    absl.logging.set_verbosity(absl.logging.ERROR)
    absl.logging.get_absl_handler().python_handler.stream = sys.__stderr__


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
