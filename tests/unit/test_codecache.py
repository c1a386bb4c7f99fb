"""Fingerprints kept between runs: used only while nothing they read changed."""

import os
import time

import pytest

from tft_build import layout
from tft_build.engine import codecache, filestate, fingerprint


@pytest.fixture
def code(tmp_path, monkeypatch):
    """A user module, settled (changed long ago), and a fresh cache for it."""
    monkeypatch.setattr(filestate, "RACY_NS", 0)  # files written just now count as settled
    monkeypatch.setattr(codecache, "_entries", {})
    monkeypatch.setattr(codecache, "_recent", {})
    module = tmp_path / "cached_user_code.py"
    module.write_text("def f(x):\n    return x + 1\n")
    (tmp_path / "artifacts").mkdir()  # as the tasks make it when they load, before any fingerprint
    return module, tmp_path / "artifacts" / layout.CODE_CACHE


def cached(module, cache):
    return codecache.cached_fingerprint(["cached_user_code:f"], (module.parent,), cache)


def no_walk(monkeypatch):
    monkeypatch.setattr(codecache, "fingerprint", lambda *a: pytest.fail("the fingerprint was computed again"))


def test_an_unchanged_module_is_not_parsed_again_even_in_a_new_process(code, monkeypatch):
    module, cache = code
    first = cached(module, cache)
    monkeypatch.setattr(codecache, "_entries", {})  # as a new process: read from the file
    monkeypatch.setattr(codecache, "_recent", {})
    no_walk(monkeypatch)
    assert cached(module, cache) == first


def test_an_edit_with_the_old_mtime_restored_is_seen(code):
    module, cache = code
    first = cached(module, cache)
    stat = module.stat()
    module.write_text("def f(x):\n    return x + 2\n")
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cached(module, cache)["digest"] != first["digest"]


def test_a_new_file_beside_the_module_recomputes(code, monkeypatch):
    module, cache = code
    cached(module, cache)
    (module.parent / "cached_user_code_helper.py").write_text("X = 1\n")
    calls = []
    real = fingerprint.fingerprint
    monkeypatch.setattr(codecache, "fingerprint", lambda *a: calls.append(a) or real(*a))
    cached(module, cache)
    assert calls


def test_a_racily_new_module_is_not_cached(code, monkeypatch):
    module, cache = code
    monkeypatch.setattr(filestate, "RACY_NS", 10 * 10**9)
    monkeypatch.setattr(codecache, "trusted", filestate.trusted)
    os.utime(module, (time.time(), time.time()))
    cached(module, cache)
    assert not cache.exists() or "cached_user_code" not in cache.read_text()


def test_a_module_changed_just_now_with_an_old_mtime_is_not_cached(code, monkeypatch):
    module, cache = code
    monkeypatch.setattr(filestate, "RACY_NS", 10 * 10**9)
    os.utime(module, (time.time() - 3600, time.time() - 3600))  # old mtime, but the ctime is now
    cached(module, cache)
    assert not cache.exists() or "cached_user_code" not in cache.read_text()


def test_a_racily_new_module_is_parsed_once_in_a_process_while_its_bytes_are_the_same(code, monkeypatch):
    # An edit saved just before doit: not cached in the file, but the worker's snapshot, right after the
    # up-to-date check, reuses the value while the source is byte for byte the one that was read.
    module, cache = code
    monkeypatch.setattr(filestate, "RACY_NS", 10 * 10**9)
    monkeypatch.setattr(codecache, "trusted", filestate.trusted)
    first = cached(module, cache)
    assert not cache.exists() or "cached_user_code" not in cache.read_text()
    calls = []
    real = fingerprint.fingerprint
    monkeypatch.setattr(codecache, "fingerprint", lambda *a: calls.append(a) or real(*a))
    assert cached(module, cache) == first and calls == []
    stat = module.stat()
    module.write_text("def f(x):\n    return x + 2\n")  # the same size and mtime: only the bytes tell
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = cached(module, cache)
    assert second["digest"] != first["digest"] and len(calls) == 1
    (module.parent / "cached_user_code_helper.py").write_text("X = 1\n")  # a new name beside it
    assert cached(module, cache) == second and len(calls) == 2
