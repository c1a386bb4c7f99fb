"""The bad inputs and faults of issue 16, each done for real on one built project.

Each failure must be one line that says what is wrong, where and what to do,
with a non-zero exit status, the previous artifacts byte for byte as they
were and nothing left behind; the two warnings are one line each and do not
fail. The tests share one project whose transform was built once (the
folder with brackets is a copy of it, whose one build also shows the skip
policy and the warnings); the one that deletes the artifacts comes last.
"""

import contextlib
import importlib.metadata
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from support import NO_CACHE, Project, leftovers, make_project, ran, tree_hashes

from tft_build.engine.lock import lock_path

DUMPDB = 'dumpdb = "tft_build.commands.dumpdb:DumpState"'


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A small project whose transform was built once."""
    project = make_project(tmp_path_factory.mktemp("hardened"), train_rows=300, eval_rows=80)
    project.env = NO_CACHE
    if "dumpdb" not in {point.name for point in importlib.metadata.entry_points(group="doit.COMMAND")}:
        # an install made before the command was: name it as pyproject.toml's entry point does
        with open(project.root / "pyproject.toml", "a") as f:
            f.write(f"\n[tool.doit.plugins.command]\n{DUMPDB}\n")
    project.doit("transform_raw_data")
    project.good_train = (project.root / "data" / "train.csv").read_bytes()
    return project


@pytest.fixture
def restore(project):
    yield
    (project.root / "data" / "train.csv").write_bytes(project.good_train)


def configured(project, tmp_path, text):
    """The environment of a run with the settings ``text`` (TOML) on top of the project's."""
    config = tmp_path / "case.toml"
    config.write_text(text)
    return {"TFT_BUILD_CONFIG": str(config)}


def fails_in_one_line(project, *args, env=None, expect=(), artifacts=None):
    """Run ``doit ARGS``, which must fail: the one line that holds every part of ``expect``."""
    artifacts = artifacts or project.artifacts
    before = tree_hashes(artifacts)
    done = project.doit(*args, check=False, env=env)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "Traceback" not in out and "[while running" not in out, out
    lines = [line for line in out.splitlines() if all(part in line for part in expect)]
    assert len(lines) == 1, (expect, out)
    assert tree_hashes(artifacts) == before
    assert leftovers(artifacts) == []
    return lines[0]


def train_lines(project):
    return project.good_train.decode().splitlines()


def test_dumpdb_prints_the_state(project):
    """First: a failed run removes its task's record, as doit does."""
    done = project.doit("dumpdb")
    assert "Traceback" not in done.stderr
    assert "transform_raw_data -> {" in done.stdout and str(project.artifacts / ".doit-state.sqlite3") in done.stdout


def test_an_unbalanced_quote_is_named_by_its_line(project, restore):
    lines = train_lines(project)
    lines[5] = lines[5].replace(",", ',"', 1)  # line 6: a quote opens the fare and never closes
    (project.root / "data" / "train.csv").write_text("\n".join(lines) + "\n")
    fails_in_one_line(project, "transform_raw_data", expect=[
        "train.csv:6: a quoted field on this line runs on to line 301", "check the quotes on line 6",
    ])


def test_a_field_over_128_kib_is_read_and_the_bad_row_after_it_named(project, restore):
    lines = train_lines(project)
    lines[2] = "k" * 200_000 + lines[2][lines[2].index(","):]
    lines[9] = ",".join(lines[9].split(",")[:2])
    (project.root / "data" / "train.csv").write_text("\n".join(lines) + "\n")
    fails_in_one_line(project, "transform_raw_data", expect=["train.csv:10: 2 fields, expected 8"])


@contextlib.contextmanager
def tmpfs(path, options):
    """A tmpfs mounted at ``path`` for the block (the test is skipped where mounting is not allowed)."""
    path.mkdir(exist_ok=True)
    if not shutil.which("mount"):
        pytest.skip("no mount command here")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_an_artifacts_dir_that_is_a_file(project, tmp_path):
    (tmp_path / "afile").write_text("mine")
    env = configured(project, tmp_path, f'artifacts_dir = "{tmp_path / "afile"}"\n')
    fails_in_one_line(project, "transform_raw_data", env=env, expect=[
        "setting 'artifacts_dir'", "afile is a file, not a dir", "set another artifacts_dir",
    ])
    assert (tmp_path / "afile").read_text() == "mine"


