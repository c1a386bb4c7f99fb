"""What the tests share: a small copy of the taxi project, and running doit in it.

The end-to-end tests run the real doit tasks (Beam, tf.Transform, Keras) in a
subprocess, on a few hundred generated rides in a temp dir, with the project's
own ``dodo.py``, the taxi example's settings from its ``pyproject.toml`` and
user copies of the taxi ``preprocessing_fn`` (calling a helper in another
module) and model builders, which tests may edit.
"""

import ast
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tft_build.config.render import toml_key, toml_value
from tft_build.examples.taxi import datagen

ROOT = Path(__file__).resolve().parent.parent
DOIT_SCRIPT = Path(sys.executable).parent / "doit"  # the console script pip installed beside this Python
# The seed's (tft_tasks') task names, which its instructions use: they keep working.
SEED_TASKS = [
    "preprocess_raw_data",
    "transform_raw_data",
    "view_original_sample_data",
    "view_transformed_sample_data",
    "train_non_embedding_model",
    "train_embedding_model",
    "train_and_predict_non_embedding_model",
    "train_and_predict_embedding_model",
]
REFERENCE_TASK = "train_reference_model"  # the reference model's, which the seed had not
TASKS = SEED_TASKS + [REFERENCE_TASK]  # every task of the taxi project
NO_CACHE = {"TFT_BUILD_CACHE_DIR": ""}  # for tests of what a run does: a build done before would be restored


def taxi_config(models=None, **settings):
    """The text of a ``pyproject.toml`` with the taxi example's settings (the repo's own),
    ``settings`` added or replaced and, given ``models``, that table instead of the example's."""
    table = {**tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["tft_build"], **settings}
    models = models or table["models"]
    scalars = {key: value for key, value in table.items() if key not in ("columns", "models")}
    lines = ["[tool.tft_build]"] + [f"{toml_key(key)} = {toml_value(value)}" for key, value in scalars.items()]
    for name, value in (("columns", table["columns"]), ("models", models)):
        lines += ["", f"[tool.tft_build.{name}]"] + [f"{toml_key(key)} = {toml_value(v)}" for key, v in value.items()]
    return "\n".join(lines) + "\n"


# The end-to-end tests' project: few epochs, small batches, the user's code.
SMALL_CONFIG = taxi_config(
    {"non_embedding": "my_models:build_non_embedding_model", "embedding": "my_models:build_embedding_model"},
    preprocessing_fn="my_preprocessing:preprocessing_fn", epochs=4, patience=2, batch_size=64,
)

HELPERS = '''"""Helpers of the test project's preprocessing_fn, in a module of their own."""

import tensorflow as tf


def rush_hour(hour):
    """1.0 for pickups in the evening rush (16:00 to 19:59), else 0.0."""
    return tf.cast((hour >= 16) & (hour < 20), tf.float32)
'''

# The user's code calls this at points a step reaches, so a test can edit a file
# exactly while a task runs (no racing a sleep): TFT_TEST_EDIT names the point,
# the file, the text to replace and a marker file that makes it happen once.
HOOK = '''"""A test hook: make one edit when the user's code reaches a named point."""

import json
import os


def reached(point):
    """Apply the edit of $TFT_TEST_EDIT if it is for ``point`` and not done yet."""
    spec = os.environ.get("TFT_TEST_EDIT")
    edit = json.loads(spec) if spec else None
    if not edit or edit["point"] != point or os.path.exists(edit["marker"]):
        return
    open(edit["marker"], "w").close()
    with open(edit["path"]) as f:
        text = f.read()
    with open(edit["path"], "w") as f:
        f.write(text.replace(edit["old"], edit["new"], 1))
'''

ROW_FILTER = '''"""The taxi row filter, reaching the test hook on each batch it reads."""

import my_hook
from tft_build.examples.taxi.rowfilter import is_clean_ride


def row_filter(row):
    """The rows to learn from: clean rides."""
    my_hook.reached("row_filter")
    return is_clean_ride(row)
'''

UNUSED = '''

def not_called(x):
    """A helper that preprocessing_fn does not use."""
    return x + 1
'''


