"""``doit compare`` and the report's builds: lineage, the rows that differ, the workspace's build, damage.

The unit tests write hand-made entries (a transform, a training and a
serving build each) into a temp cache; the end-to-end test builds a project
twice with another ``nbuckets`` and reads ``doit compare`` and the report.
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from doit.exceptions import InvalidCommand

from tft_build.commands import compare as compare_cmd
from tft_build.config.settings import Config
from tft_build.engine.cachefiles import ENTRIES, OBJECTS
from tft_build.engine.cachestore import Store, entry_name
from tft_build.report import compare, html_report

MODEL = "embedding"
TRAIN_CSV, EVAL_CSV = "$PROJECT/data/train.csv", "$PROJECT/data/eval.csv"
DATA_DIGEST = "$ARTIFACTS/transformed/data.digest.json"
MANIFEST = f"$ARTIFACTS/models/{MODEL}/MANIFEST.json"
METRICS = f"$ARTIFACTS/metrics/{MODEL}.json"


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    """A project's config with its own cache dir; the current dir is the project."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    return Config(project_dir=project, artifacts_dir=project / "artifacts", cache_dir=str(tmp_path / "cache"),
                  models=((MODEL, "my_models:build"),))


def put_object(store, data):
    """Store ``data`` as an object; its digests as an entry names them."""
    sha = hashlib.sha256(data).hexdigest()
    path = store.files.where(OBJECTS, sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"sha256": sha, "md5": hashlib.md5(data).hexdigest(), "size": len(data)}


def put_entry(store, task, stored, files, outputs, settings=None, definitions=None):
    """Store an entry of ``task``; its key."""
    inputs = {"format": 1, "task": task, "python": "3.11", "files": files, "settings": settings or {},
              "code": {"digest": "d", "externals": {"numpy": "2.4.6"}, "definitions": definitions or {}}}
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    store.put_entry(key, {"key": key, "task": task, "stored": stored, "seconds": 1.0, "inputs": inputs,
                          "outputs": outputs})
    return key


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def pipeline(cfg, stored, rmse, nbuckets=10, train="train rows", preprocessing="p1"):
    """Three builds: transform (with ``nbuckets``), training, serving (with ``rmse``); the serving
    build's key and the bytes of its metrics."""
    store = Store(cfg.cache_dir)
    data = put_object(store, f"transformed {nbuckets} {train} {preprocessing}".encode())
    put_entry(store, "transform_raw_data", stored, {TRAIN_CSV: md5(train), EVAL_CSV: md5("eval rows")},
              {"$ARTIFACTS/transformed": {"dirs": [], "files": {"data.digest.json": data}}},
              settings={"nbuckets": nbuckets, "versions": {"tensorflow": "2.21.0"}},
              definitions={"my_preprocessing:preprocessing_fn": hashlib.sha256(preprocessing.encode()).hexdigest()})
    model = put_object(store, f"model of {data['sha256']}".encode())
    put_entry(store, f"train_{MODEL}_model", stored, {DATA_DIGEST: data["md5"]},
              {f"$ARTIFACTS/models/{MODEL}": {"dirs": [], "files": {"MANIFEST.json": model}}},
              settings={"epochs": 4, "versions": {"tensorflow": "2.21.0"}})
    slices = {"hour": [{"slice": "7", "count": 147, "rmse": rmse}]}
    metrics = json.dumps({"count": 147, "mae": rmse - 1, "rmse": rmse, "classes": [1, 2], "slices": slices}).encode()
    key = put_entry(store, f"train_and_predict_{MODEL}_model", stored,
                    {MANIFEST: model["md5"], DATA_DIGEST: data["md5"], EVAL_CSV: md5("eval rows")},
                    {METRICS: {"files": {"": put_object(store, metrics)}}})
    return key, metrics


def only_table(cfg, **options):
    """The one table of ``compare``, as ``{row label: values}`` with its headers."""
    tables, notes = compare.compare(cfg, **options)
    assert [model for model, _, _ in tables] == [MODEL], notes
    _, headers, rows = tables[0]
    return headers, {row[0]: row[1:] for row in rows}, notes


def test_builds_side_by_side_with_the_settings_that_differ_through_their_lineage(cfg):
    old, _ = pipeline(cfg, "2026-12-01T10:00:00", 3.0, nbuckets=10)
    new, _ = pipeline(cfg, "2026-12-01T11:00:00", 2.5, nbuckets=8)
    headers, rows, notes = only_table(cfg)
    assert notes == []
    assert headers == ["build", f"2026-12-01 11:00:00\n{new[:8]}", f"2026-12-01 10:00:00\n{old[:8]}"]
    assert list(rows) == ["rmse", "mae", "count", "setting nbuckets"]  # the first metrics first; no list, no slices
    assert rows["rmse"] == [2.5, 3.0] and rows["count"] == [147, 147]
    assert rows["setting nbuckets"] == [8, 10]  # two builds back, through the model and the digests


