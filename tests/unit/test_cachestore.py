"""The build cache's store, on a local dir and on a URL (``testfs://``, :mod:`remotefs`, standing in for gs://).

Every test runs on both backends: the logic is one, the primitives under it differ. Fast unit tests: no
TensorFlow, no doit runs.
"""

import hashlib
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from remotefs import SCHEME, local

from tft_build.engine.cachefiles import ENTRIES, OBJECTS, TMP
from tft_build.engine.cachestore import GRACE_S, Damaged, Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["local", "testfs"])
def cache_dir(request, tmp_path):
    """A cache dir: a local path, or the URL of one."""
    path = tmp_path / "cache"
    return str(path) if request.param == "local" else f"{SCHEME}{path}"


def on_disk(store, kind, name):
    """The local file behind a store's file (a testfs URL is a local path with a scheme)."""
    return Path(local(store.files.where(kind, name)))


def stored(store, tmp_path, key, contents):
    """Store a build ``key`` whose one output is a dir of files with ``contents``; its entry."""
    files = {}
    for rel, data in contents.items():
        src = tmp_path / "src" / key / rel
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        store.put_object(src, sha)
        files[rel] = {"sha256": sha, "size": len(data)}
    entry = {"key": key, "task": "t", "outputs": {"out": {"dirs": [], "files": files}}}
    store.put_entry(key, entry)
    return entry


def sha_of(data):
    return hashlib.sha256(data).hexdigest()


def key(letter):
    return letter * 64


def files_under(path):
    return sorted(p for p in Path(local(path)).rglob("*") if p.is_file())


def test_what_is_stored_comes_back_byte_identical(cache_dir, tmp_path):
    store = Store(cache_dir)
    contents = {"a.bin": os.urandom(3 << 20), "empty": b"", "text.json": b'{"x": 1}\n'}
    entry = stored(store, tmp_path, key("a"), contents)
    stored(store, tmp_path, key("a"), contents)  # again: the same objects, one entry
    assert store.get(key("a")) == entry
    assert store.get(key("b")) is None
    assert store.keys() == [key("a")]
    assert store.size() == sum(map(len, contents.values()))
    for rel, data in contents.items():
        dst = tmp_path / "back" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        store.restore_object(sha_of(data), dst)
        assert dst.read_bytes() == data
    assert not [p for p in (tmp_path / "back").iterdir() if p.name.startswith(".")]  # no download left behind
    assert files_under(store.files.where(TMP, "")) == []


@pytest.mark.parametrize("damage", ["changed", "truncated", "missing"])
def test_a_damaged_object_is_never_restored_and_verify_removes_it(cache_dir, tmp_path, damage):
    store = Store(cache_dir)
    good = os.urandom(4096)
    stored(store, tmp_path, key("a"), {"good": good, "bad": b"the bytes of the build" * 100})
    stored(store, tmp_path, key("b"), {"good": good})
    bad = on_disk(store, OBJECTS, sha_of(b"the bytes of the build" * 100))
    bad.chmod(0o644)
    if damage == "changed":
        bad.write_bytes(b"The bytes of the build" + bad.read_bytes()[22:])
    elif damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:-1])
    else:
        bad.unlink()
    dst = tmp_path / "back"
    with pytest.raises(Damaged, match="missing" if damage == "missing" else "holds other bytes"):
        store.restore_object(sha_of(b"the bytes of the build" * 100), dst)
    assert not dst.exists()
    problems = store.verify()
    assert len(problems) == 1 and problems[0].startswith(f"entry {key('a')[:12]} (t): 1 object(s) missing or altered")
    assert store.get(key("a")) is None and not bad.exists()
    assert store.keys() == [key("b")] and store.verify() == []
    store.restore_object(sha_of(good), dst)
    assert dst.read_bytes() == good


def test_an_unreadable_entry_is_damaged_and_verify_removes_it(cache_dir, tmp_path):
    store = Store(cache_dir)
    stored(store, tmp_path, key("a"), {"f": b"x"})
    entry = on_disk(store, ENTRIES, f"{key('a')}.json")
    entry.write_bytes(entry.read_bytes()[:10])
    with pytest.raises(Damaged, match="not valid JSON"):
        store.get(key("a"))
    assert store.read_all() == [(key("a"), None)]
    assert store.verify() == [f"entry {key('a')[:12]}: not readable; removed"]
    assert store.keys() == []


def store_many_times(cache_dir, src_dir, start, writer):
    """One of two writers: store the same build 20 times, as soon as the other is ready too."""
    store = Store(cache_dir)
    start.wait()
    for round_ in range(20):
        for path in sorted(Path(src_dir).iterdir()):
            store.put_object(path, sha_of(path.read_bytes()))
        files = {p.name: {"sha256": sha_of(p.read_bytes())} for p in Path(src_dir).iterdir()}
        store.put_entry(key("a"), {"key": key("a"), "task": "t", "writer": writer, "round": round_,
                                   "outputs": {"out": {"dirs": [], "files": files}}})


