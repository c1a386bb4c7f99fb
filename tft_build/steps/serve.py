"""The end-to-end model on raw features: export, predict, measure.

Puts TFT's transform layer in front of a trained model and saves the pair as
one SavedModel with two signatures, ``serving_default`` (serialized
``tf.Example`` strings, input ``examples``) and ``serving_raw`` (one tensor per
raw column but the label). It then reloads that SavedModel as a user would,
predicts every eval row, and writes the predictions CSV and the metrics JSON
(with the mean-of-train baseline and, for generated data, the noise floor).
"""

import csv
import io
import json

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tabulate import tabulate

from tft_build import csvio, dotted, manifest
from tft_build.atomic import atomic_dir, write_file_atomic
from tft_build.config import data_files
from tft_build.schema import feature_spec
from tft_build.steps import train
from tft_build.steps.transform import DATA_DIGEST
from tft_build.trace import traced

PREDICT_BATCH = 4096


class ServingModule(tf.Module):
    """The transform layer and the trained model, called on raw features."""

    def __init__(self, model, tft_output, raw_spec):
        super().__init__()
        self.model = model
        self.tft_layer = tft_output.transform_features_layer()
        self._model_inputs = sorted(model.input_names)
        example_spec = tf.TensorSpec([None], tf.string, name="examples")
        raw_signature = {name: tf.TensorSpec([None], f.dtype, name=name) for name, f in raw_spec.items()}
        self.serve_examples = tf.function(
            lambda examples: self.predict(tf.io.parse_example(examples, raw_spec)),
            input_signature=[example_spec],
        )
        self.serve_raw = tf.function(self.predict, input_signature=[raw_signature])

    def predict(self, raw_features):
        """``{"prediction": [batch]}`` for a dict of raw ``[batch]`` tensors."""
        transformed = self.tft_layer(raw_features)
        inputs = train.as_model_inputs({name: transformed[name] for name in self._model_inputs})
        return {"prediction": tf.reshape(self.model(inputs), [-1])}


@traced
def train_and_predict(cfg, model_name):
    """Export ``model_name`` on raw features, predict the eval rows, write metrics."""
    tft_output = tft.TFTransformOutput(cfg.artifact("transformed"))
    raw_spec = serving_spec(cfg)
    module = ServingModule(train.load_model(cfg, model_name), tft_output, raw_spec)
    with atomic_dir(cfg.artifact("serving", model_name)) as staging:
        tf.saved_model.save(
            module,
            str(staging),
            signatures={"serving_default": module.serve_examples, "serving_raw": module.serve_raw},
        )
        manifest.write_manifest(staging, {"model": model_name})

    rows = eval_rows(cfg)
    served = tf.saved_model.load(cfg.artifact("serving", model_name))
    predictions = predict_raw(served.signatures["serving_raw"], rows, raw_spec)
    write_file_atomic(cfg.artifact("predictions", f"{model_name}.csv"), predictions_csv(cfg, rows, predictions))
    metrics = evaluate(cfg, rows, predictions)
    write_file_atomic(cfg.artifact("metrics", f"{model_name}.json"), manifest.to_json(metrics))
    print(summary_table(model_name, metrics))
    return metrics


@traced
def serving_spec(cfg):
    """The raw feature spec the served model takes: every column but the label."""
    spec = feature_spec(cfg.columns)
    del spec[cfg.label]
    return spec


@traced
def eval_rows(cfg):
    """Every eval row as ``(typed row, passes the row filter)``; malformed ones skipped if so set."""
    keep = dotted.resolve(cfg.row_filter, "row_filter", cfg.project_dir)
    skip_bad = csvio.ignore_bad_rows(cfg.on_bad_rows)  # the transform quarantined them
    return [
        (row, bool(keep(row)))
        for path in data_files(cfg, "eval")
        for _, row in csvio.read_rows(path, cfg.columns, skip_bad)
    ]


@traced
def predict_raw(signature, rows, raw_spec):
    """Predictions of the ``serving_raw`` signature for the rows, in batches."""
    out = []
    for start in range(0, len(rows), PREDICT_BATCH):
        batch = [row for row, _ in rows[start:start + PREDICT_BATCH]]
        tensors = {
            name: tf.constant([row[name] for row in batch], dtype=f.dtype) for name, f in raw_spec.items()
        }
        out.append(signature(**tensors)["prediction"].numpy())
    return np.concatenate(out).astype(np.float64)


@traced
def predictions_csv(cfg, rows, predictions):
    """CSV text: key, label, prediction, and whether the row counts in the metrics."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([cfg.key_column or "row", cfg.label, "prediction", "clean"])
    for index, ((row, clean), prediction) in enumerate(zip(rows, predictions)):
        key = row[cfg.key_column] if cfg.key_column else index
        writer.writerow([key, row[cfg.label], f"{prediction:.6g}", int(clean)])
    return text.getvalue()


@traced
def evaluate(cfg, rows, predictions):
    """RMSE and MAE on the clean eval rows, against the baseline and noise floor."""
    clean = np.array([keep for _, keep in rows])
    labels = np.array([row[cfg.label] for row, _ in rows], dtype=np.float64)[clean]
    errors = predictions[clean] - labels
    digest = json.loads(open(cfg.artifact("transformed", DATA_DIGEST)).read())
    baseline = labels - digest["label_mean"]
    return {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
        "count": int(clean.sum()),
        "rows_not_clean": int((~clean).sum()),
        "baseline_rmse": float(np.sqrt(np.mean(baseline**2))),
        "noise_floor_rmse": noise_floor(cfg),
    }


@traced
def noise_floor(cfg):
    """The generator's noise floor for this eval data, or None when unknown.

    Only data made by ``tft_build.datagen`` has one; it is used only when the
    eval file's sha256 matches the one the floor was computed for.
    """
    files = data_files(cfg, "eval")
    if not cfg.noise_floor_file or len(files) != 1:
        return None
    try:
        floors = json.loads(open(cfg.noise_floor_file).read())
    except (OSError, ValueError):
        return None
    sha = manifest.file_sha256(files[0])
    return next((f["noise_floor_rmse"] for f in floors.values() if f.get("sha256") == sha), None)


@traced
def summary_table(model_name, metrics):
    """A short table of the model's quality against its references."""
    rows = [[name, metrics[name]] for name in ("rmse", "mae", "baseline_rmse", "noise_floor_rmse", "count")]
    return f"{model_name} on the eval set:\n" + tabulate(rows, headers=["metric", "value"], floatfmt=".3f")
