"""The trained model's files and inputs, as the train and serve steps share them."""

import json
import zipfile

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tft_build import layout
from tft_build.config.settings import Config
from tft_build.steps import modelio, serve


def write_keras_zip(path, saved_at, zip_time):
    """A ``.keras``-like zip saved at ``saved_at`` with entries stamped ``zip_time``."""
    with zipfile.ZipFile(path, "w") as out:
        metadata = zipfile.ZipInfo(modelio.KERAS_METADATA, date_time=zip_time)
        out.writestr(metadata, json.dumps({"keras_version": "2.99", "date_saved": saved_at}))
        weights = zipfile.ZipInfo("model.weights.h5", date_time=zip_time)
        weights.compress_type = zipfile.ZIP_DEFLATED
        out.writestr(weights, b"\x00weights" * 100)


def test_two_saves_of_the_same_weights_become_the_same_bytes(tmp_path):
    one, two = tmp_path / "one.keras", tmp_path / "two.keras"
    write_keras_zip(one, "2024-05-01@10:00:00", (2024, 5, 1, 10, 0, 0))
    write_keras_zip(two, "2025-01-02@11:12:13", (2025, 1, 2, 11, 12, 14))
    assert one.read_bytes() != two.read_bytes()
    for path in (one, two):
        modelio.reproducible_keras_file(path)
    assert one.read_bytes() == two.read_bytes()
    with zipfile.ZipFile(one) as saved:
        metadata = json.loads(saved.read(modelio.KERAS_METADATA))
        assert metadata == {"keras_version": "2.99", "date_saved": modelio.FIXED_SAVE_TIME}
        assert saved.read("model.weights.h5") == b"\x00weights" * 100
        assert saved.getinfo("model.weights.h5").compress_type == zipfile.ZIP_DEFLATED
        assert {info.date_time for info in saved.infolist()} == {modelio.FIXED_ZIP_TIME}
    assert not list(tmp_path.glob("*.tmp"))


def tiny_model():
    keras.utils.set_random_seed(1)
    inputs = {"x": keras.Input((1,), name="x")}
    return keras.Model(inputs, keras.layers.Dense(1)(inputs["x"]))


def test_a_saved_model_loads_by_name_and_saves_reproducibly(tmp_path):
    cfg = Config(project_dir=tmp_path, artifacts_dir=tmp_path / "artifacts")
    model = tiny_model()
    directory = tmp_path / "artifacts" / layout.MODELS / "tiny"
    directory.mkdir(parents=True)
    modelio.save_model(model, directory)
    first = (directory / layout.MODEL_FILE).read_bytes()
    modelio.save_model(model, directory)
    assert (directory / layout.MODEL_FILE).read_bytes() == first
    x = np.array([[1.0], [2.0]], np.float32)
    loaded = modelio.load_model(cfg, "tiny")
    np.testing.assert_allclose(loaded.predict({"x": x}, verbose=0), model.predict({"x": x}, verbose=0))


def test_the_history_keeps_the_label_stats_for_serving(tmp_path):
    cfg = Config(project_dir=tmp_path, artifacts_dir=tmp_path / "artifacts")
    directory = tmp_path / "artifacts" / layout.MODELS / "m"
    directory.mkdir(parents=True)
    stats = {"classes": ["a", "b"], "counts": [3, 1]}
    modelio.write_history(directory, {"loss": [2.0, 1.0]}, {"best_epoch": 2}, stats)
    assert modelio.trained_label_stats(cfg, "m") == stats
    written = json.loads((directory / layout.HISTORY_FILE).read_text())
    assert written == {"history": {"loss": [2.0, 1.0]}, "best_epoch": 2, "label_stats": stats}


def test_the_history_gives_the_train_and_validation_figures_beside_the_eval_ones(tmp_path):
    cfg = Config(project_dir=tmp_path, artifacts_dir=tmp_path / "artifacts")
    directory = tmp_path / "artifacts" / layout.MODELS / "m"
    directory.mkdir(parents=True)
    summary = {"best_epoch": 3, "val_rmse": 2.5, "train_rmse": 2.25, "train_rows": 90, "validation_rows": 10}
    modelio.write_history(directory, {"loss": [2.0, 1.0]}, summary, {"mean": 1.0, "std": 1.0})
    figures = modelio.trained_figures(cfg, "m")
    assert figures == {"train_rows": 90, "validation_rows": 10, "train_rmse": 2.25, "validation_rmse": 2.5}
    table = serve.summary_table("m", {"rmse": 2.75, "count": 40, "baseline_rmse": 8.0, **figures})
    lines = table.splitlines()
    assert lines[0] == "m:" and lines[1].split() == ["set", "rows", "rmse"]
    assert lines[3].split()[:3] == ["train", "90", "2.250"] and lines[4].split()[:3] == ["validation", "10", "2.500"]
    assert lines[5].split() == ["eval", "40", "2.750", "eval_data:", "only", "measures"]
    assert lines[6].split() == ["on", "the", "eval", "set", "value"] and lines[8].split() == ["baseline_rmse", "8.000"]
    assert len(lines) == 9  # the sets' figures are not repeated below


def test_model_inputs_are_one_column_per_feature():
    inputs = modelio.as_model_inputs({"x": tf.constant([1.0, 2.0, 3.0]), "id": tf.constant([1, 2, 3], tf.int64)})
    assert {name: value.shape.as_list() for name, value in inputs.items()} == {"x": [3, 1], "id": [3, 1]}
    assert inputs["id"].numpy().ravel().tolist() == [1, 2, 3]
