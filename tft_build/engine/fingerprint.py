"""Code fingerprints: what a code edit really changes, without importing the code.

The fingerprint of a function is a hash of its normalized syntax tree
(comments, docstrings, blank lines and formatting do not count) together with
the normalized trees of every project function, class and module-level
constant it refers to, transitively, in any module of the project (the
directory of the config, and tft_build itself). Code of installed third-party
packages counts by their installed version.

Everything is read with :mod:`ast` from the source files, so fingerprinting
``preprocessing_fn`` imports no TensorFlow. The files are the ones the import
system will load (:func:`module_path`): an imported module's ``__file__``,
tft_build's modules from the tft_build that is running (an installed copy and
a checkout in the current dir are never confused), and each module's source
digest is kept (``modules``) so that :mod:`tft_build.engine.sourceguard` can check
that what ran was imported from exactly that source. A reference that cannot be
resolved statically (``from m import *``, ``globals()``, ``getattr`` with a
computed name) falls back to the whole module's normalized source, so an edit
is never missed; cycles are visited once.
"""

import ast
import builtins
import hashlib
import importlib.metadata
import json
import platform
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.machinery import PathFinder
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from tft_build import former
from tft_build.engine.sourceguard import source_digest

PACKAGE = __name__.partition(".")[0]
WHOLE_MODULE = "*"
MODULE_NAMES = {"__file__", "__name__", "__doc__", "__spec__", "__package__", "__builtins__", "__path__"}
BUILTIN_NAMES = set(dir(builtins)) | MODULE_NAMES
DYNAMIC_CALLS = {"globals", "vars", "eval", "exec", "locals", "__import__"}
# Modules that cannot change what a step produces: recording a call trace or
# watching for Ctrl-C must not make every task rerun.
NEUTRAL_MODULES = {"tft_build.engine.trace", "tft_build.engine.interrupt"}


@dataclass
class Fingerprint:
    """A digest plus what it was made of: each definition's hash and source."""

    digest: str
    definitions: dict[str, dict[str, str]] = field(default_factory=dict)  # "module:name" -> {"hash", "source"}
    externals: dict[str, str] = field(default_factory=dict)  # distribution -> version
    modules: dict[str, str] = field(default_factory=dict)  # module name -> source digest of the file read

    def as_value(self) -> dict[str, Any]:
        """The JSON-able form stored in doit's database (for ``doit explain``)."""
        return {
            "digest": self.digest, "definitions": self.definitions,
            "externals": self.externals, "modules": self.modules,
        }


def fingerprint(targets: Iterable[str], project_dirs: Iterable[str | Path] = ()) -> Fingerprint:
    """The fingerprint of the functions named ``"module:name"`` in ``targets``."""
    roots = tuple(Path(d).resolve() for d in project_dirs)
    walk = _Walk(roots)
    for target in targets:
        module, _, name = target.partition(":")
        walk.visit(module, name or WHOLE_MODULE)
    definitions = dict(sorted(walk.definitions.items()))
    externals = dict(sorted(walk.externals.items()))
    summary = {"definitions": {k: v["hash"] for k, v in definitions.items()}, "externals": externals}
    digest = hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()
    return Fingerprint(digest, definitions, externals, dict(sorted(walk.modules.items())))


