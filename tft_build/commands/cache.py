"""``doit cache status | gc | verify | clear``: look after the build cache.

A doit command plugin (entry point ``doit.COMMAND``). The cache is the
config's ``cache_dir`` (:mod:`tft_build.engine.buildcache`); it may be shared by
other checkouts and machines, so ``status`` counts every build in it, while
hits and misses come from this project's run history. ``gc`` removes the
least recently used builds until the cache fits ``--max-size`` (default: the
config's ``cache_max_size``, also applied after every stored build);
``verify`` checks every stored file against its sha256 and removes what is
damaged; ``clear`` empties it. Nothing here imports TensorFlow.
"""

from collections import Counter
from collections.abc import Container, Iterable, Mapping
from typing import Any

from doit.cmd_base import DoitCmdBase
from doit.exceptions import InvalidCommand
from doit.task import Task

from tft_build.commands.base import project_tasks
from tft_build.config.sizes import parse_size
from tft_build.engine import buildcache
from tft_build.report import history

ACTIONS = ("status", "gc", "verify", "clear")
MAX_SIZE = {
    "name": "max_size",
    "long": "max-size",
    "type": str,
    "default": "",
    "help": "gc: the size to bring the cache under, e.g. 5GB or 500MB (default: the config's cache_max_size)",
}


class Cache(DoitCmdBase):
    """The doit command ``cache``."""

    name = "cache"
    doc_purpose = "show, bound, check or empty the build cache"
    doc_usage = "status | gc [--max-size SIZE] | verify | clear"
    doc_description = (
        "status: builds stored, size, bound, and this project's hits and misses. "
        "gc: remove the least recently used builds until the cache fits. "
        "verify: check every stored file against its sha256; remove damaged builds. "
        "clear: remove every build."
    )
    cmd_options = (MAX_SIZE,)

    def _execute(self, max_size="", pos_args=None):
        action, max_size = parse_args(pos_args or [], max_size)
        cfg, tasks = project_tasks("cache", self.task_list)
        store = buildcache.store_for(cfg)
        if store is None:
            self.outstream.write(f"the build cache is off ({cfg.where('cache_dir')} is \"\")\n")
            return 0
        bound = parse_size(max_size or cfg.cache_max_size)
        try:
            return getattr(self, f"_{action}")(store, cfg, tasks, bound)
        except OSError as err:  # a cache dir that cannot be read or reached: one line, not a traceback
            raise InvalidCommand(f"cache {action}: the build cache {store.location}: {err}") from None

    def _status(self, store, cfg, tasks, bound):
        entries = store.read_all()
        per_task = Counter(entry["task"] for _, entry in entries if entry)
        damaged = sum(1 for _, entry in entries if entry is None)
        lines = [
            f"build cache: {store.location}",
            f"builds: {len(entries)}" + (f" ({damaged} unreadable)" if damaged else ""),
            *[f"  {task}: {count}" for task, count in sorted(per_task.items())],
            f"size: {_megabytes(store.size())} of {_megabytes(bound)} allowed (files shared by builds count once)",
            hit_line(history.read_history(cfg.artifacts_dir), cached_tasks(tasks)),
        ]
        self.outstream.write("\n".join(lines) + "\n")
        return 0

    def _gc(self, store, cfg, tasks, bound):
        removed, freed = store.gc(bound)
        self.outstream.write(
            f"removed {removed} build(s), {_megabytes(freed)}; the cache holds {_megabytes(store.size())} "
            f"(bound {_megabytes(bound)})\n"
        )
        return 0

    def _verify(self, store, cfg, tasks, bound):
        problems = store.verify()
        for problem in problems:
            self.outstream.write(problem + "\n")
        self.outstream.write(
            f"{len(store.keys())} build(s) verified"
            + (f", {len(problems)} damaged removed\n" if problems else ", all whole\n")
        )
        return 1 if problems else 0

    def _clear(self, store, cfg, tasks, bound):
        count, size = len(store.keys()), store.size()
        store.clear()
        self.outstream.write(f"removed {count} build(s), {_megabytes(size)} from {store.location}\n")
        return 0


def parse_args(args: Iterable[str], max_size: str) -> tuple[str, str]:
    """``(action, max size)`` from the words after ``doit cache``.

    doit reads options only before the first word, so ``--max-size`` after
    the action (``doit cache gc --max-size 5GB``) is read here.
    """
    words = list(args)
    for i, word in enumerate(words):
        if word.startswith("--max-size="):
            max_size = words.pop(i).partition("=")[2]
            break
        if word == "--max-size" and i + 1 < len(words):
            max_size = words[i + 1]
            del words[i:i + 2]
            break
    action = words[0] if words else "status"
    if action not in ACTIONS or len(words) > 1:
        raise InvalidCommand(f"cache: expected one of {', '.join(ACTIONS)}, got {' '.join(words)!r}; "
                             "see `doit help cache`")
    try:
        parse_size(max_size or "0")
    except ValueError as err:
        raise InvalidCommand(f"cache: --max-size: {err}") from None
    return action, max_size


def cached_tasks(tasks: Mapping[str, Task]) -> set[str]:
    """The names of the tasks whose builds the cache stores (those with outputs)."""
    return {name for name, task in tasks.items() if task.meta and task.meta.get("outputs")}


def hit_line(runs: Iterable[Mapping[str, Any]], names: Container[str]) -> str:
    """This project's cache hits and misses, from its run history."""
    statuses = Counter(line["status"] for line in runs if line.get("task") in names)
    hits, misses = statuses[history.RESTORED], statuses["ran"]
    rate = f" (hit rate {hits / (hits + misses):.0%})" if hits + misses else ""
    return f"this project's runs: {hits} task(s) restored, {misses} ran{rate}"


def _megabytes(size):
    return f"{size / 1e6:.1f} MB"
