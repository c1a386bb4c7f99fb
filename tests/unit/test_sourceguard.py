"""What runs is what was fingerprinted: project modules load from the source they are fingerprinted from."""

import importlib
import os
import sys

import pytest

from tft_build.engine import sourceguard
from tft_build.engine.fingerprint import fingerprint, module_path


@pytest.fixture
def code_dir(tmp_path):
    """A user code dir on the import path, its modules forgotten afterwards."""
    sourceguard.add_code_dirs([tmp_path])
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("guarded_")]:
        del sys.modules[name]
    sys.path.remove(str(tmp_path.resolve()))


def write(path, text, mtime_ns=None):
    path.write_text(text)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def test_an_edit_with_the_old_mtime_restored_never_runs_stale_bytecode(code_dir):
    module = code_dir / "guarded_a.py"
    write(module, "VALUE = 1\n")
    mtime = module.stat().st_mtime_ns
    assert importlib.import_module("guarded_a").VALUE == 1
    write(module, "VALUE = 2\n", mtime_ns=mtime)  # same size, same mtime: a timestamp .pyc would pass
    del sys.modules["guarded_a"]
    assert importlib.import_module("guarded_a").VALUE == 2
    assert sourceguard.imported_digest("guarded_a") == sourceguard.source_digest(module.read_bytes())


def test_a_module_edited_after_import_is_dropped_before_the_next_step(code_dir):
    module = code_dir / "guarded_b.py"
    write(module, "def f():\n    return 1\n")
    assert importlib.import_module("guarded_b").f() == 1
    write(module, "def f():\n    return 2\n")
    expected = fingerprint(["guarded_b:f"], [code_dir]).modules
    assert sourceguard.mismatched(expected) == ["guarded_b"]
    assert sourceguard.refresh(expected) == []  # a user module: dropped, not an error
    assert "guarded_b" not in sys.modules
    assert importlib.import_module("guarded_b").f() == 2
    assert sourceguard.mismatched(expected) == []


def test_a_stale_engine_module_is_reported():
    importlib.import_module("tft_build.examples.taxi.rowfilter")  # through the guard
    name = "tft_build.examples.taxi.rowfilter"
    assert sourceguard.refresh({name: "another source"}) == [name]


def test_the_fingerprint_reads_the_file_that_was_imported(code_dir, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("installed")
    write(elsewhere / "guarded_c.py", "def f():\n    return 'installed'\n")
    write(code_dir / "guarded_c.py", "def f():\n    return 'checkout'\n")
    assert module_path("guarded_c", (code_dir,)) == (code_dir / "guarded_c.py").resolve()
    sys.path.insert(0, str(elsewhere))
    try:
        importlib.invalidate_caches()
        assert importlib.import_module("guarded_c").f() == "installed"
    finally:
        sys.path.remove(str(elsewhere))
    assert module_path("guarded_c", (code_dir,)) == (elsewhere / "guarded_c.py").resolve()
    assert "'installed'" in fingerprint(["guarded_c:f"], [code_dir]).definitions["guarded_c:f"]["source"]


def test_tft_build_is_fingerprinted_where_it_is_loaded_from():
    import tft_build.examples.taxi.rowfilter

    path = module_path("tft_build.examples.taxi.rowfilter", ())
    assert str(path) == os.path.realpath(tft_build.examples.taxi.rowfilter.__file__)


def test_only_project_modules_are_guarded(code_dir):
    assert sourceguard.is_project_file("guarded_x", str(code_dir.resolve() / "guarded_x.py"))
    assert sourceguard.is_project_file("guarded_pkg.sub", str(code_dir.resolve() / "guarded_pkg" / "sub.py"))
    venv = code_dir.resolve() / ".venv" / "lib" / "python3.11" / "site-packages" / "numpy" / "__init__.py"
    assert not sourceguard.is_project_file("numpy", str(venv))
    assert not sourceguard.is_project_file("tft_build.x", str(code_dir.resolve() / "tft_build" / "x.py"))
