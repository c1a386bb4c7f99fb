"""Your own data, end to end: two generated data sets that are not taxi rides.

``houses`` (regression) runs from a hand-written ``tft_build.toml`` and a user
module ``my_pipeline.py`` (its own preprocessing_fn, helper and model
builder); ``churn`` (classification) runs the README's "Use your own data"
walkthrough as written: ``tft-tasks init-config`` on headerless CSVs, its
output used as is. Both have string features with missing values and integer
features; each also runs in the other header variant. Nothing under
``tft_build/`` is touched.
"""

import csv
import json
import re
import shutil
import subprocess

import pytest
from support import REFERENCE_TASK, ROOT, Project, ran

from tft_build.examples import exampledata

ALL_TASKS = (
    "train_and_predict_default_model", "train_and_predict_linear_model",
    "view_original_sample_data", "view_transformed_sample_data",
)
VIEWS = {"view_original_sample_data", "view_transformed_sample_data"}  # they always run

HOUSES_CONFIG = """\
train_data = "data/train-*.csv"
eval_data = "data/eval.csv"
header = {header}
label = "price"
key_column = "id"
preprocessing_fn = "my_pipeline:preprocessing_fn"
row_filter = "my_pipeline:keep_row"
noise_floor_file = ""
epochs = 8
patience = 3
slices = ["neighborhood", "area_m2"]

[columns]
id = "string"
neighborhood = {{ type = "string", default = "" }}
rooms = "int"
area_m2 = "float"
year_built = {{ type = "int", default = 1970 }}
garage = {{ type = "string", default = "unknown" }}
price = "float"

[models]
default = "tft_build.generic.models:build_default_model"
linear = "my_pipeline:build_linear_model"
"""

HOUSES_PIPELINE = '''"""The houses preprocessing_fn, row filter and a model of the user's own."""

import tensorflow as tf
import tf_keras as keras

from tft_build import generic, models


def age(year_built):
    """Years since the house was built."""
    return tf.cast(2025 - year_built, tf.float32)


def preprocessing_fn(inputs, cfg):
    """Features of a house sale."""
    return {
        "price": inputs["price"],
        "neighborhood": generic.category(inputs["neighborhood"]),
        "rooms": generic.category(inputs["rooms"]),
        "area_m2": generic.numeric(inputs["area_m2"]),
        "age": generic.numeric(age(inputs["year_built"])),
        "garage": generic.category(inputs["garage"]),
    }


def keep_row(row):
    """Houses with a positive area."""
    return row["area_m2"] > 0


def build_linear_model(features, label_stats, cfg):
    """A linear model on the same inputs."""
    inputs = models.model_inputs(features)
    parts = models.dense_parts(features, inputs) + models.one_hot_parts(features, inputs)
    x = keras.layers.Concatenate()(parts)
    output = keras.layers.Rescaling(label_stats["std"], offset=label_stats["mean"])(keras.layers.Dense(1)(x))
    model = keras.Model(inputs=inputs, outputs=output)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse",
                  metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
    return model
'''


def houses_project(root, header):
    """The houses data with the user's config and module in ``root``."""
    root.mkdir(parents=True)
    exampledata.write_dataset("houses", root / "data", 900, 200, seed=3, header=header, shards=2)
    (root / "tft_build.toml").write_text(HOUSES_CONFIG.format(header=str(header).lower()))
    (root / "my_pipeline.py").write_text(HOUSES_PIPELINE)
    shutil.copy(ROOT / "dodo.py", root / "dodo.py")
    project = Project(root)
    project.cold = project.doit(*ALL_TASKS)
    return project


@pytest.fixture(scope="session")
def houses(tmp_path_factory):
    return houses_project(tmp_path_factory.mktemp("own") / "houses", header=True)


