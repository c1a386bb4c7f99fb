"""Every build remembered: a task's outputs stored under the key of the inputs it ran on.

A task's key is the sha256 of its input snapshot (:mod:`tft_build.engine.snapshot`):
its name, its code fingerprint, its settings with the package versions, the
content digest of every input file (named relative to the project, so that
another checkout or a moved copy has the same keys: :mod:`tft_build.engine.portable`),
remote data stamps and the Python version. When a task is due and its key is
in the cache, :func:`restore` puts its outputs back, every file checked
against its sha256, instead of running it; after a task ran, :func:`save`
stores its outputs. The builds are deterministic, so restored outputs are the
bytes a run would write, and the consumers' early cutoff works as after a run.

The store itself (files by content, entries, gc) is :mod:`tft_build.engine.cachestore`.
"""

import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from tft_build import layout
from tft_build.config.settings import Config
from tft_build.engine import portable, snapshot
from tft_build.engine.cachefiles import file_digests
from tft_build.engine.cachestore import Damaged, Store
from tft_build.io import atomic, location, manifest

RESTORED = "_restored"  # in a restored task's values: the key it came from
SHARED = "shared:"  # an entry's name for the files of a step dir's build under shared_dir
KEY_FORMAT = 1


_given_up = set()  # cache dirs that failed in this process: the run goes on without them


def store_for(cfg: Config) -> Store | None:
    """The config's build cache, or None when ``cache_dir = ""`` turns it off or it failed
    earlier in this run (:func:`give_up`)."""
    return Store(cfg.cache_dir) if cfg.cache_dir and cfg.cache_dir not in _given_up else None


def give_up(store: Store, doing: str, err: BaseException, out: TextIO | None = None) -> None:
    """Say in one line that the cache could not be used, and go on without it for the rest of
    the run: a store that cannot be reached (no network, no access) can take minutes per call
    to say so, and a build never waits for or fails because of its cache."""
    _given_up.add(store.location)
    (out or sys.stderr).write(
        f"tft_build: could not {doing} the build cache {store.location}: {err}; "
        "going on without it for this run\n"
    )


def inputs(task_name: str, snap: snapshot.Snapshot, roots: portable.Roots) -> dict[str, Any]:
    """What a build depends on, JSON-able and named relative to the project (the key's contents)."""
    code = snap.values.get(snapshot.CODE)
    return {
        "format": KEY_FORMAT,
        "task": task_name,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "files": {portable.portable(path, roots): state and state[4] for path, state in snap.files.items()},
        "code": code and {"digest": code["digest"], "externals": code["externals"],
                          "definitions": {name: d["hash"] for name, d in code["definitions"].items()}},
        **{key.strip("_"): value for key, value in snap.values.items() if key != snapshot.CODE},
    }


