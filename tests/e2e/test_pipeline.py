"""End to end: the real doit tasks on small generated data in a temp dir.

The tests share one cold build (the ``built`` fixture); the ones that change
the project (an edit, a clean) come last, in file order.
"""

import csv
import hashlib
import json
import math
import re
import subprocess
import sys

import pytest
from support import NO_CACHE, REFERENCE_TASK, SMALL_CONFIG, TASKS, ran, skipped

from tft_build.engine import progress
from tft_build.examples.taxi import places

MODELS = ["non_embedding", "embedding"]


def test_cold_build_runs_the_pipeline(built):
    assert ran(built.cold.stdout) == {
        "transform_raw_data",
        REFERENCE_TASK,
        "train_non_embedding_model",
        "train_embedding_model",
        "train_and_predict_non_embedding_model",
        "train_and_predict_embedding_model",
    }
    for model in MODELS:
        metrics = json.loads((built.artifacts / "metrics" / f"{model}.json").read_text())
        assert {"rmse", "mae", "count", "baseline_rmse", "noise_floor_rmse"} <= set(metrics)
        assert metrics["count"] > 100
        assert metrics["noise_floor_rmse"] > 0
        assert metrics["rmse"] < metrics["baseline_rmse"], model
    assert (built.artifacts / "transformed" / "MANIFEST.json").is_file()
    assert (built.artifacts / "transformed" / "transform_fn" / "saved_model.pb").is_file()
    history = json.loads((built.artifacts / "models" / "embedding" / "history.json").read_text())
    assert len(history["history"]["loss"]) == history["epochs_run"] >= 1
    assert "non_embedding:" in built.cold.stdout and "eval_data: only measures" in built.cold.stdout


def test_training_prints_one_short_line_per_epoch(built):
    history = json.loads((built.artifacts / "models" / "embedding" / "history.json").read_text())
    lines = re.findall(r"^embedding epoch \d+/4: .*$", built.cold.stdout, re.M)
    assert len(lines) == history["epochs_run"]
    assert lines[0].startswith("embedding epoch 1/4: loss ") and " | validation loss " in lines[0]
    assert "Epoch 1/4" not in built.cold.stdout  # Keras' own lines


@pytest.mark.parametrize("model", MODELS)
def test_training_writes_tensorboard_logs_of_each_epoch_and_the_graph(built, model):
    import tensorflow as tf

    history = json.loads((built.artifacts / "models" / model / "history.json").read_text())
    logs = built.artifacts / "tensorboard" / model
    for part, prefix in (("train", ""), ("validation", "val_")):
        scalars, graphs = {}, 0
        for path in sorted((logs / part).glob("events.out.tfevents.*")):
            for event in tf.compat.v1.train.summary_iterator(str(path)):
                graphs += event.HasField("graph_def")
                for value in (v for v in event.summary.value if v.tag.startswith("epoch_")):
                    scalars.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
        for metric in ("loss", "rmse"):
            steps, values = zip(*scalars[f"epoch_{metric}"])
            expected = history["history"][prefix + metric]
            assert steps == tuple(range(len(expected))) and values == pytest.approx(expected, rel=1e-6), part
        assert graphs == (part == "train")  # the train function's graph
    assert not list(logs.parent.glob(f".{model}.tmp-*")), "the staging dir was renamed"


def test_the_reference_figures_stand_beside_each_models_on_the_same_rows(built):
    reference = json.loads((built.artifacts / "reference" / "metrics.json").read_text())
    assert reference["estimator"] == "HistGradientBoostingRegressor"
    assert 0 < reference["iterations"] < 1000  # the validation rows stopped it
    held_out = json.loads((built.artifacts / "models" / "embedding" / "history.json").read_text())
    assert (reference["train_rows"], reference["validation_rows"]) == (held_out["train_rows"],
                                                                       held_out["validation_rows"])
    assert "hour" in reference["categorical_features"] and "trip_km" in reference["numeric_features"]
    for model in MODELS:
        metrics = json.loads((built.artifacts / "metrics" / f"{model}.json").read_text())
        assert metrics["count"] == reference["count"]  # the same clean eval rows
        assert (metrics["reference_rmse"], metrics["reference_mae"]) == (reference["reference_rmse"],
                                                                         reference["reference_mae"])
        assert metrics["reference_rmse"] < metrics["baseline_rmse"]
        assert re.search(rf"reference_rmse +{metrics['reference_rmse']:.3f}\n", built.cold.stdout)  # its summary
    page = (built.artifacts / "reports" / "index.html").read_text()
    assert "<th>reference_<wbr>rmse</th>" in page and "does not earn its keep" in page
    assert f">{REFERENCE_TASK}<" in page  # in the task graph and the timings
    assert f"embedding reference_rmse: {reference['reference_rmse']:.4g}</title>" in page  # its bar


