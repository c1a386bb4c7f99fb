"""The mutation matrix of the build record, shared by its two test files.

Each input (the two CSVs, the preprocessing module, a helper module it
imports, the model builder module, a setting) x each change (an edit, an
edit with the old mtime restored, a ``touch``, an edit made while the task
that reads it runs): the next ``doit`` reruns exactly what it must. An edit
"while it runs" is made by the user's own code when the step reaches it (the
test hook of support.py), so the timing is exact. The cells of one file share
one small one-model project, in order; each ends with the project up to
date. Runs alternate between the ``doit`` console script and
``python -m doit``: both must agree. The build cache is off: the cells toggle
between versions built before, which it would restore instead of running
(its own tests are tests/e2e/test_cache.py).
"""

import json
import os

import pytest
from support import NO_CACHE, REFERENCE_TASK, make_project, ran, taxi_config

from tft_build.config.settings import load_config
from tft_build.examples.taxi.rowfilter import is_clean_ride
from tft_build.io.csvio import read_rows

CONFIG = taxi_config(
    {"m": "my_models:build_non_embedding_model"},
    preprocessing_fn="my_preprocessing:preprocessing_fn", row_filter="my_filter:row_filter",
    epochs=1, patience=1, batch_size=64,
)

TRANSFORM, TRAIN, PREDICT = "transform_raw_data", "train_m_model", "train_and_predict_m_model"
ALL = {TRANSFORM, REFERENCE_TASK, TRAIN, PREDICT}  # the reference model reruns with the transformed data only

# input -> (file, the task that reads it, the point the step reaches, what an edit reruns,
#           the reason `doit explain` gives for an edit)
INPUTS = {
    "train CSV": ("data/train.csv", TRANSFORM, "row_filter", ALL, "file changed: data/train.csv"),
    "eval CSV": ("data/eval.csv", TRANSFORM, "row_filter", ALL, "file changed: data/eval.csv"),
    "preprocessing module": (
        "my_preprocessing.py", TRANSFORM, "preprocessing_fn", ALL, "code changed: my_preprocessing:preprocessing_fn",
    ),
    "helper module": ("my_helpers.py", TRANSFORM, "preprocessing_fn", ALL, "code changed: my_helpers:rush_hour"),
    "model builder module": (
        "my_models.py", TRAIN, "build_non_embedding_model", {TRAIN, PREDICT},
        "code changed: my_models:build_non_embedding_model",
    ),
    "setting": ("pyproject.toml", TRAIN, "build_non_embedding_model", {TRAIN, PREDICT}, "setting epochs: "),
}
CHANGES = ["edit", "edit with the old mtime", "touch", "edit while it runs"]

# Code and settings toggle between two versions that differ in meaning.
TOGGLES = {
    "my_preprocessing.py": ('"trip_km": km / 10.0', '"trip_km": km / 20.0'),
    "my_helpers.py": ("hour >= 16", "hour >= 15"),
    "my_models.py": (
        "parts = dense_parts(features, inputs) + one_hot_parts(features, inputs)\n    return",
        "parts = one_hot_parts(features, inputs) + dense_parts(features, inputs)\n    return",
    ),
    "pyproject.toml": ("epochs = 1\n", "epochs = 2\n"),
}



def matrix_tests(inputs):
    """``(project fixture, cell test)`` for the cells of ``inputs``: bind both at a test module's top level."""

    @pytest.fixture(scope="module")
    def project(tmp_path_factory):
        """A one-model project, built once; the cells change it in turn."""
        project = make_project(tmp_path_factory.mktemp("record"), train_rows=200, eval_rows=60)
        project.env = NO_CACHE
        (project.root / "pyproject.toml").write_text(CONFIG)
        project.doit()
        project.cells = 0
        return project

    @pytest.mark.parametrize("change", CHANGES)
    @pytest.mark.parametrize("name", inputs)
    def test_the_next_doit_reruns_exactly_what_it_must(project, name, change):
        check_cell(project, name, change)

    return project, test_the_next_doit_reruns_exactly_what_it_must

def next_edit(project, relative):
    """``(old, new)``: a text replacement in ``relative`` that changes what the pipeline computes."""
    path = project.root / relative
    text = path.read_text()
    if relative in TOGGLES:
        old, new = TOGGLES[relative]
        return (old, new) if old in text else (new, old)
    # Data: one more dollar on the first clean ride's fare.
    line, row = next((n, r) for n, r in read_rows(path, load_config(project.root).columns) if is_clean_ride(r))
    old = text.splitlines(keepends=True)[line - 1]
    fare = old.split(",")[1]
    return old, old.replace(f",{fare},", f",{float(fare) + 1:.2f},", 1)


def replace(path, old, new, keep_mtime=False):
    stat = path.stat()
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert path.stat().st_mtime_ns == stat.st_mtime_ns


def explained(project, script):
    """``({"will run": names, "may run": names, "up to date": names}, text)`` of ``doit explain``."""
    kinds = {"will run": set(), "may run": set(), "up to date": set()}
    text = project.doit("explain", script=script).stdout
    for line in text.splitlines():
        kind, sep, name = line.partition(": ")
        if sep and kind in kinds:
            kinds[kind].add(name)
    return kinds, text


def check_next_run(project, must_run, script, reason=""):
    """``doit explain`` announces (with ``reason``), then ``doit`` runs, exactly ``must_run``;
    then all is up to date."""
    kinds, text = explained(project, script)
    assert reason in text, text
    done = ran(project.doit(script=script).stdout)
    assert done == must_run
    assert kinds["will run"] <= done <= kinds["will run"] | kinds["may run"], text
    assert explained(project, not script)[0]["up to date"] == ALL


def check_cell(project, name, change):
    """One cell of the matrix: make ``change`` to input ``name``, then check the next runs."""
    relative, reader, point, must_run, reason = INPUTS[name]
    path = project.root / relative
    project.cells += 1
    script = project.cells % 2 == 0  # every other cell through the console script
    if change == "touch":
        later = path.stat().st_mtime + 60
        os.utime(path, (later, later))
        check_next_run(project, set(), script)
    elif change in ("edit", "edit with the old mtime"):
        replace(path, *next_edit(project, relative), keep_mtime=change != "edit")
        check_next_run(project, must_run, script, reason)
    else:
        edit_while_running(project, relative, reader, point, must_run, script)


def edit_while_running(project, relative, reader, point, must_run, script):
    """Forget ``reader`` (its first build, as after a failure), edit ``relative`` when its step reaches ``point``."""
    project.doit("forget", reader)
    old, new = next_edit(project, relative)
    marker = project.root.parent / f"{project.root.name}-edited-{project.cells}"  # the dir holds other projects
    edit = {"point": point, "path": str(project.root / relative), "old": old, "new": new, "marker": str(marker)}
    first = project.doit(check=False, env={"TFT_TEST_EDIT": json.dumps(edit)}, script=script)
    assert marker.exists(), "the step never reached the point of the edit"
    if relative == "pyproject.toml":
        # Settings are read when the tasks load: the run used, and recorded, the old ones.
        assert first.returncode == 0 and reader in ran(first.stdout)
    else:
        assert first.returncode != 0
        shown = relative if relative.startswith("data/") else f"module {relative[:-3]}"
        assert f"{reader}: {shown} changed while it ran; run doit again" in first.stdout + first.stderr
        kinds, text = explained(project, script)
        # doit drops a failed task's record: explain says it failed, not that it was never built
        assert reader in kinds["will run"] and "its last run failed" in text and "never built" not in text, text
    check_next_run(project, must_run, not script)