def walkthrough_commands():
    """The shell lines of the README's "Use your own data" walkthrough, as written."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use your own data", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="session")
def churn(tmp_path_factory):
    """The walkthrough's project, after running its commands in a fresh dir."""
    root = tmp_path_factory.mktemp("walkthrough")
    env = Project(root).environment()
    done = subprocess.run(["bash", "-e", "-c", walkthrough_commands()], cwd=root, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    project = Project(root / "churn")
    project.cold = done
    return project


def metrics(project, model="default"):
    return json.loads((project.artifacts / "metrics" / f"{model}.json").read_text())


def predictions(project, model):
    with open(project.artifacts / "predictions" / f"{model}.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_houses_regression_from_a_config_file_and_user_module(houses):
    assert ran(houses.cold.stdout) == VIEWS | {
        "preprocess_raw_data", "transform_raw_data", REFERENCE_TASK,
        "train_default_model", "train_and_predict_default_model",
        "train_linear_model", "train_and_predict_linear_model",
    }
    for model in ("default", "linear"):
        m = metrics(houses, model)
        assert m["count"] == 200
        assert m["rmse"] < 0.6 * m["baseline_rmse"], (model, m)
        assert m["reference_rmse"] < 0.6 * m["baseline_rmse"], (model, m)
        assert [sum(s["count"] for s in m["slices"][c]) for c in ("neighborhood", "area_m2")] == [200, 200]
        assert len(m["slices"]["area_m2"]) == 4
    reference = json.loads((houses.artifacts / "reference" / "metrics.json").read_text())
    assert reference["count"] == 200 and reference["reference_mae"] == metrics(houses)["reference_mae"]
    rows = predictions(houses, "default")
    assert [r["id"] for r in rows][:2] == ["h000901", "h000902"]
    listed = houses.doit("list", "--all").stdout
    assert "train_linear_model" in listed and "train_and_predict_default_model" in listed


def test_houses_without_a_header_gives_the_same_predictions(houses, tmp_path):
    headerless = houses_project(tmp_path / "houses", header=False)
    assert (headerless.root / "data" / "eval.csv").read_text().splitlines()[0].startswith("h000901,")
    for name in ("data.digest.json", "transform_fn.digest.json"):
        assert (headerless.artifacts / "transformed" / name).read_bytes() == \
            (houses.artifacts / "transformed" / name).read_bytes()
    assert predictions(headerless, "default") == predictions(houses, "default")
    assert (headerless.artifacts / "reference" / "metrics.json").read_bytes() == \
        (houses.artifacts / "reference" / "metrics.json").read_bytes()


def test_houses_reruns_exactly_what_an_edit_changes(houses):
    module = houses.root / "my_pipeline.py"
    original = module.read_text()
    try:
        module.write_text(original.replace('"""Years since the house was built."""',
                                           '"""Years since the house was built."""\n    # a comment'))
        assert ran(houses.doit().stdout) == set()
        module.write_text(original.replace("return tf.cast(2025 - year_built, tf.float32)",
                                           "return tf.math.log1p(tf.cast(2025 - year_built, tf.float32))"))
        assert ran(houses.doit().stdout) == {
            "transform_raw_data", REFERENCE_TASK, "train_default_model", "train_and_predict_default_model",
            "train_linear_model", "train_and_predict_linear_model",
        }
    finally:
        module.write_text(original)


def test_churn_walkthrough_classification_beats_the_majority_class(churn):
    assert ran(churn.cold.stdout) == {
        "transform_raw_data", REFERENCE_TASK, "train_default_model", "train_and_predict_default_model",
    }
    config = (churn.root / "tft_build.toml").read_text()
    assert 'header = "auto"' in config and 'objective = "classification"' in config
    assert 'col_2 = { type = "string", default = "" }' in config
    m = metrics(churn)
    assert m["count"] == 500 and m["classes"] == 3
    assert m["accuracy"] > m["baseline_accuracy"] + 0.05, m
    assert m["log_loss"] < m["baseline_log_loss"], m
    reference = json.loads((churn.artifacts / "reference" / "metrics.json").read_text())
    assert reference["estimator"] == "HistGradientBoostingClassifier" and reference["count"] == m["count"]
    assert (m["reference_accuracy"], m["reference_log_loss"]) == (reference["reference_accuracy"],
                                                                  reference["reference_log_loss"])
    assert m["reference_accuracy"] > m["baseline_accuracy"] + 0.05, m
    assert m["reference_log_loss"] < m["baseline_log_loss"], m
    rows = predictions(churn, "default")
    assert {r["prediction"] for r in rows} <= {"stayed", "downgraded", "left"}
    assert all(0 < float(r["probability"]) <= 1 for r in rows)


def test_churn_served_model_takes_raw_rows_and_fills_missing_values(churn):
    script = f"""
import tensorflow as tf
model = tf.saved_model.load({str(churn.artifacts / "serving" / "default")!r})
raw = model.signatures["serving_raw"](
    col_1=tf.constant(["c1"]), col_2=tf.constant(["pro"]), col_3=tf.constant(["North"]),
    col_4=tf.constant([3], tf.int64), col_5=tf.constant([80.0]), col_6=tf.constant([9], tf.int64))
example = tf.train.Example(features=tf.train.Features(feature={{
    "col_1": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"c1"])),
    "col_4": tf.train.Feature(int64_list=tf.train.Int64List(value=[3])),
    "col_5": tf.train.Feature(float_list=tf.train.FloatList(value=[80.0])),
    "col_6": tf.train.Feature(int64_list=tf.train.Int64List(value=[9])),
}}))  # col_2 and col_3 are missing: their default "" fills in
parsed = model.signatures["serving_default"](examples=tf.constant([example.SerializeToString()]))
print(raw["prediction"].numpy()[0].decode(), raw["probabilities"].shape, parsed["prediction"].numpy()[0].decode())
"""
    done = subprocess.run(["python", "-c", script], capture_output=True, text=True, check=True)
    first, shape, second = done.stdout.split(maxsplit=2)[0], done.stdout.split("(")[1], done.stdout.split()[-1]
    assert first in {"stayed", "downgraded", "left"} and second in {"stayed", "downgraded", "left"}
    assert shape.startswith("1, 3)")


def test_churn_user_module_edits_rerun_exactly_what_they_change(churn):
    module = churn.root / "my_pipeline.py"
    original = module.read_text()
    try:
        module.write_text(original.replace("def keep_row(row):", "# rows are all kept\ndef keep_row(row):"))
        assert ran(churn.doit().stdout) == set()
        module.write_text(original.replace('"col_5": generic.numeric(inputs["col_5"]),', ""))
        assert ran(churn.doit().stdout) == {
            "transform_raw_data", REFERENCE_TASK, "train_default_model", "train_and_predict_default_model",
        }
    finally:
        module.write_text(original)


def test_churn_with_headers_in_some_files_and_missing_labels_through_init_config(tmp_path):
    """Train files with a header and some rows without a label, an eval file without a header: init-config's
    project runs as written, drops and counts the unlabeled rows, and measures every eval row."""
    exampledata.write_dataset("churn", tmp_path / "data", 800, 200, seed=9)
    unlabeled = 0
    for shard in sorted((tmp_path / "data").glob("train-*.csv")):
        rows = list(csv.reader(shard.read_text().splitlines()))
        label = rows[0].index("outcome")
        for row in rows[1::9]:
            row[label], unlabeled = "", unlabeled + 1
        shard.write_text("".join(",".join(row) + "\n" for row in rows))
    eval_csv = tmp_path / "data" / "eval.csv"
    eval_csv.write_text("".join(eval_csv.read_text().splitlines(keepends=True)[1:]))
    project = Project(tmp_path)
    init = subprocess.run(
        ["tft-tasks", "init-config", "data/train-*.csv", "--eval", "data/eval.csv", "--label", "outcome"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert init.returncode == 0, init.stderr
    assert "label: missing in" in init.stdout and "keep_row drops the rows without one" in init.stdout
    config = (tmp_path / "tft_build.toml").read_text()
    assert 'key_column = "customer_id"' in config and 'header = "auto"' in config
    assert 'outcome = { type = "string", default = "" }' in config
    tasks = {"transform_raw_data", REFERENCE_TASK, "train_default_model", "train_and_predict_default_model"}
    done = project.doit()
    assert ran(done.stdout) == tasks
    assert f"{unlabeled} dropped, {unlabeled} of them without a label" in done.stdout
    m = metrics(project)
    assert m["count"] == 200 and m["rows_not_clean"] == 0
    assert m["accuracy"] > m["baseline_accuracy"], m


@pytest.mark.parametrize("setting, value, message", [
    ("preprocessing_fn", '"my_pipelin:preprocessing_fn"',
     "setting 'preprocessing_fn': cannot find module 'my_pipelin'"),
    ("preprocessing_fn", '"my_pipeline:preprocesing_fn"', "my_pipeline.py defines no 'preprocesing_fn'"),
    ("models", '{ mine = "my_pipeline:nothing" }', "setting 'models.mine':"),
])
def test_a_dotted_path_that_does_not_resolve_is_one_line_when_the_tasks_load(houses, setting, value, message):
    override = houses.root / "override.toml"
    override.write_text(f"{setting} = {value}\n")
    done = houses.doit("list", check=False, env={"TFT_BUILD_CONFIG": str(override)})
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert "override.toml: setting '" in line and message in line, done.stderr


BROKEN = '''
import tensorflow as tf


def raises(inputs, cfg):
    return {"price": inputs["price"], "x": inputs["no_such_column"]}


def no_label(inputs, cfg):
    return {"area": tf.cast(inputs["area_m2"], tf.float32)}
'''


@pytest.mark.parametrize("function, message", [
    ("raises", "broken:raises raised KeyError: 'no_such_column' at broken.py:6"),
    ("no_label", "broken:no_label returned no label 'price' (it returned area)"),
])
def test_user_code_errors_are_one_line_naming_file_and_setting(houses, function, message):
    (houses.root / "broken.py").write_text(BROKEN)
    override = houses.root / "override.toml"
    override.write_text(f'preprocessing_fn = "broken:{function}"\n')
    done = houses.doit("transform_raw_data", check=False, env={"TFT_BUILD_CONFIG": str(override)})
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in out
    line = next(line for line in out.splitlines() if "override.toml: setting 'preprocessing_fn'" in line)
    assert message in line, out
    hinted = "(traced in TF1 graph mode; if it needs TF2, set tf_compat_v1 = false)" in line
    assert hinted == (function == "raises"), line  # a raise in user code may be graph mode's doing; a wrong result not
    if function == "raises":  # the same one line, with the user code's traceback before it when asked for
        verbose = houses.doit("transform_raw_data", check=False,
                              env={"TFT_BUILD_CONFIG": str(override), "TFT_BUILD_VERBOSE": "1"})
        out = verbose.stdout + verbose.stderr
        assert verbose.returncode != 0 and "Traceback" in out and 'broken.py", line 6, in raises' in out
        assert message in out


def test_churn_sliced_metrics_are_accuracy_and_log_loss_per_slice(churn):
    churn.doit()  # up to date after the edits before
    override = churn.root / "slices.toml"
    override.write_text('slices = ["col_2", "col_5"]\nslice_buckets = 2\n')
    done = churn.doit(env={"TFT_BUILD_CONFIG": str(override)})
    assert ran(done.stdout) == {"train_and_predict_default_model"}
    m = metrics(churn)
    for column, slices in m["slices"].items():
        assert sum(s["count"] for s in slices) == m["count"], column
        assert all(set(s) == {"slice", "count", "accuracy", "log_loss"} for s in slices)
        # each a mean over its rows: weighted by the rows, the slices give the overall figures
        for metric in ("accuracy", "log_loss"):
            assert sum(s[metric] * s["count"] for s in slices) / m["count"] == pytest.approx(m[metric]), column
    assert len(m["slices"]["col_5"]) == 2
    override.write_text('slices = ["col_9"]\n')
    done = churn.doit(check=False, env={"TFT_BUILD_CONFIG": str(override)})
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in out
    assert f"{override}: setting 'slices': no column 'col_9' to slice on; name a column (col_1, " in out, out