class _Walk:
    """One transitive walk over definitions, from a set of starting names."""

    def __init__(self, roots):
        self.roots = roots
        self.definitions = {}
        self.externals = {}
        self.modules = {}
        self.project_tops = {}  # top-level module name -> whether it is the project's (tft_build or a project dir's)

    def visit(self, module_name, name):
        """Add ``module_name:name`` and everything it refers to."""
        pending = [(module_name, name)]
        while pending:
            module_name, name = pending.pop()
            key = f"{module_name}:{name}"
            if key in self.definitions or module_name in NEUTRAL_MODULES:
                continue
            if not self._in_project(module_name):
                self._external(module_name)
                continue
            module = parsed_module(module_name, self.roots)
            if module is None:
                self._external(module_name)
                continue
            self.modules[module_name] = module.digest
            nodes = [module.tree] if name == WHOLE_MODULE else module.definitions.get(name)
            if nodes is None:
                if name in module.imports:  # imported from elsewhere (a package's re-export): follow it
                    pending.extend(self._imported(module.imports[name], ()))
                elif module_path(f"{module_name}.{name}", self.roots):
                    pending.append((f"{module_name}.{name}", WHOLE_MODULE))
                else:  # bound in a way we cannot see: the whole module counts
                    pending.append((module_name, WHOLE_MODULE))
                continue
            memo_key = (name, self.roots)
            if memo_key not in module.memo:  # the same definitions recur across tasks
                entry = {
                    "hash": hashlib.sha256("\n".join(normalized(n) for n in nodes).encode()).hexdigest(),
                    "source": "\n".join(module.segment(n) for n in nodes),
                }
                module.memo[memo_key] = (entry, [ref for n in nodes for ref in self._references(module, n)])
            self.definitions[key], references = module.memo[memo_key]
            pending.extend(references)

    def _in_project(self, module_name):
        """Whether the module's top-level package is tft_build or lives in a project dir.

        Decided from the file system alone: even ``find_spec`` runs code for
        some third-party packages (``tf_keras`` imports TensorFlow), and
        nothing under a third-party package is followed.
        """
        top = module_name.split(".")[0]
        if top not in self.project_tops:  # asked thousands of times a walk, of a few names
            self.project_tops[top] = top == PACKAGE or any(
                (root / top).is_dir() or (root / f"{top}.py").is_file() for root in self.roots
            )
        return self.project_tops[top]

    def _external(self, module_name):
        top = module_name.split(".")[0]
        if top in sys.stdlib_module_names:
            self.externals["python"] = platform.python_version()
            return
        for dist in distributions(top):
            self.externals[dist] = installed_version(dist)

    def _references(self, module, node):
        """``(module, name)`` pairs that ``node`` refers to, resolved statically."""
        local = bound_names(node) if node is not module.tree else set()
        local_imports, local_stars = {}, []
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Import, ast.ImportFrom)) and node is not module.tree:
                collect_import(sub, module.package, local_imports, local_stars)
        for base, attrs in referenced_chains(node):
            if base in DYNAMIC_CALLS and base not in module.definitions:
                yield module.name, WHOLE_MODULE
            elif base in local_imports:
                yield from self._imported(local_imports[base], attrs)
            elif base in module.definitions:
                yield module.name, base
            elif base in module.imports:
                yield from self._imported(module.imports[base], attrs)
            elif base in local or base in BUILTIN_NAMES:
                continue
            else:
                for star in module.star_imports:
                    yield star, WHOLE_MODULE
                yield module.name, WHOLE_MODULE

    def _imported(self, imported, attrs):
        """Follow ``alias.attr.attr`` through modules to a definition."""
        module_name, name = imported
        parts = ([name] if name else []) + list(attrs)
        if not self._in_project(module_name):
            yield module_name, WHOLE_MODULE
            return
        while parts:
            submodule = f"{module_name}.{parts[0]}"
            submodule = former.MODULES.get(submodule, submodule)  # a module that moved, where it is now
            if not module_path(submodule, self.roots):
                break
            module_name = submodule
            parts.pop(0)
        yield module_name, parts[0] if parts else WHOLE_MODULE


@dataclass
class ParsedModule:
    """A module's syntax tree and what its top level binds."""

    name: str
    package: str  # what relative imports are relative to
    path: Path
    digest: str  # of the source file's bytes (see tft_build.engine.sourceguard)
    source: str
    lines: list[str]  # the source's lines, for segments
    tree: ast.Module
    definitions: dict[str, list[ast.stmt]]  # name -> [statement nodes that bind it]
    imports: dict[str, tuple[str, str | None]]  # alias -> (module, name or None)
    star_imports: list[str]
    memo: dict = field(default_factory=dict)  # (name, roots) -> (definition entry, references)

    def segment(self, node: ast.AST) -> str:
        """The source lines of ``node`` as written, decorators included (the whole file for the module)."""
        if node is self.tree:
            return self.source
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        return "".join(self.lines[first - 1:node.end_lineno]).rstrip("\n")


def module_path(module_name: str, roots: tuple[str | Path, ...]) -> Path | None:
    """The source file that importing a project module will load, found without running code.

    An imported module is where it was loaded from; otherwise the search is
    the import system's: a submodule in its package's ``__path__``, a
    top-level module in the project dirs first (they lead ``sys.path`` once
    the tasks load), then wherever ``sys.path`` and the installed finders
    (editable installs) put it.
    """
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return _source_file(getattr(loaded, "__file__", None))
    package = module_name.rpartition(".")[0]
    if not package:
        return _unloaded_top_level(module_name, roots)
    parent = sys.modules.get(package)
    if parent is not None:
        locations = tuple(getattr(parent, "__path__", ()))
    else:
        init = module_path(package, roots)
        locations = (str(init.parent),) if init is not None and init.name == "__init__.py" else ()
    return _unloaded_submodule(module_name, locations) if locations else None


@cache
def _unloaded_top_level(module_name, roots):
    spec = PathFinder.find_spec(module_name, [str(r) for r in roots]) or find_spec(module_name)
    return _source_file(spec.origin if spec else None)


@cache
def _unloaded_submodule(module_name, locations):
    spec = PathFinder.find_spec(module_name, list(locations))
    return _source_file(spec.origin if spec else None)


def _source_file(origin):
    return Path(origin).resolve() if origin and origin.endswith(".py") else None


def module_binds(module_name: str, roots: tuple[str | Path, ...], name: str) -> bool:
    """Whether the project module ``module_name`` binds ``name`` (defines or imports it),
    read from its source without running it; SyntaxError if it does not parse."""
    module = parsed_module(module_name, roots)
    return name in module.definitions or name in module.imports or bool(module.star_imports)


def parsed_module(module_name: str, roots: tuple[str | Path, ...]) -> ParsedModule | None:
    """The parsed source of a project module, or None when it has no source file."""
    path = module_path(module_name, roots)
    if path is None:
        return None
    stat = path.stat()
    return _parse(module_name, path, (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))


@cache
def _parse(module_name, path, version):
    """Parse once per version of the file (its stat key, ctime included, is part of the key)."""
    data = path.read_bytes()
    source = data.decode("utf-8")
    tree = strip_docstrings(ast.parse(source, filename=str(path)))
    package = module_name if path.name == "__init__.py" else module_name.rpartition(".")[0]
    definitions, imports, stars = {}, {}, []
    for stmt in top_level_statements(tree.body):
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            collect_import(stmt, package, imports, stars)
        else:
            for name in statement_binds(stmt):
                definitions.setdefault(name, []).append(stmt)
    lines = source.splitlines(keepends=True)
    return ParsedModule(
        module_name, package, path, source_digest(data), source, lines, tree, definitions, imports, stars
    )