def test_nothing_reruns_when_nothing_changed(built):
    again = built.doit()
    assert ran(again.stdout) == set()
    assert "train_and_predict_embedding_model" in skipped(again.stdout)


def test_list_shows_the_tasks(built):
    out = built.doit("list", "--all").stdout
    assert sorted(line.split()[0] for line in out.splitlines() if line.strip()) == sorted(TASKS)


@pytest.mark.parametrize("task,expected", [
    ("view_original_sample_data", ["pickup_datetime", "float32", "string"]),
    ("view_transformed_sample_data", ["pickup_cell", "trip_km", "passenger_count"]),
])
def test_view_tasks_always_print_tables(built, task, expected):
    for _ in range(2):
        out = built.doit(task).stdout
        assert task in ran(out)
        for word in expected:
            assert word in out


SERVE_SCRIPT = """
import csv, json, sys
import tensorflow as tf

serving_dir, eval_csv = sys.argv[1:]
model = tf.saved_model.load(serving_dir)
rows = list(csv.DictReader(open(eval_csv)))[:64]
floats = ["pickup_longitude", "pickup_latitude", "dropoff_longitude", "dropoff_latitude", "passenger_count"]
strings = ["key", "pickup_datetime"]
raw = {c: tf.constant([float(r[c]) for r in rows], tf.float32) for c in floats}
raw.update({c: tf.constant([r[c] for r in rows]) for c in strings})
by_raw = model.signatures["serving_raw"](**raw)["prediction"].numpy().tolist()
examples = []
for r in rows:
    feature = {c: tf.train.Feature(float_list=tf.train.FloatList(value=[float(r[c])])) for c in floats}
    feature.update({c: tf.train.Feature(bytes_list=tf.train.BytesList(value=[r[c].encode()])) for c in strings})
    examples.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
by_example = model.signatures["serving_default"](examples=tf.constant(examples))["prediction"].numpy().tolist()
assert "tft_build" not in sys.modules
print(json.dumps({"keys": [r["key"] for r in rows], "raw": by_raw, "example": by_example}))
"""


@pytest.mark.parametrize("model", MODELS)
def test_serving_model_loads_without_tft_build(built, model, tmp_path):
    script = tmp_path / "serve.py"
    script.write_text(SERVE_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(built.artifacts / "serving" / model), str(built.root / "data" / "eval.csv")],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    served = json.loads(done.stdout.strip().splitlines()[-1])
    with open(built.artifacts / "predictions" / f"{model}.csv") as f:
        written = {row["key"]: float(row["prediction"]) for row in csv.DictReader(f)}
    for key, by_raw, by_example in zip(served["keys"], served["raw"], served["example"]):
        assert by_raw == pytest.approx(by_example, rel=1e-5, abs=1e-4)
        assert by_raw == pytest.approx(written[key], rel=1e-4, abs=1e-3)


