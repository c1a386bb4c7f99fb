"""Every build remembered: a task's outputs stored under the key of the inputs it ran on.

A task's key is the sha256 of its input snapshot (:mod:`tft_build.snapshot`):
its name, its code fingerprint, its settings with the package versions, the
content digest of every input file (named relative to the project, so that
another checkout or a moved copy has the same keys: :mod:`tft_build.portable`),
remote data stamps and the Python version. When a task is due and its key is
in the cache, :func:`restore` puts its outputs back, every file checked
against its sha256, instead of running it; after a task ran, :func:`save`
stores its outputs. The builds are deterministic, so restored outputs are the
bytes a run would write, and the consumers' early cutoff works as after a run.

The store itself (files by content, entries, gc) is :mod:`tft_build.cachestore`.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tft_build import atomic, portable, snapshot
from tft_build.cachestore import Damaged, Store, file_digests

RESTORED = "_restored"  # in a restored task's values: the key it came from
KEY_FORMAT = 1


def store_for(cfg):
    """The config's build cache, or None when ``cache_dir = ""`` turns it off."""
    return Store(cfg.cache_dir) if cfg.cache_dir else None


def inputs(task_name, snap, roots):
    """What a build depends on, JSON-able and named relative to the project (the key's contents)."""
    code = snap.values.get(snapshot.CODE)
    return {
        "format": KEY_FORMAT,
        "task": task_name,
        "python": "%d.%d" % sys.version_info[:2],
        "files": {portable.portable(path, roots): state and state[4] for path, state in snap.files.items()},
        "code": code and {"digest": code["digest"], "externals": code["externals"],
                          "definitions": {name: d["hash"] for name, d in code["definitions"].items()}},
        **{key.strip("_"): value for key, value in snap.values.items() if key != snapshot.CODE},
    }


def key_of(described):
    """The cache key of a build's :func:`inputs`."""
    text = json.dumps(described, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def restore(store, key, outputs, roots, out=None):
    """Put the outputs of the build ``key`` back in place; False when there is none.

    A damaged entry (an object missing or not matching its sha256) is said in
    one line, removed, and reported as absent: the task runs instead.
    """
    out = out or sys.stderr
    try:
        entry = store.get(key)
        if entry is None:
            return False
        placed = {portable.local(name, roots): output for name, output in entry["outputs"].items()}
        if sorted(placed) != sorted(map(str, outputs)):
            return False  # made by a tft_build that wrote other outputs
        for path, output in placed.items():
            _restore_output(store, Path(path), output)
    except Damaged as err:
        out.write(f"tft_build: build cache {store.root}: {err}; removed it, running the task instead\n")
        store.remove(key)
        return False
    store.touch(key)
    return True


def _restore_output(store, final, output):
    """One output (a dir or a file), assembled beside its place and renamed into it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if "dirs" not in output:
        with tempfile.TemporaryDirectory(prefix=f".{final.name}.restore-", dir=final.parent) as staging:
            tmp = Path(staging) / final.name
            store.restore_object(output["files"][""]["sha256"], tmp)
            os.replace(tmp, final)
        return
    atomic.remove_stale_staging(final)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    staging.chmod(0o755)
    try:
        for rel in output["dirs"]:
            (staging / rel).mkdir(parents=True, exist_ok=True)
        for rel, digest in sorted(output["files"].items(), key=lambda item: item[0] == "MANIFEST.json"):
            store.restore_object(digest["sha256"], staging / rel)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    atomic.replace_dir(staging, final)


def save(store, key, described, outputs, roots, seconds):
    """Store the outputs of a build that just ran under ``key`` (objects first, entry last)."""
    stored = {}
    for path in map(Path, outputs):
        if path.is_dir():
            files = {str(p.relative_to(path)): p for p in sorted(path.rglob("*")) if p.is_file()}
            dirs = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_dir())
            output = {"dirs": dirs, "files": {}}
        elif path.is_file():
            files, output = {"": path}, {"files": {}}
        else:
            return  # an output the build did not make: nothing whole to remember
        for rel, file in files.items():
            sha, md5, size = file_digests(file)
            store.put_object(file, sha)
            output["files"][rel] = {"sha256": sha, "md5": md5, "size": size}
        stored[portable.portable(path, roots)] = output
    entry = {"key": key, "task": described["task"], "inputs": described, "outputs": stored,
             "seconds": round(seconds, 3), "stored": time.strftime("%Y-%m-%dT%H:%M:%S")}
    store.put_entry(key, entry)


def bound(store, max_bytes, out=None):
    """Apply the cache's size bound after a store; says what it removed, if anything."""
    if store.size() <= max_bytes:
        return
    removed, freed = store.gc(max_bytes)
    if removed:
        (out or sys.stderr).write(
            f"tft_build: build cache over its bound: removed {removed} least recently used build(s), "
            f"{freed / 1e6:.1f} MB\n"
        )
