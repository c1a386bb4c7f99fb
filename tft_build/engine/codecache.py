"""Code fingerprints kept between runs, so that a no-op ``doit`` parses no source.

A fingerprint (:mod:`tft_build.engine.fingerprint`) is a pure function of the source
files it read, of where import finds each module, of the directories those
live in (a file added there can change what a name resolves to) and of the
installed versions of the packages it counts. An entry stores the stat key
of each of those files and directories (inode, size, mtime, ctime: see
:mod:`tft_build.engine.filestate`) and the versions; it is used only while every
one of them is the same, and only if none was racily new when it was stored.
Anything else recomputes. The cache file lives in the artifacts dir and is
written atomically; a damaged or missing one is simply empty.

A fingerprint of files too new to be trusted by their stat keys (an edit saved
just before ``doit``) is still kept in the process that computed it, and in the
workers it forks, for as long as each file's bytes are those it read and each
dir lists the same names: the task's snapshot, taken in a worker right after
the ``doit`` process's up-to-date check, then reads the sources instead of
parsing them again (0.2 s before a transform can start).
"""

import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tft_build.engine.filestate import stat_key, trusted
from tft_build.engine.fingerprint import fingerprint, installed_version, module_path
from tft_build.engine.sourceguard import source_digest
from tft_build.io.atomic import write_file_atomic

_entries = {}  # cache path -> its entries, read once per process
_recent = {}  # key -> {"value", "listings"}: computed in this process (or the one it was forked from)


def cached_fingerprint(
    targets: Sequence[str], project_dirs: Sequence[str | Path], cache_path: str | Path
) -> dict[str, Any]:
    """The fingerprint value of ``targets``, from the cache when nothing it depends on changed."""
    key = json.dumps([list(targets), [str(d) for d in project_dirs]])
    entries = _load(cache_path)
    entry = entries.get(key)
    if entry is not None and _still_valid(entry, project_dirs):
        return entry["value"]
    recent = _recent.get(key)
    if recent is not None and _same_sources(recent, project_dirs):
        return recent["value"]
    taken = time.time_ns()
    value = fingerprint(targets, project_dirs).as_value()
    listings = _listings(value["modules"], project_dirs)
    if listings is not None:
        _recent[key] = {"value": value, "listings": listings}
    stamps = _stamps(value["modules"], project_dirs)
    keys = [stamp[1:] for stamp in stamps["files"].values()] + list(stamps["dirs"].values()) if stamps else []
    if stamps is not None and all(trusted(k, taken) for k in keys):
        entries[key] = {**stamps, "value": value}
        try:
            write_file_atomic(cache_path, json.dumps(entries, sort_keys=True))
        except OSError:  # a read-only artifacts dir: no cache, the same answers
            pass
    return value


def _stamps(modules, project_dirs):
    """The stat keys of the modules' files (by where import finds them) and of their dirs."""
    files, dirs = {}, {str(d): None for d in project_dirs}
    for name in modules:
        path = module_path(name, tuple(project_dirs))
        if path is None:
            return None
        files[name] = str(path)
        dirs[str(path.parent)] = None
    try:
        return {
            "files": {name: [path, *stat_key(os.stat(path))] for name, path in files.items()},
            "dirs": {d: stat_key(os.stat(d)) for d in dirs},
        }
    except OSError:
        return None


def _listings(modules, project_dirs):
    """The names in each dir that holds one of the modules' files, and in each project dir; None when one
    cannot be found or listed."""
    dirs = {str(d) for d in project_dirs}
    for name in modules:
        path = module_path(name, tuple(project_dirs))
        if path is None:
            return None
        dirs.add(str(path.parent))
    try:
        return {d: sorted(os.listdir(d)) for d in sorted(dirs)}
    except OSError:
        return None


def _same_sources(recent, project_dirs):
    """Whether every module's file still holds the bytes the fingerprint read (its source digest), and
    every dir the same names: then the fingerprint is the same, whatever the files' stat keys say."""
    try:
        for name, digest in recent["value"]["modules"].items():
            path = module_path(name, tuple(project_dirs))
            if path is None or source_digest(path.read_bytes()) != digest:
                return False
    except OSError:
        return False
    return _listings(recent["value"]["modules"], project_dirs) == recent["listings"]


def _still_valid(entry, project_dirs):
    try:
        for name, (path, *key) in entry["files"].items():
            if str(module_path(name, tuple(project_dirs))) != path or stat_key(os.stat(path)) != key:
                return False
        if any(stat_key(os.stat(d)) != key for d, key in entry["dirs"].items()):
            return False
    except OSError:
        return False
    versions = entry["value"]["externals"]
    return all(v == (platform.python_version() if d == "python" else installed_version(d)) for d, v in versions.items())


def _load(cache_path):
    cache_path = str(cache_path)
    if cache_path not in _entries:
        try:
            with open(cache_path, encoding="utf-8") as f:
                _entries[cache_path] = json.load(f)
        except (OSError, ValueError):
            _entries[cache_path] = {}
    return _entries[cache_path]
