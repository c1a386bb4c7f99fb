"""What a task read besides files, stored in doit's database: settings and code.

Each check is a doit ``uptodate`` object: it compares what the task read when
it last succeeded with what it would read now. The values themselves are
stored (not only a hash), so ``doit explain`` can say what changed: a setting
from old to new value, a function with the diff of its source against the
version last built.

What is stored is never computed after the task ran: the step's action takes
a snapshot of these values (:meth:`_Stored.fresh`) and of its files before it
runs, checks it again afterwards, and returns it as the task's values (see
:mod:`tft_build.engine.snapshot`).
"""

import difflib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path, PurePath
from typing import Any

from doit.task import Task

from tft_build.config import settings
from tft_build.display import shown
from tft_build.engine import portable
from tft_build.engine.codecache import cached_fingerprint
from tft_build.engine.fingerprint import fingerprint
from tft_build.io import location

VERSIONED = ("tensorflow", "tensorflow-transform", "apache-beam")


class _Stored:
    """An uptodate check that compares a value saved under ``key`` with the value now."""

    key = None
    what = None
    _current = _UNSET = object()

    def fresh(self) -> Any:
        """The value the task reads, computed now."""
        raise NotImplementedError

    def current(self) -> Any:
        """The value the task would read, computed once per run for the up-to-date checks."""
        if self._current is self._UNSET:
            self._current = self.fresh()
        return self._current

    def same(self, saved: Any, current: Any) -> bool:
        return _canonical(saved) == _canonical(current)

    def __call__(self, task: Task, values: Mapping[str, Any]) -> bool:
        return self.key in values and self.same(values[self.key], self.current())

    def changes(self, values: Mapping[str, Any]) -> list[str]:
        """Lines saying what changed since the last successful run (none if nothing)."""
        if self.key not in values:
            return [f"no record of its {self.what} (never built)"]
        saved = values[self.key]
        if self.same(saved, self.current()):
            return []
        return self.describe(saved, self.current())


