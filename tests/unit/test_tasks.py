"""The task graph, loaded without TensorFlow: names, docs, deps, targets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import REFERENCE_TASK, SEED_TASKS, TASKS

from tft_build import tasks
from tft_build.config.settings import load_config
from tft_build.engine.uptodate import code_unchanged
from tft_build.report import history

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path):
    """The repository's config with artifacts in a temp dir."""
    override = tmp_path / "override.toml"
    override.write_text(f'artifacts_dir = "{tmp_path / "artifacts"}"\n')
    return load_config(ROOT, {"TFT_BUILD_CONFIG": str(override)})


def all_tasks(cfg, monkeypatch):
    monkeypatch.setattr(tasks, "load_config", lambda project_dir: cfg)
    doit_config, creators = tasks.load_tasks(ROOT)
    return doit_config, {name[len("task_"):]: creator() for name, creator in creators.items()}


def test_the_seed_tasks_and_the_reference_with_docs(project, monkeypatch):
    doit_config, defined = all_tasks(project, monkeypatch)
    assert sorted(defined) == sorted(TASKS) and set(SEED_TASKS) < set(defined)
    for name, task in defined.items():
        assert task["doc"].strip() and "\n" not in task["doc"].strip(), name
    assert doit_config["backend"] == "tft_sqlite3"  # doit's sqlite3, guarded (tft_build.engine.statedb)
    assert sorted(doit_config["default_tasks"]) == [
        "train_and_predict_embedding_model",
        "train_and_predict_non_embedding_model",
    ]


def test_targets_live_under_artifacts_and_link_consumers(project, monkeypatch):
    _, defined = all_tasks(project, monkeypatch)
    produced = {}
    for name, task in defined.items():
        for target in task.get("targets", []):
            assert Path(target).is_relative_to(project.artifacts_dir), target
            produced[target] = name
    assert defined["view_original_sample_data"]["uptodate"] == [False]
    # Each consumer's file_dep strings equal its producers' targets exactly.
    producers = {
        name: {produced[dep] for dep in task["file_dep"] if dep in produced} for name, task in defined.items()
    }
    assert producers["transform_raw_data"] == set()
    assert producers["train_embedding_model"] == {"transform_raw_data"}
    assert producers[REFERENCE_TASK] == {"transform_raw_data"}
    assert producers["train_and_predict_embedding_model"] == {
        "transform_raw_data", "train_embedding_model", REFERENCE_TASK,
    }
    assert producers["view_transformed_sample_data"] == {"preprocess_raw_data", "transform_raw_data"}


def code_targets(task):
    return next(check.targets for check in task["uptodate"] if isinstance(check, code_unchanged))


def test_data_is_file_dep_and_code_is_fingerprinted(project, monkeypatch):
    _, defined = all_tasks(project, monkeypatch)
    assert str(ROOT / "data" / "train.csv") in defined["transform_raw_data"]["file_dep"]
    assert project.preprocessing_fn in code_targets(defined["transform_raw_data"])
    assert project.row_filter in code_targets(defined["transform_raw_data"])
    assert project.preprocessing_fn not in code_targets(defined["preprocess_raw_data"])
    assert code_targets(defined["train_non_embedding_model"]) == (
        "tft_build.steps.train:train_model",
        "tft_build.examples.taxi.models:build_non_embedding_model",
    )
    assert code_targets(defined[REFERENCE_TASK]) == ("tft_build.steps.reference:train_reference_model",)
    for task in defined.values():
        assert not [dep for dep in task.get("file_dep", []) if dep.endswith(".py")]


def test_the_reference_reads_no_setting_of_the_networks(project, monkeypatch):
    """Training settings (epochs, batch size, the builders) rerun the networks, not the reference model."""
    _, defined = all_tasks(project, monkeypatch)
    check = next(c for c in defined[REFERENCE_TASK]["uptodate"] if hasattr(c, "settings"))
    assert set(check.settings) == {"label", "objective", "seed", "validation_fraction", "versions"}
    assert defined[REFERENCE_TASK]["meta"]["outputs"] == [str(project.artifacts_dir / "reference")]


def test_every_task_forgets_its_last_run_on_clean(project, monkeypatch):
    _, defined = all_tasks(project, monkeypatch)
    for name, task in defined.items():
        forget = [args for action, args in task["clean"] if action is history.forget_status]
        assert forget == [[project.artifacts_dir, name]]


def test_doit_list_imports_no_tensorflow(tmp_path):
    """`doit list --all` shows the tasks without loading TF, TFT, Beam or scikit-learn."""
    code = (
        "import sys\n"
        "from doit.doit_cmd import DoitMain\n"
        "from doit.cmd_base import ModuleTaskLoader\n"
        "import dodo\n"
        "status = DoitMain(ModuleTaskLoader(dodo)).run(['list', '--all'])\n"
        "heavy = [m for m in ('tensorflow', 'tensorflow_transform', 'apache_beam', 'sklearn') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(status)\n"
    )
    override = tmp_path / "override.toml"
    override.write_text(f'artifacts_dir = "{tmp_path / "artifacts"}"\n')
    env = {**os.environ, "TFT_BUILD_CONFIG": str(override)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY []" in out
    for name in TASKS:
        line = next(line for line in out.splitlines() if line.split() and line.split()[0] == name)
        assert len(line.split()) > 1, f"{name} has no doc"