def test_two_processes_storing_one_entry_at_once_leave_one_whole_entry(cache_dir, tmp_path):
    """Each writer stores the same build again and again while the other does; the test reads it meanwhile."""
    src = tmp_path / "src"
    src.mkdir()
    contents = {f"part-{i}": os.urandom(256 << 10) for i in range(4)}
    for name, data in contents.items():
        (src / name).write_bytes(data)
    context = multiprocessing.get_context("fork")  # the child has the testfs filesystem registered too
    start = context.Barrier(2)
    writers = [context.Process(target=store_many_times, args=(cache_dir, src, start, w)) for w in (1, 2)]
    for process in writers:
        process.start()
    store, seen = Store(cache_dir), 0
    while any(process.is_alive() for process in writers):  # meanwhile, a reader sees a whole entry or none
        seen += store.get(key("a")) is not None
    for process in writers:
        process.join(60)
    assert [process.exitcode for process in writers] == [0, 0]
    assert seen
    assert store.keys() == [key("a")]
    entry = store.get(key("a"))
    assert entry["writer"] in (1, 2) and entry["round"] == 19
    for name, data in contents.items():
        store.restore_object(entry["outputs"]["out"]["files"][name]["sha256"], tmp_path / name)
        assert (tmp_path / name).read_bytes() == data
    assert store.size() == sum(map(len, contents.values()))
    assert files_under(store.files.where(TMP, "")) == []


def test_gc_keeps_the_cache_under_its_bound_least_recently_used_first(cache_dir, tmp_path):
    store = Store(cache_dir)
    contents = {letter: {"f": letter.encode() * 1000} for letter in "abc"}
    for letter in "abc":
        stored(store, tmp_path, key(letter), contents[letter])
    orphan = tmp_path / "orphan"
    orphan.write_bytes(b"o" * 500)
    store.put_object(orphan, sha_of(orphan.read_bytes()))
    now = time.time()
    for age, letter in enumerate("abc"):  # a used most recently, c least
        os.utime(on_disk(store, ENTRIES, f"{key(letter)}.json"), (now - 100 * (age + 1),) * 2)
    store.touch(key("c"))  # used now
    assert store.keys() == [key("c"), key("a"), key("b")]
    for name, age in (("old", GRACE_S + 60), ("young", 1)):  # a dead writer's temp file, and a live one's
        temp = on_disk(store, TMP, name)
        temp.write_bytes(b"t")
        os.utime(temp, (now - age,) * 2)
    assert store.size() == 3500
    assert store.gc(2000) == (1, 1500)
    assert store.size() == 2000
    assert store.keys() == [key("c"), key("a")]
    assert [p.name for p in files_under(store.files.where(TMP, ""))] == ["young"]
    for letter in "ca":
        store.restore_object(sha_of(contents[letter]["f"]), tmp_path / letter)
    with pytest.raises(Damaged, match="missing"):
        store.restore_object(sha_of(contents["b"]["f"]), tmp_path / "b")
    assert store.gc(0) == (2, 2000) and store.size() == 0 and store.keys() == []


def test_clear_empties_the_cache(cache_dir, tmp_path):
    store = Store(cache_dir)
    for letter in "ab":
        stored(store, tmp_path, key(letter), {"f": letter.encode() * 10, "g": b"shared"})
    store.clear()
    assert store.keys() == [] and store.size() == 0 and store.get(key("a")) is None
    assert files_under(cache_dir) == []
    stored(store, tmp_path, key("a"), {"f": b"again"})  # and it works on
    assert store.keys() == [key("a")]


def test_the_location_is_the_cache_dir_as_configured(tmp_path):
    assert Store(tmp_path / "c").location == str(tmp_path / "c")
    assert Store(tmp_path / "c").root == tmp_path / "c" / "v1"
    assert Store("gs://bucket/team/cache/").root == "gs://bucket/team/cache/v1"
    assert Store("gs://bucket/team/cache/").files.where(OBJECTS, "ab12") == "gs://bucket/team/cache/v1/objects/ab12"


def test_an_unreachable_url_cache_fails_as_oserror():
    store = Store("nosuchfs://bucket/cache")
    with pytest.raises(OSError, match="nosuchfs"):
        store.get(key("a"))
    with pytest.raises(OSError):
        store.put_entry(key("a"), {"key": key("a")})


def test_a_local_cache_and_making_a_url_one_import_no_beam(tmp_path):
    script = f"""
import sys
from tft_build.engine.cachestore import Store
store = Store({str(tmp_path / 'cache')!r})
(src := __import__('pathlib').Path({str(tmp_path / 'f')!r})).write_bytes(b"x")
sha = __import__('hashlib').sha256(b"x").hexdigest()
store.put_object(src, sha)
store.put_entry("k", {{"key": "k"}})
store.restore_object(sha, {str(tmp_path / 'back')!r})
store.get("k"), store.touch("k"), store.gc(10), store.verify()
Store("gs://bucket/cache")
assert "apache_beam" not in sys.modules, "Beam was imported"
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
