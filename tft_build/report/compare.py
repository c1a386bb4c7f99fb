"""The builds in the build cache side by side, with what differed between them (``doit compare``, the report).

Like ``dvc exp show``: for each model, a table whose columns are its last
builds in the build cache (:mod:`tft_build.engine.buildcache`), newest first, the one
in the workspace now marked ``(workspace)`` (its metrics file is the one in
``artifacts/metrics/``). The rows are its metrics, read from the cache, then
the inputs that differ between the builds shown: ``setting NAME``,
``code MODULE:NAME`` (a short hash of its fingerprint), ``package NAME`` (a
version) and ``data PATH`` (a short md5, or a remote file's size and time).

A build's inputs are those of its own task and, transitively, of the builds
that made its input files: an input file (a model's ``MANIFEST.json``, the
transform's digests) comes from the build whose outputs hold that file with
that md5, the newest one if several made it. A damaged entry is skipped with
a one-line note. :func:`compare` is what both the command and the HTML report
show; it imports no TensorFlow.
"""

import hashlib
import json
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tft_build import layout
from tft_build.config.settings import Config
from tft_build.display import shown
from tft_build.engine import buildcache, portable
from tft_build.engine.cachefiles import OBJECTS, file_digests
from tft_build.engine.cachestore import Store

LAST = 5  # builds shown per model, besides the one in the workspace
SHORT = 8  # characters of a key, hash or md5 shown
INPUT_KINDS = ("setting", "code", "package", "data")  # the order of the input rows
FIRST_METRICS = (  # the metrics shown before the others (here and in the report's Models)
    "rmse", "mae", "accuracy", "log_loss", "count", "reference_rmse", "reference_mae", "reference_accuracy",
    "reference_log_loss", "baseline_rmse", "noise_floor_rmse", "baseline_accuracy",
)
WORKSPACE = " (workspace)"
NO_CACHE = 'the build cache is off (cache_dir = ""): there are no builds to compare'
# An entry cut short, hand-edited or of another shape fails with one of these.
MALFORMED = (KeyError, IndexError, TypeError, AttributeError, ValueError)


@dataclass
class Build:
    """One entry of the build cache, as compare reads it."""

    key: str
    task: str
    stored: str
    files: dict[str, str | None]  # input file (portable name) -> md5, None when it was missing
    outputs: dict[str, tuple[str, str]]  # output file (portable name) -> (sha256, md5)
    own: dict[str, Any]  # row label -> value: this task's settings, code, packages, remote data


def compare(
    cfg: Config, models: Sequence[str] = (), last: int = LAST
) -> tuple[list[tuple[str, list[str], list[list[Any]]]], list[str]]:
    """``(tables, notes)``: a ``(model, headers, rows)`` table for each of ``models`` (default:
    the config's) with builds in the cache, and one-line notes on what could not be shown."""
    store = buildcache.store_for(cfg)
    if store is None:
        return [], [NO_CACHE]
    builds, notes = read_builds(store)
    if not builds:
        return [], notes + [f"no builds in the build cache {cfg.cache_dir} yet: run doit"]
    tables, made = [], producers(builds)
    for model in models or [name for name, _ in cfg.models]:
        headers, rows, skipped = model_table(store, cfg, model, builds, made, last)
        notes += skipped
        if headers:
            tables.append((model, headers, rows))
        else:
            notes.append(f"no builds of {model} in the build cache yet")
    return tables, notes


def read_builds(store: Store) -> tuple[list[Build], list[str]]:
    """``(builds, notes)``: the cache's entries, newest first, and a note for each damaged one."""
    builds, notes = [], []
    for key, entry in store.read_all():
        try:
            builds.append(as_build(entry))
        except MALFORMED:
            notes.append(f"skipped entry {key[:12]} of the build cache: damaged")
    builds.sort(key=lambda build: build.stored, reverse=True)  # stable: among equals, most recently used first
    return builds, notes


def as_build(entry: Mapping[str, Any] | None) -> Build:
    """A :class:`Build` of an entry; one of :data:`MALFORMED` when it is not whole (or None)."""
    inputs = entry["inputs"]
    code = inputs.get("code") or {}
    own = flat(inputs.get("settings", {}), "setting ")
    own.update({f"code {name}": digest[:SHORT] for name, digest in code.get("definitions", {}).items()})
    own.update({f"package {name}": version for name, version in code.get("externals", {}).items()})
    own.update({f"data {stamp[0]}": " ".join(map(str, stamp[1:])) for stamp in inputs.get("remote_files", [])})
    outputs = {
        f"{name}/{rel}" if rel else name: (digest["sha256"], digest["md5"])
        for name, output in entry["outputs"].items()
        for rel, digest in output["files"].items()
    }
    return Build(str(entry["key"]), str(entry["task"]), str(entry["stored"]), dict(inputs["files"]), outputs, own)