def test_an_artifacts_dir_on_a_read_only_filesystem(project, tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        env = configured(project, tmp_path, f'artifacts_dir = "{ro / "artifacts"}"\n')
        fails_in_one_line(project, "transform_raw_data", env=env, expect=[
            "setting 'artifacts_dir'", "(Read-only file system)", "set artifacts_dir to a dir you can write",
        ])


@pytest.mark.parametrize("args, expect", [
    ('["--direct_num_workers=abc"]', "argument --direct_num_workers: invalid int value: 'abc'; fix the option"),
    ('["--runner=Nope"]', "Unexpected pipeline runner: Nope"),
])
def test_bad_beam_options_name_the_setting(project, tmp_path, args, expect):
    env = configured(project, tmp_path, f"beam_pipeline_args = {args}\n")
    line = fails_in_one_line(project, "transform_raw_data", env=env, expect=["setting 'beam_pipeline_args'", expect])
    assert line.startswith(str(tmp_path / "case.toml"))


FLOAT_FILTER = '''"""A row filter that returns numbers, not a mask."""


def row_filter(row):
    """The passenger count, where a mask (passenger_count > 0) was meant."""
    return row["passenger_count"] * 1.0
'''


def test_a_row_filter_returning_floats_is_refused(project, tmp_path):
    (project.root / "my_float_filter.py").write_text(FLOAT_FILTER)
    env = configured(project, tmp_path, 'row_filter = "my_float_filter:row_filter"\n')
    fails_in_one_line(project, "transform_raw_data", env=env, expect=[
        "setting 'row_filter'", "my_float_filter:row_filter returned float64 values, not booleans", "return a mask",
    ])


@pytest.mark.parametrize("kind, expect", [
    ("directory", "train.csv: a directory, not a CSV file"), ("fifo", "train.csv: a named pipe (FIFO)"),
])
def test_a_directory_or_a_fifo_named_as_data(project, tmp_path, kind, expect):
    path = tmp_path / "train.csv"
    path.mkdir() if kind == "directory" else os.mkfifo(path)
    env = configured(project, tmp_path, f'train_data = "{path}"\n')
    fails_in_one_line(project, "transform_raw_data", env=env, expect=[expect, "check setting 'train_data'"])


def test_a_full_disk_names_the_dir(project, tmp_path):
    with tmpfs(tmp_path / "small", "size=4m") as disk:
        shutil.copytree(project.artifacts, disk / "artifacts")
        env = configured(project, tmp_path, f'artifacts_dir = "{disk / "artifacts"}"\n')
        project.doit("forget", "transform_raw_data", env=env)
        free = shutil.disk_usage(disk).free
        with open(disk / "filler", "wb") as f:
            f.truncate(0)
            os.posix_fallocate(f.fileno(), 0, free - 200 * 1024)  # 200 KiB left: less than the transform writes
        fails_in_one_line(project, "transform_raw_data", env=env, artifacts=disk / "artifacts", expect=[
            f"transform_raw_data: no space left on the device of {disk / 'artifacts'}", "free some space there",
        ])


def test_explain_into_a_pipe_that_closes(project):
    process = subprocess.Popen(
        [sys.executable, "-m", "doit", "explain"], cwd=project.root, env=project.environment(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    process.stdout.close()  # `doit explain | head`, with head gone before the first line
    err = process.stderr.read()
    assert process.wait() == 0 and err == ""


def test_an_ignored_task_is_explained_as_doit_runs_it(project):
    project.doit("ignore", "preprocess_raw_data")
    try:
        explained = project.doit("explain", "preprocess_raw_data").stdout
        assert explained.splitlines()[0] == "ignored: preprocess_raw_data"
        assert "doit forget preprocess_raw_data" in explained
        assert ran(project.doit("preprocess_raw_data").stdout) == set()  # doit skips it, as explained
    finally:
        project.doit("forget", "preprocess_raw_data")


def test_a_project_in_a_folder_with_brackets_builds_skipping_a_bad_row_with_two_warnings(project, tmp_path):
    """Its data is found (the brackets of its own path are no pattern); its artifacts must live elsewhere,
    since TensorFlow globs the paths it loads: one line says so. Built there from one file that is both
    train_data and eval_data, with one good row and one bad row: ``on_bad_rows = "skip"`` names the
    quarantine file where it ends up, and each warning is one line that does not fail the build."""
    copy = tmp_path / "my proj [v2]"
    shutil.copytree(project.root, copy, symlinks=True)
    moved = Project(copy, env=project.env)
    fails_in_one_line(moved, "transform_raw_data", expect=[
        "setting 'artifacts_dir'", "has *, ? or [ in its path", "set artifacts_dir to a path without them",
    ])
    one = copy / "data" / "one.csv"
    one.write_text(train_lines(project)[0] + "\nk1,7.5,2014-05-01 08:15:00 UTC,-73.99,40.75,-73.97,40.78,1\nk2,abc\n")
    elsewhere = tmp_path / "artifacts"
    settings = ['train_data = "data/one.csv"', 'eval_data = "data/one.csv"', f'artifacts_dir = "{elsewhere}"',
                'on_bad_rows = "skip"']
    (copy / "one.toml").write_text("\n".join(settings) + "\n")
    done = moved.doit("transform_raw_data", env={"TFT_BUILD_CONFIG": str(copy / "one.toml")})
    quarantine = elsewhere / "transformed" / "quarantine.csv"
    assert f"2 malformed rows skipped; they are listed in {quarantine}" in done.stdout  # once per split
    assert [line.split(",")[1] for line in quarantine.read_text().splitlines()[1:]] == ["3", "3"]
    warnings = [line for line in done.stdout.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2, done.stdout
    assert f"{one} is in both train_data and eval_data" in warnings[0] and "rows of their own" in warnings[0]
    assert "only 1 training rows pass the row filter" in warnings[1] and "give train_data more rows" in warnings[1]
    assert leftovers(elsewhere) == []


def test_deleting_the_artifacts_while_a_build_runs_keeps_its_lock(project):
    """Last: it deletes the project's artifacts."""
    project.doit("forget", "transform_raw_data")
    first = project.start("transform_raw_data")
    try:
        assert wait_for_holder(project, first.pid)
        shutil.rmtree(project.artifacts)
        second = project.doit("--no-wait", "transform_raw_data", check=False)
    finally:
        first.send_signal(signal.SIGINT)  # what the first build does next is the unit tests' (test_statedb)
        out, err = first.communicate(timeout=300)
    assert second.returncode != 0 and "Traceback" not in second.stderr
    assert f"is in use by pid {first.pid}" in second.stderr and "not waiting (--no-wait)" in second.stderr
    assert first.returncode == 130 and "Traceback" not in out + err
    assert leftovers(project.artifacts) == []


def wait_for_holder(project, pid, timeout=120):
    """Whether process ``pid`` came to hold the project's lock within ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        path = lock_path(project.artifacts)
        if path.exists() and f'"pid": {pid}' in path.read_text():
            return True
        time.sleep(0.01)
    return False