# Exports the shared build's trained model (into the cwd) and one that looks its hour up in a table, as the
# serving step does; reloads each, and prints whether its served predictions equal the module's own and
# whether it kept the Keras objects; then the error of exporting a model that takes the transformed label.
EXPORT_SCRIPT = """
import json, sys
import numpy as np, tensorflow as tf, tensorflow_transform as tft, tf_keras as keras
from tft_build import layout
from tft_build.config.settings import load_config
from tft_build.errors import ConfigError
from tft_build.io import location
from tft_build.steps import modelio, serve

cfg = load_config(sys.argv[1])
tft_output = tft.TFTransformOutput(location.data_dir(cfg, layout.TRANSFORMED))
hour = keras.Input(shape=(1,), dtype=tf.int64, name="hour")
looked_up = keras.layers.IntegerLookup(vocabulary=list(range(0, 24, 2)))(hour)
models = {"trained": modelio.load_model(cfg, "non_embedding"),
          "table": keras.Model(hour, keras.layers.Dense(1)(tf.cast(looked_up, tf.float32)))}
rows, spec = serve.eval_rows(cfg)[:50], serve.serving_spec(cfg)
same = {}
for name, model in models.items():
    module = serve.ServingModule(model, tft_output, spec, cfg.label)
    serve.export(module, name)
    loaded = tf.saved_model.load(name)
    served = serve.predict_raw(loaded.signatures["serving_raw"], rows, spec)
    own = serve.predict_raw(module.serve_raw.get_concrete_function(), rows, spec)
    same[name] = {"same": bool(np.array_equal(served["prediction"], own["prediction"])),
                  "keras_objects": hasattr(loaded, "model")}
label = keras.Input(shape=(1,), name=cfg.label)
try:
    serve.export(serve.ServingModule(keras.Model(label, keras.layers.Dense(1)(label)), tft_output, spec, cfg.label),
                 "leak")
except ConfigError as err:
    same["leak"] = str(err)
print(json.dumps(same))
"""


