"""The code that runs is the code that was fingerprinted.

A code fingerprint (:mod:`tft_build.engine.fingerprint`) is read from source files;
what runs is what Python imported. Three things can part them, and each is
closed here or in the fingerprint:

- **Which file.** The fingerprint resolves a module the way the import
  system will (an imported module by its ``__file__``, tft_build through the
  package that is really loaded), so an installed tft_build and a checkout in
  the current dir are never confused.
- **Stale bytecode.** Python trusts a ``.pyc`` whose source has the same
  mtime and size, which a restored mtime fakes. Project modules (tft_build
  and the user's code dirs) are loaded by :class:`_SourceLoader`, which reads
  the source, records its digest, and uses a cached ``.pyc`` only when it is
  hash-checked against exactly that source (PEP 552).
- **A module imported earlier in the run.** Before a step runs,
  :func:`refresh` compares each loaded project module's source digest at
  import with the snapshot the step was fingerprinted from: stale user
  modules are dropped from ``sys.modules`` so the step imports them anew;
  a stale tft_build module cannot be swapped under the running engine, and
  is reported. After the step, :func:`mismatched` names any module that was
  imported from other source than the snapshot's.
"""

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import marshal
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = __name__.partition(".")[0]
_HASH_PYC_FLAGS = (0b11).to_bytes(4, "little")  # hash-based, checked against the source
# tft_build's own dir (two levels above this file), as found on the import path and resolved
# (no realpath per import).
_package_dirs = tuple(
    dict.fromkeys(os.path.dirname(os.path.dirname(p)) + os.sep for p in (__file__, os.path.realpath(__file__)))
)
_code_dirs = []  # the user's code dirs, resolved, each ending in a separator
_loaded = {}  # module name -> sha256 of the source it was imported from


def source_digest(data: bytes) -> str:
    """The digest that identifies a version of a source file."""
    return hashlib.sha256(data).hexdigest()


def add_code_dirs(dirs: Iterable[str | Path]) -> None:
    """Treat modules under ``dirs`` as project code, and import them from there first."""
    for directory in reversed([str(Path(d).resolve()) for d in dirs]):
        if directory + os.sep not in _code_dirs:
            _code_dirs.append(directory + os.sep)
        if directory not in sys.path:  # resolved, so what is found here starts with its code dir
            sys.path.insert(0, directory)


def is_project_file(module_name: str, origin: str) -> bool:
    """Whether ``origin`` is the source of project code: tft_build's, or a user module
    that sits directly in a code dir (a virtualenv inside the project dir is not)."""
    top = module_name.partition(".")[0]
    if top == PACKAGE:
        return origin.startswith(_package_dirs)
    placed = (top, top + ".py")
    return any(origin.startswith(d) and origin[len(d):].partition(os.sep)[0] in placed for d in _code_dirs)


def install() -> None:
    """Put the project-code finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _ProjectFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _ProjectFinder())


def imported_digest(module_name: str) -> str | None:
    """The source digest a project module was imported from, or None (not imported by us)."""
    return _loaded.get(module_name)


def refresh(expected: Mapping[str, str]) -> list[str]:
    """Before a step: drop stale user modules; the names of stale tft_build modules.

    ``expected`` maps module names to the source digests of the snapshot.
    """
    stale = [name for name, digest in expected.items() if _loaded.get(name, digest) != digest]
    if any(not _is_engine(name) for name in stale):
        for name in [n for n in _loaded if not _is_engine(n) and n in sys.modules]:
            del sys.modules[name]  # every user module, so none keeps a stale neighbour
            del _loaded[name]
        importlib.invalidate_caches()
    return [name for name in stale if _is_engine(name)]


def mismatched(expected: Mapping[str, str]) -> list[str]:
    """After a step: the modules it imported from other source than ``expected`` says."""
    return sorted(name for name, digest in expected.items() if _loaded.get(name, digest) != digest)


def _is_engine(module_name):
    return module_name == PACKAGE or module_name.startswith(PACKAGE + ".")


class _ProjectFinder(importlib.abc.MetaPathFinder):
    """Finds modules as the other finders do, and loads project code with :class:`_SourceLoader`."""

    def find_spec(self, fullname, path, target=None):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if type(spec.loader) is importlib.machinery.SourceFileLoader and is_project_file(fullname, spec.origin):
            spec.loader = _SourceLoader(fullname, spec.origin)
        return spec


class _SourceLoader(importlib.machinery.SourceFileLoader):
    """Loads a module from its source as it is now, recording the source's digest."""

    def get_code(self, fullname):
        source = self.get_data(self.path)
        _loaded[fullname] = source_digest(source)
        check = importlib.util.source_hash(source)
        header = importlib.util.MAGIC_NUMBER + _HASH_PYC_FLAGS + check
        cache = importlib.util.cache_from_source(self.path)
        try:
            with open(cache, "rb") as cached:
                data = cached.read()
            if data[:16] == header:
                return marshal.loads(data[16:])
        except (OSError, ValueError, EOFError):
            pass
        code = self.source_to_code(source, self.path)
        if not sys.dont_write_bytecode:
            _write_atomic(cache, header + marshal.dumps(code))
        return code


def _write_atomic(path, data):
    """Write a ``.pyc`` by rename, or not at all (a read-only install is fine)."""
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temp, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass
