"""The package's structure: imports point one way, with no circle, and the light rooms load no TensorFlow.

Read from the source (every ``import``, function-level ones included), so a
late import cannot hide a circle. Rooms, lowest first: the base modules,
``io``, ``config``, ``datacheck`` (pure numpy and pyarrow), ``engine``, ``report``, ``tasks`` (what a dodo.py loads),
``commands``. The heavy rooms (``steps``, ``generic``, ``examples``) may use
the rooms up to ``engine``; no light room imports them: steps are named by
dotted path.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tft_build"
BASE = ("tft_build", "tft_build.layout", "tft_build.errors", "tft_build.display", "tft_build.former")
RANKS = {"io": 1, "config": 2, "datacheck": 2.5, "engine": 3, "report": 4, "tasks": 5, "commands": 6}
HEAVY_ROOMS = ("steps", "generic", "examples")
HEAVY_MODULES = ("tensorflow", "tensorflow_transform", "apache_beam", "tfx_bsl", "tf_keras", "sklearn")
# The package's __init__ installs the source guard before any project code loads.
ALLOWED = {("tft_build", "tft_build.engine.sourceguard")}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name):
    """The package's modules that ``name`` imports, anywhere in its source."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def room(name):
    parts = name.split(".")
    return "base" if name in BASE else parts[1]


def rank(name):
    return 0 if room(name) == "base" else RANKS.get(room(name))


def test_no_import_circle():
    state, cycles = {}, []

    def visit(name, path):
        state[name] = "open"
        for dep in sorted(GRAPH[name]):
            if state.get(dep) == "open":
                cycles.append(path[path.index(dep):] + [dep] if dep in path else [name, dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[name] = "done"

    for name in MODULES:
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_one_way(name):
    wrong = []
    for dep in sorted(GRAPH[name]):
        if (name, dep) in ALLOWED or room(dep) == room(name):
            continue
        if room(dep) in HEAVY_ROOMS:
            ok = room(name) in HEAVY_ROOMS and room(dep) != "steps"  # steps are reached by dotted name only
        elif room(name) in HEAVY_ROOMS:
            ok = rank(dep) <= RANKS["engine"]
        else:
            ok = rank(dep) < rank(name)
        if not ok:
            wrong.append(dep)
    assert wrong == [], f"{name} ({room(name)}) must not import {wrong}"


def test_every_module_is_in_a_room():
    assert [n for n in MODULES if room(n) != "base" and room(n) not in RANKS and room(n) not in HEAVY_ROOMS] == []


LIGHT = sorted(n for n in MODULES if room(n) not in HEAVY_ROOMS)


@pytest.fixture(scope="module")
def loaded_by():
    """``{module: [heavy modules its import loaded]}``, importing the light modules one by one in one process."""
    code = (
        "import importlib, json, sys\n"
        f"heavy = {HEAVY_MODULES!r}\n"
        "out = {}\n"
        f"for name in {LIGHT!r}:\n"
        "    importlib.import_module(name)\n"
        "    out[name] = [m for m in heavy if m in sys.modules]\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("name", LIGHT)
def test_a_light_module_loads_no_tensorflow(loaded_by, name):
    """Importing it (after the light modules before it) loads no TensorFlow, TFT or Beam."""
    assert loaded_by[name] == []