def test_exported_models_serve_their_own_predictions(built, tmp_path):
    # A model's variables are exported without its Keras objects, unless it holds a table (kept with them).
    # A model input that the label computes is refused in one line: a served model is not given the label.
    done = subprocess.run([sys.executable, "-c", EXPORT_SCRIPT, str(built.root)], cwd=tmp_path,
                          env=built.environment(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "trained": {"same": True, "keras_objects": False}, "table": {"same": True, "keras_objects": True},
        "leak": "preprocessing_fn: fare_amount computed from the label 'fare_amount', which a served model is "
                "not given; compute the model's features from the other columns",
    }


def test_predictions_cover_every_eval_row(built):
    with open(built.root / "data" / "eval.csv") as f:
        keys = [row["key"] for row in csv.DictReader(f)]
    with open(built.artifacts / "predictions" / "embedding.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["key"] for row in rows] == keys
    assert list(rows[0]) == ["key", "fare_amount", "prediction", "clean"]


def km(lon1, lat1, lon2, lat2):
    """Great-circle kilometres, in plain Python."""
    lon1, lat1, lon2, lat2 = map(math.radians, (lon1, lat1, lon2, lat2))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * places.EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def ride_slices(ride):
    """The taxi slice columns of one eval CSV row, in plain Python (its timestamps are 'YYYY-MM-DD HH:MM:SS UTC')."""
    plon, plat, dlon, dlat = (float(ride[c]) for c in
                              ("pickup_longitude", "pickup_latitude", "dropoff_longitude", "dropoff_latitude"))
    airport = any(km(lon, lat, *place) < places.AIRPORT_RADIUS_KM
                  for lon, lat in ((plon, plat), (dlon, dlat)) for place in places.AIRPORTS.values())
    return {"trip_km": km(plon, plat, dlon, dlat), "pickup_hour": int(ride["pickup_datetime"][11:13]),
            "airport_ride": airport, "passengers": int(float(ride["passenger_count"]))}


def plain_slices(values, buckets=4):
    """The rows of each slice of ``values``, in order: four buckets between quantiles of floats, else by value."""
    if not isinstance(values[0], float):
        return [[i for i, v in enumerate(values) if v == key] for key in sorted(set(values))]
    ordered = sorted(values)
    edges = sorted(set([ordered[i * len(values) // buckets] for i in range(buckets)] + [ordered[-1]]))
    return [[i for i, v in enumerate(values) if low <= v and (v < high or (v == high and high == edges[-1]))]
            for low, high in zip(edges, edges[1:])]


def test_the_sliced_metrics_add_up_and_match_the_predictions(built):
    with open(built.root / "data" / "eval.csv") as f:
        rides = {row["key"]: ride_slices(row) for row in csv.DictReader(f)}
    for model in MODELS:
        metrics = json.loads((built.artifacts / "metrics" / f"{model}.json").read_text())
        with open(built.artifacts / "predictions" / f"{model}.csv") as f:
            scored = [row for row in csv.DictReader(f) if row["clean"] == "1"]
        errors = [float(row["prediction"]) - float(row["fare_amount"]) for row in scored]
        assert set(metrics["slices"]) == {"trip_km", "pickup_hour", "airport_ride", "passengers"}
        for column, slices in metrics["slices"].items():
            assert sum(s["count"] for s in slices) == metrics["count"] == len(scored), column
            expected = plain_slices([rides[row["key"]][column] for row in scored])
            assert [s["count"] for s in slices] == [len(rows) for rows in expected], column
            for got, rows in zip(slices, expected):
                assert got["rmse"] == pytest.approx(math.sqrt(sum(errors[i] ** 2 for i in rows) / len(rows)),
                                                    rel=1e-4, abs=1e-4), (column, got)
                assert got["mae"] == pytest.approx(sum(abs(errors[i]) for i in rows) / len(rows), rel=1e-4, abs=1e-4)
        assert [s["slice"] for s in metrics["slices"]["airport_ride"]] in (["False", "True"], ["False"])
        assert re.fullmatch(r"\[[0-9.]+, [0-9.]+\)", metrics["slices"]["trip_km"][0]["slice"])
        count = sum(len(slices) for slices in metrics["slices"].values())  # past PRINTED_SLICES, a pointer
        pointer = f"sliced metrics: {count} slices of trip_km, pickup_hour, airport_ride, passengers in "
        assert pointer in built.cold.stdout
    page = (built.artifacts / "reports" / "index.html").read_text()
    assert "<title>rmse per slice of pickup_hour</title>" in page


def test_editing_preprocessing_fn_reruns_the_transform_and_after(built):
    built.doit("preprocess_raw_data")
    module = built.root / "my_preprocessing.py"
    source = module.read_text()
    edited = source.replace('"trip_km": km / 10.0', '"trip_km": km / 20.0')
    assert edited != source
    module.write_text(edited)
    out = built.doit().stdout
    assert ran(out) == {
        "transform_raw_data",
        REFERENCE_TASK,
        "train_non_embedding_model",
        "train_embedding_model",
        "train_and_predict_non_embedding_model",
        "train_and_predict_embedding_model",
    }
    assert skipped(built.doit("preprocess_raw_data").stdout) == {"preprocess_raw_data"}


def test_changing_a_training_setting_reruns_training_only(built):
    (built.root / "pyproject.toml").write_text(SMALL_CONFIG.replace("epochs = 4", "epochs = 3"))
    out = built.doit("-q", "train_and_predict_non_embedding_model", env={progress.EVERY: "0"}).stdout
    assert ran(out) == {"train_non_embedding_model", "train_and_predict_non_embedding_model"}
    # -q: the summaries and the timing table, no progress
    assert "non_embedding: best epoch" in out and "eval_data: only measures" in out and "seconds" in out
    assert " epoch 1/3" not in out


# The rerun table of issue 3: each edit, then `doit explain` and `doit`. A helper
# module, a touch and one value of the data are cells of the mutation matrix
# (tests/e2e/matrix.py).
BUILD = ["preprocess_raw_data", "train_and_predict_non_embedding_model", "train_and_predict_embedding_model"]
AFTER_TRANSFORM = {
    "transform_raw_data",
    REFERENCE_TASK,
    "train_non_embedding_model",
    "train_embedding_model",
    "train_and_predict_non_embedding_model",
    "train_and_predict_embedding_model",
}


def explained(built):
    """``({"will run": names, "may run": names, "up to date": names}, text)`` of ``doit explain``."""
    text = built.doit("explain", *BUILD).stdout
    kinds = {"will run": set(), "may run": set(), "up to date": set()}
    for line in text.splitlines():
        kind, sep, name = line.partition(": ")
        if sep and kind in kinds:
            kinds[kind].add(name)
    return kinds, text


def edit_file(path, old, new, count=1):
    source = path.read_text()
    assert old in source, old
    path.write_text(source.replace(old, new, count))


def check_rerun(built, must_run, *reasons):
    """`doit explain` announces, then `doit` runs, exactly ``must_run``."""
    kinds, text = explained(built)
    done = ran(built.doit(*BUILD).stdout)
    assert done == must_run
    assert kinds["will run"] <= done <= kinds["will run"] | kinds["may run"], text
    for reason in reasons:
        assert reason in text, text
    if not must_run:
        assert kinds["up to date"] == set(BUILD) | AFTER_TRANSFORM


def test_rerun_table_comment_docstring_and_blank_lines(built):
    built.doit(*BUILD)
    module = built.root / "my_preprocessing.py"
    edit_file(module, "def scale_longitude(", "# Longitudes, scaled.\n\n\ndef scale_longitude(")
    edit_file(module, "    return (lon + 78.0) / 8.0\n", "    return (lon + 78.0) / 8.0  # seed\n")
    edit_file(module, "features of a taxi ride.", "features of a NYC taxi ride, documented better.")
    check_rerun(built, set())


def test_rerun_table_function_not_called(built):
    edit_file(built.root / "my_preprocessing.py", "return x + 1", "return x + 2")
    check_rerun(built, set())


def test_rerun_table_nbuckets(built):
    edit_file(built.root / "pyproject.toml", "batch_size = 64\n", "batch_size = 64\nnbuckets = 8\n")
    check_rerun(built, AFTER_TRANSFORM, "setting nbuckets: 10 -> 8")


def test_rerun_table_non_embedding_builder(built):
    edit_file(
        built.root / "my_models.py",
        "parts = dense_parts(features, inputs) + one_hot_parts(features, inputs)",
        "parts = one_hot_parts(features, inputs) + dense_parts(features, inputs)",
    )
    check_rerun(
        built,
        {"train_non_embedding_model", "train_and_predict_non_embedding_model"},
        "code changed: my_models:build_non_embedding_model",
    )


def test_rerun_table_local_variable_rename_is_cut_off(built):
    module = built.root / "my_preprocessing.py"
    module.write_text(re.sub(r"\bnb\b", "n_buckets", module.read_text()))
    check_rerun(built, {"transform_raw_data"}, "code changed: my_preprocessing:preprocessing_fn", "+    n_buckets")


def test_rerun_table_slice_buckets(built):
    built.doit(*BUILD)
    edit_file(built.root / "pyproject.toml", "batch_size = 64\n", "batch_size = 64\nslice_buckets = 3\n")
    check_rerun(built, {"train_and_predict_non_embedding_model", "train_and_predict_embedding_model"},
                "setting slice_buckets: 4 -> 3")
    metrics = json.loads((built.artifacts / "metrics" / "embedding.json").read_text())
    assert len(metrics["slices"]["trip_km"]) == 3


def test_a_module_edited_while_an_earlier_task_runs_is_imported_anew(built, tmp_path):
    """Case 3: both trainings import my_models; an edit during the first reaches the second.

    One after the other (``-n 0``), in one process: side by side, the second would already be running
    the old code, and fail as the matrix's "edit while it runs" cells show (tests/e2e/matrix.py)."""
    built.doit("forget", "train_non_embedding_model", "train_embedding_model")
    proof = tmp_path / "the new build_embedding_model ran"
    old = 'my_hook.reached("build_embedding_model")'
    edit = {
        "point": "build_non_embedding_model", "path": str(built.root / "my_models.py"), "old": old,
        "new": f"{old}\n    open({str(proof)!r}, 'w').close()", "marker": str(tmp_path / "edited"),
    }
    done = built.doit("-n", "0", "train_non_embedding_model", "train_embedding_model",
                      env={"TFT_TEST_EDIT": json.dumps(edit), **NO_CACHE})
    assert ran(done.stdout) == {"train_non_embedding_model", "train_embedding_model"}
    assert proof.exists(), "train_embedding_model ran the my_models imported before the edit"
    explain = built.doit("explain", "train_embedding_model", "train_non_embedding_model", script=True).stdout
    assert "up to date: train_embedding_model" in explain and "up to date: train_non_embedding_model" in explain


def digest_tree(root, skip):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and skip not in p.parts
    }


def test_clean_keeps_data_and_code_and_a_rebuild_follows(built):
    before = digest_tree(built.root, "artifacts")
    built.doit("clean")
    assert digest_tree(built.root, "artifacts") == before
    # What stays: doit's state, the lock file, and the run history and report.
    leftovers = [
        p for p in built.artifacts.rglob("*")
        if p.is_file() and not p.name.startswith((".doit-state", ".tft_build")) and p.parent.name != "reports"
    ]
    assert leftovers == []
    status = json.loads((built.artifacts / "reports" / "status.json").read_text())
    assert status == {}, "after a clean every task is 'never run'"
    out = built.doit().stdout
    assert "transform_raw_data" in ran(out)
    assert "train_and_predict_embedding_model" in ran(out)
    assert (built.artifacts / "metrics" / "embedding.json").is_file()