@cache
def installed_version(dist: str) -> str:
    """The installed version of a distribution, or "unknown"."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@cache
def distributions(top: str) -> list[str]:
    """The distributions that provide the top-level module ``top``.

    Most are named as their module (``numpy``; ``tensorflow_transform`` for ``tensorflow-transform``).
    For the others (``sklearn`` is scikit-learn's), each installed distribution is asked: by its
    ``top_level.txt`` when it has one, else by the files its ``RECORD`` lists (a ``top/`` dir or a
    ``top.*`` module), read as text. importlib's ``packages_distributions`` maps every module at once
    but parses every path and every metadata file: 0.13 s against 0.02 s here, paid by each task
    whose code fingerprint is computed again (an edit saved by a rename changes the project dir).
    """
    try:
        importlib.metadata.distribution(top)
        return [top]
    except importlib.metadata.PackageNotFoundError:
        pass
    recorded = re.compile(rf"^{re.escape(top)}(/|\.[^/,]*,)", re.MULTILINE)
    found = []
    for dist in importlib.metadata.distributions():
        declared = dist.read_text("top_level.txt")
        if top in declared.split() if declared is not None else recorded.search(dist.read_text("RECORD") or ""):
            found.append(dist.metadata["Name"])
    return found or [top]


def top_level_statements(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at import time, looking into ``if``/``try``/``with`` blocks."""
    for stmt in body:
        if isinstance(stmt, (ast.If, ast.Try, ast.With)):
            nested = [stmt.body, getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])]
            nested += [handler.body for handler in getattr(stmt, "handlers", [])]
            for block in nested:
                yield from top_level_statements(block)
        else:
            yield stmt


def statement_binds(stmt: ast.stmt) -> list[str]:
    """Names a top-level statement binds (defs, classes, assignments)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        targets = [stmt.target]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def collect_import(
    stmt: ast.Import | ast.ImportFrom, package: str, imports: dict[str, tuple[str, str | None]], stars: list[str]
) -> None:
    """Record what an import statement binds, relative imports resolved."""
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            if alias.asname:
                imports[alias.asname] = (alias.name, None)
            else:
                top = alias.name.split(".")[0]
                imports[top] = (top, None)
        return
    base = stmt.module or ""
    if stmt.level:
        parent = package.split(".")[: len(package.split(".")) - stmt.level + 1] if package else []
        base = ".".join(parent + ([stmt.module] if stmt.module else []))
    for alias in stmt.names:
        if alias.name == "*":
            stars.append(base)
        else:
            imports[alias.asname or alias.name] = (base, alias.name)


STATEMENT_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")  # the fields that hold statements


def strip_docstrings(tree: ast.Module) -> ast.Module:
    """Remove docstrings from the module, classes and functions, in place.

    Only statements are visited (a definition is a statement, in a block of another), not the
    expressions that make up most of a tree: a third of the time of parsing a module, when they were.
    """
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
        for block in STATEMENT_BLOCKS:
            pending.extend(getattr(node, block, ()))
    return tree


def normalized(node: ast.AST) -> str:
    """The syntax tree as text, without positions: formatting and comments are gone."""
    return ast.dump(node, annotate_fields=False, include_attributes=False)


def referenced_chains(node: ast.AST) -> list[tuple[str, list[str]]]:
    """``(name, [attr, ...])`` for each name used in ``node``: ``a.b.c`` -> ``("a", ["b", "c"])``.

    Only whole chains count (``a.b.c``, not also ``a.b`` and ``a``).
    ``getattr(x, "lit")`` counts as ``x.lit``; with a computed name, as ``x``
    alone, which stands for the whole of ``x`` when it is a project module.
    """
    finder = _ChainFinder()
    finder.visit(node)
    return finder.chains


class _ChainFinder(ast.NodeVisitor):
    def __init__(self):
        self.chains = []

    def visit_Attribute(self, node):
        attrs, base = [], node
        while isinstance(base, ast.Attribute):
            attrs.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name):
            self.chains.append((base.id, attrs[::-1]))
        else:
            self.visit(base)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.chains.append((node.id, []))

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id == "getattr" and len(node.args) >= 2:
            target, attr = node.args[0], node.args[1]
            if isinstance(target, ast.Name):
                literal = isinstance(attr, ast.Constant) and isinstance(attr.value, str)
                self.chains.append((target.id, [attr.value] if literal else []))
        self.generic_visit(node)


def bound_names(node: ast.AST) -> set[str]:
    """Names bound inside a definition: parameters, assignments, loops, nested defs."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
        elif isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub is not node:
            names.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in sub.names)
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            names.add(sub.name)
    return names