class settings_unchanged(_Stored):
    """The settings a task read (and the versions of TF, TFT and Beam) are the same."""

    key = "_settings"
    what = "settings"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = {**settings, "versions": package_versions()}

    def fresh(self) -> dict[str, Any]:
        return self.settings

    def describe(self, saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
        lines = []
        for name in sorted(set(saved) | set(current)):
            old, new = saved.get(name, "(unset)"), current.get(name, "(unset)")
            if _canonical(old) != _canonical(new):
                lines.append(f"setting {name}: {_short(old)} -> {_short(new)}")
        return lines


class schema_unchanged(_Stored):
    """The schema file (:mod:`tft_build.datacheck.expectations`) holds the same text, or is still missing.

    A task that finds none infers the schema and leaves its text in
    ``copy`` (an output); :meth:`seed` then makes the schema file from it, and
    the task's record holds that text: it is exactly what the task ran on.
    """

    key = "_schema"
    what = "schema file"

    def __init__(self, path: str, copy: str) -> None:
        self.path = path
        self.copy = copy

    def fresh(self) -> str | None:
        return _text(self.path)

    def seed(self) -> str | None:
        """Write the schema file from the task's copy if it is still missing; the text it now holds,
        if that is the copy's (None otherwise: then the file changed while the task ran)."""
        text = _text(self.copy)
        if text is None:
            return None
        if not os.path.exists(self.path):
            write_new_file(self.path, text)
            print(f"{shown(self.path)}: the schema inferred from the training data; edit it and commit it")
        return text if _text(self.path) == text else None

    def describe(self, saved: str | None, current: str | None) -> list[str]:
        if current is None:
            return [f"schema file removed: {shown(self.path)} (inferred again from the training data)"]
        if saved is None:
            return [f"schema file added: {shown(self.path)}"]
        diff = difflib.unified_diff(saved.splitlines(), current.splitlines(), "schema (last built)", "schema (now)",
                                    lineterm="")
        return ["\n".join([f"schema file changed: {shown(self.path)}", *diff])]



def _text(path):
    """A small text file's content, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_new_file(path: str, text: str) -> None:
    """Create ``path`` holding ``text`` whole (temp file, then a link that never replaces a file made meanwhile)."""
    directory = os.path.dirname(path) or "."
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory, delete=False, suffix=".tmp") as f:
        f.write(text)
    try:
        os.link(f.name, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(f.name)


class code_unchanged(_Stored):
    """The code a task runs has the same fingerprint (see :mod:`tft_build.engine.fingerprint`).

    With ``cache_path``, fingerprints are kept between runs while no file
    they read changed (:mod:`tft_build.engine.codecache`).
    """

    key = "_code"
    what = "code"

    def __init__(
        self, targets: Iterable[str], project_dirs: Iterable[str | Path], cache_path: str | Path | None = None
    ) -> None:
        self.targets = tuple(targets)
        self.project_dirs = tuple(project_dirs)
        self.cache_path = cache_path

    def fresh(self) -> dict[str, Any]:
        if self.cache_path:
            return cached_fingerprint(self.targets, self.project_dirs, self.cache_path)
        return fingerprint(self.targets, self.project_dirs).as_value()

    def same(self, saved: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
        return saved.get("digest") == current["digest"]

    def describe(self, saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
        lines = []
        old_defs, new_defs = saved.get("definitions", {}), current["definitions"]
        for name in sorted(set(old_defs) | set(new_defs)):
            old, new = old_defs.get(name), new_defs.get(name)
            if old is None:
                lines.append(f"code: now also uses {name}")
            elif new is None:
                lines.append(f"code: no longer uses {name}")
            elif old["hash"] != new["hash"]:
                diff = source_diff(name, old["source"], new["source"])
                lines.append("\n".join([f"code changed: {name}", *diff]))
        old_ext, new_ext = saved.get("externals", {}), current["externals"]
        for dist in sorted(set(old_ext) | set(new_ext)):
            if old_ext.get(dist) != new_ext.get(dist):
                lines.append(f"package {dist}: {old_ext.get(dist, '(unused)')} -> {new_ext.get(dist, '(unused)')}")
        return lines


class remote_files_unchanged(_Stored):
    """The data files on remote storage have the same names, sizes and modification times.

    doit hashes only local files; for ``gs://`` and the like, Beam's
    filesystems list them (Beam is imported only then).
    """

    key = "_remote_files"
    what = "remote data files"

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)

    def fresh(self) -> list[list[Any]]:
        return [list(stamp) for pattern in self.patterns for stamp in location.match(pattern)]

    def describe(self, saved: Iterable[Sequence[Any]], current: Iterable[Sequence[Any]]) -> list[str]:
        old, new = {path: rest for path, *rest in saved}, {path: rest for path, *rest in current}
        return [
            f"file changed: {path}" if path in old and path in new else
            f"file {'added' if path in new else 'removed'}: {path}"
            for path in sorted(set(old) | set(new))
            if old.get(path) != new.get(path)
        ]


def source_diff(name: str, old: str, new: str) -> list[str]:
    """The unified diff of a definition's source, last built against now."""
    return list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), f"{name} (last built)", f"{name} (now)", lineterm=""
        )
    )


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages every step's result depends on."""
    versions = {}
    for dist in VERSIONED:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def _canonical(value):
    return json.dumps(value, sort_keys=True)


def _short(value, limit=120):
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def settings_for(cfg: settings.Config, *names: str) -> dict[str, Any]:
    """The named settings as a JSON-able dict, for ``settings_unchanged``; paths are
    named relative to the project (:mod:`tft_build.engine.portable`)."""
    out = {}
    for name in names:
        value = getattr(cfg, name)
        if name == "columns":
            value = [
                [c.name, c.type] + ([c.default] if c.optional else []) + ([{"format": c.format}] if c.format else [])
                for c in value
            ]
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        elif name in settings.PATH_KEYS and value:  # stored relative to the project: a moved project is the same
            value = portable.portable(value, portable.roots(cfg))
        elif isinstance(value, PurePath):
            value = str(value)
        out[name] = value
    return out
