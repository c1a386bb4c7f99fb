"""Shared fixtures: one small pipeline project, built once per test session.

The end-to-end tests run the real doit tasks (Beam, tf.Transform, Keras) in a
subprocess, on a few hundred generated rides in a temp dir, with the project's
own ``dodo.py`` and a user copy of the taxi ``preprocessing_fn`` that tests
may edit.
"""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tft_build import datagen

ROOT = Path(__file__).resolve().parent.parent

SMALL_CONFIG = """\
[tool.tft_build]
preprocessing_fn = "my_preprocessing:preprocessing_fn"
epochs = 4
patience = 2
batch_size = 64
"""


@dataclass
class Project:
    """A pipeline project in a temp dir, and a way to run doit in it."""

    root: Path

    @property
    def artifacts(self):
        return self.root / "artifacts"

    def doit(self, *args, check=True):
        """Run ``doit ARGS`` here; returns the finished process (output as text)."""
        env = {k: v for k, v in os.environ.items() if k != "TFT_BUILD_CONFIG"}
        done = subprocess.run(
            [sys.executable, "-m", "doit", *args], cwd=self.root, env=env, capture_output=True, text=True
        )
        if check and done.returncode != 0:
            raise AssertionError(f"doit {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done


def ran(output):
    """Names of the tasks doit executed (``.  name`` lines)."""
    return {line[3:].strip() for line in output.splitlines() if line.startswith(".  ")}


def skipped(output):
    """Names of the tasks doit found up to date (``-- name`` lines)."""
    return {line[3:].strip() for line in output.splitlines() if line.startswith("-- ")}


def make_project(root, train_rows=600, eval_rows=150, seed=11):
    """A project dir: generated data, dodo.py, config, a user preprocessing module."""
    root.mkdir(parents=True, exist_ok=True)
    datagen.write_dataset(root / "data", train_rows, eval_rows, seed, resamples=20)
    shutil.copy(ROOT / "dodo.py", root / "dodo.py")
    shutil.copy(ROOT / "tft_build" / "preprocessing.py", root / "my_preprocessing.py")
    (root / "pyproject.toml").write_text(SMALL_CONFIG)
    return Project(root)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A small project after a cold ``doit``; the finished process is ``.cold``."""
    project = make_project(tmp_path_factory.mktemp("pipeline"))
    project.cold = project.doit()
    return project