def flat(settings: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Row labels and values of nested settings: ``{"versions": {"tensorflow": ...}}`` gives
    ``setting versions.tensorflow``; a list is its compact JSON."""
    rows = {}
    for name, value in settings.items():
        if isinstance(value, dict):
            rows.update(flat(value, f"{prefix}{name}."))
        else:
            rows[prefix + name] = json.dumps(value) if isinstance(value, list) else value
    return rows


def model_table(
    store: Store, cfg: Config, model: str, builds: Iterable[Build], made: Mapping[tuple[str, str], Build], last: int
) -> tuple[list[str] | None, list[list[Any]], list[str]]:
    """``(headers, rows, notes)`` of one model: its ``last`` newest builds and the one in the
    workspace; ``made`` is :func:`producers` of ``builds``."""
    metrics_file = cfg.artifact(*layout.metrics_file(model))
    roots = portable.roots(cfg)
    name = portable.portable(metrics_file, roots)
    workspace = file_digests(metrics_file)[0] if os.path.isfile(metrics_file) else None
    columns, notes = [], []
    for build in builds:
        if build.task != f"train_and_predict_{model}_model":
            continue
        try:
            sha = build.outputs[name][0]
            metrics = read_metrics(store, sha)
        except (OSError, *MALFORMED):
            notes.append(f"skipped build {build.key[:12]} of {model}: its metrics are not whole in the build cache")
            continue
        columns.append((build, metrics, sha == workspace))
    columns = columns[:last] + [column for column in columns[last:] if column[2]]
    if not columns:
        return None, [], notes
    headers = ["build"] + [label(build, here) for build, _, here in columns]
    inputs = [lineage(build, made, roots) for build, _, _ in columns]
    differing = [row for row in sorted(set().union(*inputs), key=input_order)
                 if len({repr(values.get(row)) for values in inputs}) > 1]
    found = dict.fromkeys(name for _, metrics, _ in columns for name in metrics)
    rows = [[metric] + [metrics.get(metric) for _, metrics, _ in columns] for metric in metrics_first(found)]
    rows += [[row] + [values.get(row) for values in inputs] for row in differing]
    return headers, rows, notes


def read_metrics(store: Store, sha: str) -> dict[str, Any]:
    """A metrics file's scalar values, from its object in the cache, checked against its sha256."""
    data = store.files.read(OBJECTS, sha)
    if data is None:
        raise ValueError(f"object {sha[:12]} is missing")
    if hashlib.sha256(data).hexdigest() != sha:
        raise ValueError(f"object {sha[:12]} holds other bytes")
    return {str(k): v for k, v in json.loads(data).items() if not isinstance(v, (list, dict))}


def metrics_first(names: Collection[str]) -> list[str]:
    """Metric names in the order they are shown: :data:`FIRST_METRICS` first, then the others as they come."""
    return [name for name in FIRST_METRICS if name in names] + [name for name in names if name not in FIRST_METRICS]


def label(build: Build, in_workspace: bool) -> str:
    """A build's column header: when it was stored, its short key, and whether it is in the workspace."""
    return f"{build.stored.replace('T', ' ')}\n{build.key[:SHORT]}" + (WORKSPACE if in_workspace else "")


def producers(builds: Iterable[Build]) -> dict[tuple[str, str], Build]:
    """``(output file, md5)`` -> the build that made it (the newest, when several did)."""
    made = {}
    for build in builds:
        for path, (_, md5) in build.outputs.items():
            made.setdefault((path, md5), build)
    return made


def lineage(build: Build, made: Mapping[tuple[str, str], Build], roots: portable.Roots) -> dict[str, Any]:
    """Row label -> value of everything ``build`` depends on: its own inputs and, through the
    builds that made its input files, theirs; an input file no cached build made is a data row."""
    found, todo, seen = {}, [build], set()
    while todo:
        step = todo.pop(0)
        if step.key in seen:
            continue
        seen.add(step.key)
        for row, value in step.own.items():
            found.setdefault(row, value)
        for path, md5 in step.files.items():
            if (path, md5) in made:
                todo.append(made[(path, md5)])
            else:
                found.setdefault(f"data {shown(portable.local(path, roots))}", md5[:SHORT] if md5 else "missing")
    return found


def input_order(row: str) -> tuple[int, str]:
    """Input rows by kind (settings, code, packages, data), then by name."""
    kind, _, name = row.partition(" ")
    return INPUT_KINDS.index(kind), name


def text(value: Any) -> str:
    """A table value as the command prints it: 4 significant digits, a dash for none."""
    if value is None:
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
