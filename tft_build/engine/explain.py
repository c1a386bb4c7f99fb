"""Which tasks ``doit`` would run, and why, running nothing (``doit explain``).

For the given tasks and, transitively, everything they need, :func:`explain`
tells one verdict a task, with its reasons:

- ``will run: NAME`` with each reason below it: a file that changed, a target
  that is missing, a setting that changed (old -> new), a function that
  changed (with the diff of its source against the version last built);
- ``will restore from cache: NAME``, with the same reasons, when the build
  cache holds a build of exactly the inputs it will have (its producers'
  restored outputs foreseen from their cache entries);
- ``may run: NAME``, when only an input made by a task that runs first could
  change it: whether it runs depends on whether that output really changes
  (early cutoff), which only running the producer can tell;
- ``up to date: NAME``;
- ``ignored: NAME``, a task ``doit ignore`` set aside, which doit skips.

It reads doit's database, the source files and the build cache's entries; it
imports no TensorFlow.
"""

import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from doit.task import Task

from tft_build.display import shown
from tft_build.engine import buildcache, portable, snapshot
from tft_build.engine.cachestore import Damaged
from tft_build.engine.pipeline import project_config

RESTORE = "will restore from cache"
IGNORED = "ignored"  # `doit ignore TASK`: doit skips it
DUE = ("will run", "may run")  # a task whose outputs cannot be foreseen


def explain(
    tasks: Mapping[str, Task], dep_manager: Any, selected: Iterable[str], failed: Collection[str] = ()
) -> dict[str, tuple[str, list[str]]]:
    """``{name: (kind, reasons)}`` for the ``selected`` tasks and what they depend on, in the
    order doit would run them: what ``doit`` would do to each and why, running nothing. ``failed``:
    the tasks whose last run failed (doit drops a failed task's record, as if it was never built)."""
    foresight = Foresight(tasks)
    producers = target_producers(tasks)
    verdicts = {}
    for name in dependency_order(tasks, selected):
        verdicts[name] = verdict(tasks, dep_manager, foresight, producers, name, verdicts, name in failed)
    return verdicts


def verdict(
    tasks: Mapping[str, Task], dep_manager: Any, foresight: "Foresight", producers: Mapping[str, str], name: str,
    verdicts: Mapping[str, tuple[str, list[str]]], failed: bool = False,
) -> tuple[str, list[str]]:
    """``(kind, reasons)`` for one task, given the verdicts of its dependencies."""
    task = tasks[name]
    if dep_manager.status_is_ignore(task):
        return IGNORED, [f"set aside by `doit ignore`: doit skips it until `doit forget {name}`"]
    status = dep_manager.get_status(task, tasks, get_log=True)
    unknown = [dep for dep in sorted(task.file_dep) if dep in producers and verdicts[producers[dep]][0] in DUE]
    if status.status != "up-to-date":
        values = dep_manager.get_values(name)
        if not values and any(hasattr(check, "changes") for check, _, _ in task.uptodate):
            reasons = ["its last run failed (doit keeps no record of a failed run)" if failed
                       else "never built (no record in doit's database)"]
        else:
            reasons = list(status_reasons(status.reasons, values, producers))
        return (RESTORE if not unknown and foresight.restorable(task) else "will run"), reasons
    if unknown:
        return "may run", [f"if {producers[dep]} changes {shown(dep)}" for dep in unknown]
    restored = [dep for dep in sorted(task.file_dep) if foresight.changes(dep, dep_manager._get(name, dep))]
    if not restored:
        return "up to date", []
    reasons = [f"input {shown(dep)} changes when {producers[dep]} is restored" for dep in restored]
    return (RESTORE if foresight.restorable(task) else "will run"), reasons


class Foresight:
    """What the build cache will do: which due tasks it restores, and the files it puts back."""

    def __init__(self, tasks: Mapping[str, Task]) -> None:
        cfg = project_config(tasks.values())
        self.store = cfg and buildcache.store_for(cfg)
        self.roots = cfg and portable.roots(cfg)
        self.files = {}  # path -> the state (md5 only) a restore will give it

    def restorable(self, task: Task) -> bool:
        """Whether running ``task`` now restores it from the cache (and, if so, foresee its files)."""
        if not self.store or not (task.meta or {}).get("outputs"):
            return False
        before = snapshot.take(task, self.files)
        try:
            entry = self.store.get(buildcache.key_of(buildcache.inputs(task.name, before, self.roots)))
        except (Damaged, OSError):  # a cache that cannot be read now restores nothing either
            return False
        if entry is None:
            return False
        for name, output in entry["outputs"].items():
            if name.startswith(buildcache.SHARED):
                continue  # not in the project: no task reads it by path
            root = portable.local(name, self.roots)
            for rel, digest in output["files"].items():
                self.files[os.path.join(root, rel) if rel else root] = [None] * 4 + [digest["md5"]]
        return True

    def changes(self, path: str, saved: Sequence[Any] | None) -> bool:
        """Whether a restore foreseen puts other content at ``path`` than its ``saved`` state."""
        return path in self.files and (not saved or saved[4] != self.files[path][4])


def dependency_order(tasks: Mapping[str, Task], selected: Iterable[str]) -> list[str]:
    """The selected tasks and their dependencies, each after what it depends on."""
    order, seen = [], set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        task = tasks[name]
        for dep in list(task.task_dep) + list(task.setup_tasks):
            visit(dep)
        order.append(name)

    for name in selected:
        visit(name)
    return order


def target_producers(tasks: Mapping[str, Task]) -> dict[str, str]:
    """Target path -> the task that makes it."""
    return {target: task.name for task in tasks.values() for target in task.targets}


def missing_input(path: str, producers: Mapping[str, str]) -> str:
    if path in producers:
        return f"input {shown(path)} is not built yet ({producers[path]} makes it)"
    return f"input file missing: {shown(path)} (the run will fail)"


# doit's per-file reasons, in the order they are told.
FILE_REASONS = (
    ("missing_target", lambda path, _: f"target missing: {shown(path)}"),
    ("changed_file_dep", lambda path, _: f"file changed: {shown(path)}"),
    ("missing_file_dep", missing_input),
    ("added_file_dep", lambda path, _: f"new input file: {shown(path)}"),
    ("removed_file_dep", lambda path, _: f"input file no longer used: {shown(path)}"),
)


def status_reasons(
    reasons: Mapping[str, Any], values: Mapping[str, Any], producers: Mapping[str, str]
) -> Iterator[str]:
    """Readable lines for the reasons of a doit status that is not up to date."""
    for check, _, _ in reasons.get("uptodate_false", []):
        if check is False:
            yield "runs every time (it only prints)"
        elif hasattr(check, "changes"):
            yield from check.changes(values)
        else:
            yield f"uptodate check {check!r} is false"
    for key, sentence in FILE_REASONS:
        for path in reasons.get(key, []):
            yield sentence(path, producers)
    if reasons.get("checker_changed"):
        old, new = reasons["checker_changed"]
        yield f"file checker changed: {old} -> {new}"
    if reasons.get("has_no_dependencies"):
        yield "has no dependencies, so it always runs"
