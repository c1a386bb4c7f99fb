"""Shared fixtures: one small pipeline project, built once per test session.

The end-to-end tests run the real doit tasks (Beam, tf.Transform, Keras) in a
subprocess, on a few hundred generated rides in a temp dir, with the project's
own ``dodo.py`` and user copies of the taxi ``preprocessing_fn`` (calling a
helper in another module) and model builders, which tests may edit.
"""

import os
import shutil
import signal
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

[tool.tft_build.models]
non_embedding = "my_models:build_non_embedding_model"
embedding = "my_models:build_embedding_model"
"""

HELPERS = '''"""Helpers of the test project's preprocessing_fn, in a module of their own."""

import tensorflow as tf


def rush_hour(hour):
    """1.0 for pickups in the evening rush (16:00 to 19:59), else 0.0."""
    return tf.cast((hour >= 16) & (hour < 20), tf.float32)
'''

UNUSED = '''

def not_called(x):
    """A helper that preprocessing_fn does not use."""
    return x + 1
'''


def user_preprocessing():
    """The taxi preprocessing_fn as a user's copy, with a helper from another module."""
    source = (ROOT / "tft_build" / "preprocessing.py").read_text()
    source = source.replace("import tensorflow as tf\n", "import tensorflow as tf\n\nimport my_helpers\n", 1)
    source = source.replace(
        "    return features\n", '    features["rush_hour"] = my_helpers.rush_hour(hour)\n    return features\n', 1
    )
    return source + UNUSED


@dataclass
class Project:
    """A pipeline project in a temp dir, and a way to run doit in it."""

    root: Path

    @property
    def artifacts(self):
        return self.root / "artifacts"

    def environment(self, env=None):
        base = {k: v for k, v in os.environ.items() if k != "TFT_BUILD_CONFIG"}
        return {**base, **(env or {})}

    def doit(self, *args, check=True, env=None):
        """Run ``doit ARGS`` here; returns the finished process (output as text)."""
        done = subprocess.run(
            [sys.executable, "-m", "doit", *args], cwd=self.root, env=self.environment(env),
            capture_output=True, text=True,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"doit {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def start(self, *args, env=None):
        """Start ``doit ARGS`` here in the background; the running process.

        Ctrl-C (SIGINT) reaches it as in a terminal even when pytest itself was
        started in the background, where the shell makes it ignore SIGINT (and
        its children would inherit that).
        """
        return subprocess.Popen(
            [sys.executable, "-m", "doit", *args], cwd=self.root, env=self.environment(env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def ran(output):
    """Names of the tasks doit executed (``.  name`` lines)."""
    return {line[3:].strip() for line in output.splitlines() if line.startswith(".  ")}


def skipped(output):
    """Names of the tasks doit found up to date (``-- name`` lines)."""
    return {line[3:].strip() for line in output.splitlines() if line.startswith("-- ")}


def make_project(root, train_rows=600, eval_rows=150, seed=11):
    """A project dir: generated data, dodo.py, config, the user's preprocessing and models."""
    root.mkdir(parents=True, exist_ok=True)
    datagen.write_dataset(root / "data", train_rows, eval_rows, seed, resamples=20)
    shutil.copy(ROOT / "dodo.py", root / "dodo.py")
    (root / "my_preprocessing.py").write_text(user_preprocessing())
    (root / "my_helpers.py").write_text(HELPERS)
    shutil.copy(ROOT / "tft_build" / "models.py", root / "my_models.py")
    (root / "pyproject.toml").write_text(SMALL_CONFIG)
    return Project(root)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A small project after a cold ``doit``; the finished process is ``.cold``."""
    project = make_project(tmp_path_factory.mktemp("pipeline"))
    project.cold = project.doit()
    return project