def key_of(described: Mapping[str, Any]) -> str:
    """The cache key of a build's :func:`inputs`."""
    text = json.dumps(described, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def restore(
    store: Store, key: str, outputs: Iterable[str | Path], roots: portable.Roots, shared_dir: str = "",
    out: TextIO | None = None,
) -> bool:
    """Put the outputs of the build ``key`` back in place; False when there is none.

    A damaged entry (an object missing or not matching its sha256) is said in
    one line, removed, and reported as absent: the task runs instead.
    """
    out = out or sys.stderr
    try:
        entry = store.get(key)
        if entry is None:
            return False
        placed = {name: output for name, output in entry["outputs"].items() if not name.startswith(SHARED)}
        if sorted(portable.local(name, roots) for name in placed) != sorted(map(str, outputs)):
            return False  # made by a tft_build that wrote other outputs
        for name, output in placed.items():
            final = Path(portable.local(name, roots))
            shared = entry["outputs"].get(SHARED + name)
            if shared:
                _restore_shared(store, final, output, shared, shared_dir)
            elif "dirs" in output:
                with atomic.atomic_dir(final) as staging:
                    _fill(store, staging, output)
            else:
                _restore_file(store, final, output["files"][""]["sha256"])
    except Damaged as err:
        out.write(f"tft_build: build cache {store.location}: {err}; removed it, running the task instead\n")
        store.remove(key)
        return False
    store.touch(key)
    return True


def _restore_file(store, final, sha):
    """One file, restored beside its place and renamed into it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{final.name}.restore-", dir=final.parent) as staging:
        tmp = Path(staging) / final.name
        store.restore_object(sha, tmp)
        os.replace(tmp, final)


def _fill(store, root, output, skip=()):
    """Restore a stored dir's subdirs and files under ``root`` (local, or on a Beam filesystem)."""
    if not location.is_remote(root):
        for rel in output["dirs"]:
            Path(root, rel).mkdir(parents=True, exist_ok=True)
    for rel, digest in sorted(output["files"].items()):
        if rel in skip:
            continue
        if location.is_remote(root):
            with tempfile.TemporaryDirectory() as tmp:
                store.restore_object(digest["sha256"], Path(tmp, "file"))
                location.copy_file(str(Path(tmp, "file")), location.join(root, rel))
        else:
            store.restore_object(digest["sha256"], Path(root, rel))


def _restore_shared(store, final, output, shared, shared_dir):
    """A step dir whose bulk output lives under ``shared_dir``: the bulk files go to a new
    build dir there, and the step dir gets a pointer to it and a manifest that lists it."""
    previous = location.pointed_build(final)
    build = location.fresh_build_dir(shared_dir, final.name)

    try:
        with atomic.atomic_dir(final) as staging:
            _fill(store, build, shared)
            _fill(store, staging, output, skip=(layout.LOCATION, layout.MANIFEST))
            location.write_pointer(staging, build)
            store.restore_object(output["files"][layout.MANIFEST]["sha256"], staging / layout.MANIFEST)
            facts = json.loads((staging / layout.MANIFEST).read_text(encoding="utf-8"))
            (staging / layout.MANIFEST).unlink()
            manifest.write_manifest(staging, {k: v for k, v in facts.items() if k != "files"})
    except BaseException:
        location.remove_build(build)
        raise
    if previous and previous != build:
        location.remove_build(previous)


def save(
    store: Store, key: str, described: Mapping[str, Any], outputs: Iterable[str | Path], roots: portable.Roots,
    seconds: float,
) -> None:
    """Store the outputs of a build that just ran under ``key`` (objects first, entry last).

    A step dir that points to a build under ``shared_dir`` is stored with the
    files of that build, under the name ``shared:<step dir>``.
    """
    stored = {}
    for path in map(Path, outputs):
        if path.is_dir():
            stored[portable.portable(path, roots)] = _stored_tree(store, path)
            pointed = location.pointed_build(path)
            if pointed:
                stored[SHARED + portable.portable(path, roots)] = _stored_tree(store, pointed)
        elif path.is_file():
            stored[portable.portable(path, roots)] = {"files": {"": _put(store, path)}}
        else:
            return  # an output the build did not make: nothing whole to remember
    entry = {"key": key, "task": described["task"], "inputs": described, "outputs": stored,
             "seconds": round(seconds, 3), "stored": time.strftime("%Y-%m-%dT%H:%M:%S")}
    store.put_entry(key, entry)


def _stored_tree(store, root):
    """Store every file of a dir (local, or on a Beam filesystem); its subdirs and file digests."""
    files = {}
    for rel, path in location.tree(root).items():
        if location.is_remote(path):
            with tempfile.TemporaryDirectory() as tmp:
                location.copy_file(path, str(Path(tmp, "file")))
                files[rel] = _put(store, Path(tmp, "file"))
        else:
            files[rel] = _put(store, path)
    local = not location.is_remote(root)
    dirs = sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_dir()) if local else []
    return {"dirs": dirs, "files": files}


def _put(store, path):
    """Store one local file as an object; its digests."""
    sha, md5, size = file_digests(path)
    store.put_object(path, sha)
    return {"sha256": sha, "md5": md5, "size": size}


def bound(store: Store, max_bytes: int, out: TextIO | None = None) -> None:
    """Apply the cache's size bound after a store; says what it removed, if anything."""
    if store.size() <= max_bytes:
        return
    removed, freed = store.gc(max_bytes)
    if removed:
        (out or sys.stderr).write(
            f"tft_build: build cache over its bound: removed {removed} least recently used build(s), "
            f"{freed / 1e6:.1f} MB\n"
        )
