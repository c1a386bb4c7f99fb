"""The seed's command line and `doit graph`, on a fresh small project."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from support import make_project, ran

TFT_TASKS = os.path.join(os.path.dirname(sys.executable), "tft-tasks")
COMMAND = ["--task", "train_non_embedding_model", "--visualize_tasks", "pipeline.svg", "--print_performance_metrics"]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("cli"))


def tft_tasks(project, *args):
    return subprocess.run([TFT_TASKS, *args], cwd=project.root, capture_output=True, text=True)


def svg_words(path):
    root = ET.parse(path).getroot()  # a valid SVG document
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))


def test_invalid_task_is_a_one_line_error(fresh):
    done = tft_tasks(fresh, "--task", "nope")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "train_and_predict_embedding_model" in done.stderr and "clean_directory" in done.stderr


def test_help_lists_the_tasks(fresh):
    done = tft_tasks(fresh, "-h")
    assert done.returncode == 0
    assert "view_transformed_sample_data" in done.stdout and "--visualize_tasks" in done.stdout


def test_graph_before_anything_ran(fresh):
    fresh.doit("graph", "-o", "dag.svg")
    text = svg_words(fresh.root / "dag.svg")
    assert text.count("never run") == 10  # the nine tasks (the seed's and the reference's) and the legend


def test_the_seed_command_runs_draws_and_prints(fresh):
    first = tft_tasks(fresh, *COMMAND)
    assert first.returncode == 0, first.stdout + first.stderr
    assert ran(first.stdout) == {"transform_raw_data", "train_non_embedding_model"}
    text = svg_words(fresh.root / "pipeline.svg")
    for name in ("transform_raw_data", "train_non_embedding_model", "run_transform", "train_model", "label_stats"):
        assert name in text
    assert "caller" in first.stdout and "elapsed_time" in first.stdout and "read_splits" in first.stdout
    assert "status" in first.stdout and "seconds" in first.stdout  # the timing table

    (fresh.root / "pipeline.svg").unlink()
    second = tft_tasks(fresh, *COMMAND)
    assert second.returncode == 0
    assert ran(second.stdout) == set()
    assert "run_transform" in svg_words(fresh.root / "pipeline.svg")
    assert "up to date" in second.stdout and "train_model" in second.stdout


def test_graph_after_a_run_and_after_clean(fresh):
    fresh.doit("graph", "-o", "dag.svg")
    text = svg_words(fresh.root / "dag.svg")
    assert "transform_raw_data" in text and "last ran" in text
    assert text.count("never run") == 10 - 2  # all but the transform and the training
    done = tft_tasks(fresh, "--task", "clean_directory")
    assert done.returncode == 0
    fresh.doit("graph", "-o", "dag.svg")
    assert svg_words(fresh.root / "dag.svg").count("never run") == 10
    assert (fresh.root / "data" / "train.csv").is_file()


OTHER_DODO = '''
def task_hello():
    """Write hello.txt from names.txt."""
    return {"actions": ["cp names.txt hello.txt"], "file_dep": ["names.txt"], "targets": ["hello.txt"],
            "clean": True}
'''


def test_another_doit_project_gets_doits_own_run_and_clean(tmp_path):
    """tft_build's run and clean are entry points, so every doit project in this environment gets them: one
    that is not tft_build's runs as with doit alone (no lock, no artifacts, no timing table, its own clean)."""
    (tmp_path / "dodo.py").write_text(OTHER_DODO)
    (tmp_path / "names.txt").write_text("hello\n")

    def doit(*args):
        done = subprocess.run([sys.executable, "-m", "doit", *args], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done

    cold = doit()
    assert cold.stdout == ".  hello\n" and (tmp_path / "hello.txt").read_text() == "hello\n"
    assert doit().stdout == "-- hello\n"
    assert doit("clean").stdout == "hello - removing file 'hello.txt'\n" and not (tmp_path / "hello.txt").exists()
    assert not any(p.name.startswith((".tft_build", "artifacts")) for p in tmp_path.iterdir())
