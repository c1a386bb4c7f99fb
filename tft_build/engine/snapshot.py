"""Snapshot, run, verify: the build record holds exactly the inputs a task ran on.

doit would save a task's values (its ``value_savers``) and its files'
digests *after* the action, so an input edited while the task ran would be
recorded as built. Instead the action (:func:`tft_build.engine.actions.run_step`)
takes a :class:`Snapshot` of everything the task reads just before the step
runs: its files' states (:mod:`tft_build.engine.filestate`), its code fingerprint,
its settings and package versions, remote data stamps. After the step it
takes another, and checks that every project module the step imported came
from the source the snapshot fingerprinted (:mod:`tft_build.engine.sourceguard`);
if anything differs, the task fails with one line and stays due (doit
forgets a failed task's record). Otherwise the snapshot is the action's
return value, which doit keeps as the task's values, and :func:`recording`
makes doit save the snapshot's file states instead of hashing the files again.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from doit.dependency import Dependency
from doit.task import Task

from tft_build.display import shown
from tft_build.engine import sourceguard
from tft_build.engine.filestate import file_state

FILES = "_files"
CODE = "_code"


@dataclass
class Snapshot:
    """What a task reads: ``files`` (path -> state) and ``values`` (check key -> value)."""

    files: dict[str, list[Any] | None]  # path -> [inode, size, mtime_ns, ctime_ns, md5], or None when missing
    values: dict[str, Any]

    @property
    def modules(self) -> dict[str, str]:
        """The source digests of the project modules the task's code was fingerprinted from."""
        return self.values.get(CODE, {}).get("modules", {})

    def record(self) -> dict[str, Any]:
        """The task's values to save in doit's database on success."""
        return {**self.values, FILES: self.files}


def take(task: Task, files: Mapping[str, list[Any]] | None = None) -> Snapshot:
    """The snapshot of ``task``'s inputs, computed now; ``files`` (path -> state) may
    say what some files will hold (``doit explain`` foreseeing a restore)."""
    states = {dep: (files or {}).get(dep) or _state(dep) for dep in sorted(task.file_dep)}
    values = {check.key: check.fresh() for check in stored_checks(task)}
    return Snapshot(states, values)


def stored_checks(task: Task) -> list[Any]:
    """The task's uptodate checks that store a value (settings, code, remote files)."""
    return [check for check, _, _ in task.uptodate if hasattr(check, "fresh")]


def seed(before: Snapshot, task: Task) -> None:
    """After a run or a restore: let each check that seeds a missing input from the task's output
    (the schema file) do so, and record in ``before`` the text the task ran on."""
    for check in stored_checks(task):
        if hasattr(check, "seed") and before.values.get(check.key) is None:
            text = check.seed()
            if text is not None:
                before.values[check.key] = text


def changed_while_running(before: Snapshot, task: Task) -> list[str]:
    """What the task reads that differs now from ``before``, and the modules the step
    imported from another source than ``before`` was fingerprinted from."""
    changed = differences(before, take(task))
    imported = [f"module {name}" for name in sourceguard.mismatched(before.modules)]
    return changed + [name for name in imported if name not in changed]


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    """What differs between two snapshots of one task, each as the user would name it."""
    changed = [shown(path) for path, state in before.files.items() if _content(state) != _content(after.files[path])]
    for key, value in before.values.items():
        if key == CODE:  # by meaning: an edit elsewhere in a module is no change of this task's code
            if value["digest"] != after.values[CODE]["digest"]:
                edited = [name for name, digest in before.modules.items() if digest != after.modules.get(name)]
                changed += [f"module {name}" for name in edited] or ["its code"]
        elif value != after.values.get(key):
            changed.append(key.strip("_").replace("_", " "))
    return changed


def _state(path):
    try:
        return file_state(path)
    except OSError:
        return None


def _content(state):
    """The content digest of a state (a ``touch`` changes the key, not this)."""
    return state and state[4]


def recording(dep_manager: Dependency) -> "_Recording":
    """doit's dependency manager, saving on success the file states the task's snapshot verified."""
    return _Recording(dep_manager)


class _Recording:
    """Delegates to doit's :class:`~doit.dependency.Dependency`; ``save_success`` and the
    saving of refreshed stat keys for up-to-date tasks differ."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def get_status(self, task, tasks_dict, get_log=False):
        status = self._inner.get_status(task, tasks_dict, get_log)
        if status.status == "up-to-date":
            self._refresh(task)
        return status

    def _refresh(self, task):
        """Save the new stat key of an input whose content did not change (the project was
        copied or restored, a file touched), so that later runs need not hash it again."""
        for dep in task.file_dep:
            saved = self._inner._get(task.name, dep)
            state = _state(dep)
            if saved and state and state != saved and state[0] is not None and state[4] == saved[4]:
                self._inner._set(task.name, dep, state)

    def save_success(self, task, result_hash=None):
        files = task.values.pop(FILES, None)
        if files is None:  # not a tft_build step: doit's own way
            return self._inner.save_success(task, result_hash)
        checker = self._inner.checker
        checker.recorded = files
        task.result = None  # the values are the record; doit would store them twice
        try:
            return self._inner.save_success(task, result_hash)
        finally:
            checker.recorded = None
