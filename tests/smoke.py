"""The smoke subset that CI runs on every other Python it finds (``.ci/run``), against an install.

Not a ``test_*.py`` file, so the main run does not collect it (it covers
nothing the e2e tests do not): ``.ci/run`` installs the project, not
editable, into a fresh venv of each other Python and runs this file there
with that venv's ``pytest``, from the checkout, so that the tft_build the
tests import and doit runs is the installed one (checked first). On small
generated data: a cold ``doit``, a no-op ``doit``, one code edit rerunning
what it must, and the serving model loaded in a plain process.

    <venv>/bin/pytest -o addopts="" tests/smoke.py
"""

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from support import make_project, ran

import tft_build

ALL = {
    "transform_raw_data", "train_reference_model", "train_non_embedding_model", "train_embedding_model",
    "train_and_predict_non_embedding_model", "train_and_predict_embedding_model",
}
SERVE = """
import sys
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
out = model.signatures["serving_raw"](
    key=tf.constant(["a"]), pickup_datetime=tf.constant(["2014-05-01 08:15:00 UTC"]),
    pickup_longitude=tf.constant([-73.99]), pickup_latitude=tf.constant([40.75]),
    dropoff_longitude=tf.constant([-73.97]), dropoff_latitude=tf.constant([40.78]),
    passenger_count=tf.constant([1.0]))
assert "tft_build" not in sys.modules
print(float(out["prediction"].numpy().reshape(-1)[0]))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("smoke"), train_rows=300, eval_rows=80)
    project.cold = project.doit()
    return project


def test_the_installed_tft_build_runs():
    installed = Path(sysconfig.get_paths()["purelib"])
    assert installed in Path(tft_build.__file__).parents, tft_build.__file__


def test_a_cold_build_then_nothing(project):
    assert ran(project.cold.stdout) == ALL
    metrics = json.loads((project.artifacts / "metrics" / "embedding.json").read_text())
    assert 0 < metrics["rmse"] < metrics["baseline_rmse"]
    assert ran(project.doit().stdout) == set()


def test_a_code_edit_reruns_what_uses_it(project):
    models = project.root / "my_models.py"
    old = "    parts = dense_parts(features, inputs) + one_hot_parts(features, inputs)\n"  # the first: non_embedding's
    assert old in models.read_text()
    models.write_text(models.read_text().replace(old, "    parts = dense_parts(features, inputs)\n", 1))
    explain = project.doit("explain").stdout
    assert "code changed: my_models:build_non_embedding_model" in explain
    assert ran(project.doit().stdout) == {"train_non_embedding_model", "train_and_predict_non_embedding_model"}


def test_the_serving_model_loads_in_a_plain_process(project, tmp_path):
    done = subprocess.run([sys.executable, "-c", SERVE, str(project.artifacts / "serving" / "embedding")],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert 0 < float(done.stdout.split()[-1]) < 200