def user_preprocessing():
    """The taxi preprocessing_fn as a user's copy, with a helper from another module."""
    source = (ROOT / "tft_build" / "examples" / "taxi" / "preprocessing.py").read_text()
    imports = "import tensorflow as tf\n\nimport my_helpers\nimport my_hook\n"
    source = source.replace("import tensorflow as tf\n", imports, 1)
    source = source.replace(
        "    return features\n", '    features["rush_hour"] = my_helpers.rush_hour(hour)\n    return features\n', 1
    )
    return with_hook(source, "preprocessing_fn") + UNUSED


def user_models():
    """The taxi model builders as a user's copy, each reaching the test hook."""
    source = (ROOT / "tft_build" / "examples" / "taxi" / "models.py").read_text()
    source = source.replace("\nfrom tft_build.generic.models", "\nimport my_hook\nfrom tft_build.generic.models", 1)
    for builder in ("build_non_embedding_model", "build_embedding_model"):
        source = with_hook(source, builder)
    return source


def with_hook(source, name):
    """``source`` with a call of the test hook at the start of the body of function ``name``
    (after its docstring)."""
    function = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name)
    lines = source.split("\n")
    lines.insert(function.body[0].end_lineno, f'    my_hook.reached("{name}")')
    return "\n".join(lines)


@dataclass
class Project:
    """A pipeline project in a temp dir, and a way to run doit in it."""

    root: Path
    env: dict = field(default_factory=dict)  # the environment of every doit run here, besides the user's

    @property
    def artifacts(self):
        return self.root / "artifacts"

    @property
    def cache(self):
        """This project's own build cache (beside it: a copy of the project does not share it)."""
        return self.root.parent / f"{self.root.name}.cache"

    def environment(self, env=None):
        base = {k: v for k, v in os.environ.items() if k != "TFT_BUILD_CONFIG"}
        return {**base, "XDG_CACHE_HOME": str(self.cache), **self.env, **(env or {})}

    def doit(self, *args, check=True, env=None, script=False):
        """Run ``doit ARGS`` here (``python -m doit``, or the ``doit`` console script with
        ``script``); returns the finished process (output as text)."""
        command = [str(DOIT_SCRIPT)] if script else [sys.executable, "-m", "doit"]
        done = subprocess.run(
            [*command, *args], cwd=self.root, env=self.environment(env), capture_output=True, text=True,
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
    (root / "my_hook.py").write_text(HOOK)
    (root / "my_filter.py").write_text(ROW_FILTER)
    (root / "my_models.py").write_text(user_models())
    (root / "pyproject.toml").write_text(SMALL_CONFIG)
    return Project(root)


def tree_hashes(root):
    """Every file under root (doit's state, reports and traces aside) -> its content hash.

    A SavedModel's ``fingerprint.pb`` holds a random id of each save, so it
    and the manifest lines about it are left out; so is the transform_fn's
    ``saved_model.pb``, whose vocabulary tables TF names after the temp dir
    the graph was built in: its meaning is compared instead, by the graph
    digest in ``transform_fn.digest.json`` (part of the tree).
    """
    skip = ("reports", "traces")
    hashes = {}
    for p in sorted(Path(root).rglob("*")):
        if not p.is_file() or p.name.startswith((".doit-state", ".tft_build")) or p.name == "fingerprint.pb":
            continue
        if p.name == "saved_model.pb" and p.parent.name == "transform_fn":
            continue
        if p.relative_to(root).parts[0] in skip:
            continue
        data = p.read_bytes()
        if p.name == "MANIFEST.json":
            manifest = json.loads(data)
            manifest["files"] = {k: v for k, v in manifest["files"].items()
                                 if not k.endswith(("fingerprint.pb", "transform_fn/saved_model.pb"))}
            data = json.dumps(manifest, sort_keys=True).encode()
        hashes[str(p.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return hashes


def leftovers(artifacts):
    """Staging or Beam temp dirs that a failed or killed run left behind."""
    return [p for p in artifacts.rglob("*") if ".tmp-" in p.name or ".old-" in p.name or "beam-temp" in p.name]


def wait_for(predicate, timeout=120, step=0.01):
    """Whether ``predicate()`` became true within ``timeout`` seconds, asked every ``step``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