def test_code_and_data_rows_show_short_hashes(cfg):
    pipeline(cfg, "2026-12-01T10:00:00", 3.0)
    pipeline(cfg, "2026-12-01T11:00:00", 3.0, train="more train rows", preprocessing="p2")
    _, rows, _ = only_table(cfg)
    assert rows["data data/train.csv"] == [md5("more train rows")[:8], md5("train rows")[:8]]
    assert rows["code my_preprocessing:preprocessing_fn"] == [
        hashlib.sha256(b"p2").hexdigest()[:8], hashlib.sha256(b"p1").hexdigest()[:8]]
    assert list(rows)[3:] == ["code my_preprocessing:preprocessing_fn", "data data/train.csv"]


def test_the_build_in_the_workspace_is_marked_and_always_shown(cfg):
    old, metrics = pipeline(cfg, "2026-12-01T10:00:00", 3.0)
    new, _ = pipeline(cfg, "2026-12-01T11:00:00", 2.5, nbuckets=8)
    workspace = cfg.artifacts_dir / "metrics" / f"{MODEL}.json"
    workspace.parent.mkdir(parents=True)
    workspace.write_bytes(metrics)
    headers, _, _ = only_table(cfg)
    assert headers[1:] == [f"2026-12-01 11:00:00\n{new[:8]}", f"2026-12-01 10:00:00\n{old[:8]} (workspace)"]
    headers, rows, _ = only_table(cfg, last=1)
    assert len(headers) == 3 and headers[2].endswith("(workspace)")
    workspace.write_text("{}")
    headers, rows, _ = only_table(cfg, last=1)
    assert headers[1:] == [f"2026-12-01 11:00:00\n{new[:8]}"] and "setting nbuckets" not in rows


def test_damaged_entries_are_skipped_with_a_note(cfg):
    pipeline(cfg, "2026-12-01T10:00:00", 3.0)
    lost, _ = pipeline(cfg, "2026-12-01T11:00:00", 2.5, nbuckets=8)
    store = Store(cfg.cache_dir)
    store.files.where(OBJECTS, store.get(lost)["outputs"][METRICS]["files"][""]["sha256"]).write_text("{}")
    cut = store.files.where(ENTRIES, entry_name("ab" * 32))
    cut.parent.mkdir(parents=True, exist_ok=True)
    cut.write_text('{"key": "' + "ab" * 32 + '", "inputs": {')
    headers, rows, notes = only_table(cfg)
    assert sorted(notes) == [f"skipped build {lost[:12]} of {MODEL}: its metrics are not whole in the build cache",
                             "skipped entry abababababab of the build cache: damaged"]
    assert len(headers) == 2 and rows["rmse"] == [3.0]


def test_no_cache_and_an_empty_cache_are_one_line(cfg):
    assert compare.compare(Config(project_dir=cfg.project_dir, cache_dir="")) == ([], [compare.NO_CACHE])
    assert compare.compare(cfg) == ([], [f"no builds in the build cache {cfg.cache_dir} yet: run doit"])
    put_entry(Store(cfg.cache_dir), "transform_raw_data", "2026-12-01T10:00:00", {}, {})
    assert compare.compare(cfg) == ([], [f"no builds of {MODEL} in the build cache yet"])


def test_models_are_named_by_name_or_task():
    cfg = Config(project_dir=Path("."), models=(("a", "m:a"), ("b_model", "m:b")))
    assert [compare_cmd.model_named(cfg, name) for name in ("a", "train_a_model", "train_and_predict_b_model_model")] \
        == ["a", "a", "b_model"]
    with pytest.raises(InvalidCommand, match="no model named c; the models are a, b_model"):
        compare_cmd.model_named(cfg, "c")


def test_the_report_shows_the_builds_and_a_cache_problem_as_a_note(cfg, monkeypatch):
    pipeline(cfg, "2026-12-01T10:00:00", 3.0, nbuckets=10)
    pipeline(cfg, "2026-12-01T11:00:00", 2.5, nbuckets=8)
    page = html_report.render_page(cfg.artifacts_dir, None, [], cfg)
    assert '<section id="builds"><h2>Builds in the cache</h2><h3>embedding</h3>' in page
    assert '<td>setting nbuckets</td><td class="num">8</td><td class="num">10</td>' in page

    def unreadable(cfg):
        raise PermissionError("cache dir")

    monkeypatch.setattr(compare, "compare", unreadable)
    page = html_report.render_page(cfg.artifacts_dir, None, [], cfg)
    assert "could not read the build cache: PermissionError cache dir" in page


def test_compare_imports_no_tensorflow():
    code = "import sys, tft_build.report.compare; print([m for m in ('tensorflow', 'apache_beam') if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
