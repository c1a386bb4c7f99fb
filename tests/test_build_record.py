"""The build record never lies: after any change of any input, the next doit reruns exactly what it must.

The mutation matrix: each input (the two CSVs, the preprocessing module, a
helper module it imports, the model builder module, a setting) x each change
(an edit, an edit with the old mtime restored, a ``touch``, an edit made
while the task that reads it runs). An edit "while it runs" is made by the
user's own code when the step reaches it (the test hook of conftest), so the
timing is exact. All cells share one small one-model project, in order;
each ends with the project up to date. Runs alternate between the ``doit``
console script and ``python -m doit``: both must agree.
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import make_project, ran
from tft_build.config import Config
from tft_build.csvio import read_rows
from tft_build.rowfilter import is_clean_ride

CONFIG = """\
[tool.tft_build]
preprocessing_fn = "my_preprocessing:preprocessing_fn"
row_filter = "my_filter:row_filter"
epochs = 1
patience = 1
batch_size = 64

[tool.tft_build.models]
m = "my_models:build_non_embedding_model"
"""

TRANSFORM, TRAIN, PREDICT = "transform_raw_data", "train_m_model", "train_and_predict_m_model"
ALL = {TRANSFORM, TRAIN, PREDICT}

# input -> (file, the task that reads it, the point the step reaches, what an edit reruns)
INPUTS = {
    "train CSV": ("data/train.csv", TRANSFORM, "row_filter", ALL),
    "eval CSV": ("data/eval.csv", TRANSFORM, "row_filter", ALL),
    "preprocessing module": ("my_preprocessing.py", TRANSFORM, "preprocessing_fn", ALL),
    "helper module": ("my_helpers.py", TRANSFORM, "preprocessing_fn", ALL),
    "model builder module": ("my_models.py", TRAIN, "build_non_embedding_model", {TRAIN, PREDICT}),
    "setting": ("pyproject.toml", TRAIN, "build_non_embedding_model", {TRAIN, PREDICT}),
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


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A one-model project, built once; the cells change it in turn."""
    project = make_project(tmp_path_factory.mktemp("record"), train_rows=200, eval_rows=60)
    (project.root / "pyproject.toml").write_text(CONFIG)
    project.doit()
    project.cells = 0
    return project


def next_edit(project, relative):
    """``(old, new)``: a text replacement in ``relative`` that changes what the pipeline computes."""
    path = project.root / relative
    text = path.read_text()
    if relative in TOGGLES:
        old, new = TOGGLES[relative]
        return (old, new) if old in text else (new, old)
    # Data: one more dollar on the first clean ride's fare.
    line, row = next((n, r) for n, r in read_rows(path, Config(project.root).columns) if is_clean_ride(r))
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
    """``{"will run": names, "may run": names, "up to date": names}`` of ``doit explain``."""
    kinds = {"will run": set(), "may run": set(), "up to date": set()}
    for line in project.doit("explain", script=script).stdout.splitlines():
        kind, sep, name = line.partition(": ")
        if sep and kind in kinds:
            kinds[kind].add(name)
    return kinds


def check_next_run(project, must_run, script):
    """``doit explain`` announces, then ``doit`` runs, exactly ``must_run``; then all is up to date."""
    kinds = explained(project, script)
    done = ran(project.doit(script=script).stdout)
    assert done == must_run
    assert kinds["will run"] <= done <= kinds["will run"] | kinds["may run"], kinds
    assert explained(project, not script)["up to date"] == ALL


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("name", list(INPUTS))
def test_the_next_doit_reruns_exactly_what_it_must(project, name, change):
    relative, reader, point, must_run = INPUTS[name]
    path = project.root / relative
    project.cells += 1
    script = project.cells % 2 == 0  # every other cell through the console script
    if change == "touch":
        later = path.stat().st_mtime + 60
        os.utime(path, (later, later))
        check_next_run(project, set(), script)
    elif change in ("edit", "edit with the old mtime"):
        replace(path, *next_edit(project, relative), keep_mtime=change != "edit")
        check_next_run(project, must_run, script)
    else:
        edit_while_running(project, relative, reader, point, must_run, script)


def edit_while_running(project, relative, reader, point, must_run, script):
    """Forget ``reader`` (its first build, as after a failure), edit ``relative`` when its step reaches ``point``."""
    project.doit("forget", reader)
    old, new = next_edit(project, relative)
    marker = project.root.parent / f"edited-{project.cells}"
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
        assert reader in explained(project, script)["will run"]
    check_next_run(project, must_run, not script)


def test_a_module_edited_while_an_earlier_task_runs_is_imported_anew(built, tmp_path):
    """Case 3: both trainings import my_models; an edit during the first reaches the second."""
    built.doit("forget", "train_non_embedding_model", "train_embedding_model")
    proof = tmp_path / "the new build_embedding_model ran"
    old = 'my_hook.reached("build_embedding_model")'
    edit = {
        "point": "build_non_embedding_model", "path": str(built.root / "my_models.py"), "old": old,
        "new": f"{old}\n    open({str(proof)!r}, 'w').close()", "marker": str(tmp_path / "edited"),
    }
    done = built.doit("train_embedding_model", "train_non_embedding_model", env={"TFT_TEST_EDIT": json.dumps(edit)})
    assert ran(done.stdout) == {"train_non_embedding_model", "train_embedding_model"}
    assert proof.exists(), "train_embedding_model ran the my_models imported before the edit"
    explain = built.doit("explain", "train_embedding_model", "train_non_embedding_model", script=True).stdout
    assert "up to date: train_embedding_model" in explain and "up to date: train_non_embedding_model" in explain


HOLD = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.readline()
"""


def test_a_busy_state_database_is_waited_for_not_rebuilt(project):
    """Case 6: another sqlite client holds a write lock on doit's database while `doit list` starts."""
    state = project.artifacts / ".doit-state.sqlite3"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(state)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    listing = project.start("list")
    waiting = listing.stderr.readline()
    assert "is locked by another program; waiting" in waiting
    holder.communicate("\n", timeout=30)
    out, err = listing.communicate(timeout=60)
    assert listing.returncode == 0, err
    assert TRAIN in out and "damaged" not in err
    assert not state.with_name(state.name + ".damaged").exists()
    assert ran(project.doit(script=True).stdout) == set()
