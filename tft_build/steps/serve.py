"""The end-to-end model on raw features: export, predict, measure.

Puts the transform_fn in front of a trained model and saves the pair as
one SavedModel with two signatures, ``serving_default`` (serialized
``tf.Example`` strings, input ``examples``) and ``serving_raw`` (one tensor per
raw column but the label); the transform alone is its function
``transform_raw`` (the inputs of ``serving_raw``, the transformed features
out). It then reloads that SavedModel as a user would, predicts every eval
row, and writes the predictions CSV and the metrics JSON.

Regression models output ``prediction``; the metrics are RMSE and MAE against
the mean-of-train baseline and, for generated data, the noise floor.
Classification models output the class name (``prediction``), its
``probability`` and every class's (``probabilities``); the metrics are
accuracy and log loss against the majority-class baseline (and the class
shares of the training data as probabilities). Beside them go the reference
model's figures on the same rows (``reference_*``, :mod:`tft_build.steps.reference`),
measured by the same functions (:func:`regression_errors`, :func:`accuracy`, :func:`log_loss`),
which also measure each slice of the columns the ``slices`` setting names (:mod:`tft_build.steps.slicing`).
"""

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tabulate import tabulate

from tft_build import layout
from tft_build.config.schema import feature_spec
from tft_build.config.settings import data_files
from tft_build.engine import dotted
from tft_build.engine.trace import traced
from tft_build.errors import ConfigError
from tft_build.io import csvio, location, manifest
from tft_build.io.atomic import atomic_dir, write_file_atomic
from tft_build.steps import modelio, slicing, transformfn

if TYPE_CHECKING:
    from tft_build.config.settings import Config

PREDICT_BATCH = 4096
# Shown in the table of the sets of rows (modelio.trained_figures), or not at all, not with the eval set's figures.
SHOWN_APART = (*modelio.TRAINED_FIGURES.values(), "rows_not_clean", "classes", "slices")
MIN_PROBABILITY = 1e-7  # log loss clips here: one confident mistake must not make it infinite
REFERENCE_PREFIX = "reference_"  # the reference model's figures, copied beside each model's


class ServingModule(tf.Module):
    """The transform_fn and the trained model, called on raw features."""

    def __init__(
        self, model: keras.Model, tft_output: tft.TFTransformOutput, raw_spec: Mapping[str, Any], label: str,
        classes: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        parts = tf.train.TrackableView(model).descendants()
        if any(isinstance(part, tf.saved_model.experimental.TrackableResource) for part in parts):
            self.model = model  # tables and such: saved with the Keras objects that hold them
        else:
            # Only the variables: saving the Keras objects around them (their Keras functions traced for a
            # Keras reload) took a third of the export, and a served model is called by its signatures.
            self.model_variables = [part for part in parts if isinstance(part, tf.Variable)]
            object.__setattr__(self, "model", model)  # not tracked
        self.transform = transformfn.served(tft_output, label)
        self.label = label
        self.classes = tf.constant(classes) if classes else None
        self._model_inputs = sorted(model.input_names)
        example_spec = tf.TensorSpec([None], tf.string, name="examples")
        raw_signature = {name: tf.TensorSpec([None], f.dtype, name=name) for name, f in raw_spec.items()}
        # The transform alone, saved as a function of the loaded model (``transform_raw``): serve_raw calls it,
        # so it is traced once for both. Not autograph's: nothing in them branches on a tensor, and an error
        # of the user's (predict's) keeps its one line.
        self.transform_raw = tf.function(self.transform.apply, input_signature=[raw_signature], autograph=False)
        self.serve_raw = tf.function(self.predict, input_signature=[raw_signature], autograph=False)
        # Parsed examples go through serve_raw's graph: the transform and the model are traced once.
        self.serve_examples = tf.function(
            lambda examples: self.serve_raw(tf.io.parse_example(examples, raw_spec)),
            input_signature=[example_spec], autograph=False,
        )

    def predict(self, raw_features: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """``{"prediction": [batch], ...}`` for a dict of raw ``[batch]`` tensors."""
        transformed = self.transform_raw(raw_features)
        from_label = [name for name in self._model_inputs if name not in transformed]
        if from_label:
            raise ConfigError(f"preprocessing_fn: {', '.join(from_label)} computed from the label "
                              f"'{self.label}', which a served model is not given; compute the model's "
                              "features from the other columns")
        inputs = modelio.as_model_inputs({name: transformed[name] for name in self._model_inputs})
        output = self.model(inputs)
        if self.classes is None:
            return {"prediction": tf.reshape(output, [-1])}
        return {
            "prediction": tf.gather(self.classes, tf.argmax(output, axis=1)),
            "probability": tf.reduce_max(output, axis=1),
            "probabilities": output,
        }


def export(module: ServingModule, directory: str) -> None:
    """Save ``module`` as a SavedModel with its two signatures."""
    tf.saved_model.save(
        module, directory, signatures={"serving_default": module.serve_examples, "serving_raw": module.serve_raw}
    )


@traced
def train_and_predict(cfg: "Config", model_name: str) -> dict[str, int | float | None]:
    """Export ``model_name`` on raw features, predict the eval rows, write metrics (overall and per slice)."""
    keras.backend.clear_session()  # the layers' names count from zero, whatever this process built before
    rows = eval_rows(cfg)
    clean = np.array([keep for _, keep in rows], bool)
    slices = slicing.slice_columns(cfg, slicing.eval_columns(cfg, [row for row, keep in rows if keep]))
    tft_output = tft.TFTransformOutput(location.data_dir(cfg, layout.TRANSFORMED))
    raw_spec = serving_spec(cfg)
    stats = modelio.trained_label_stats(cfg, model_name)
    module = ServingModule(modelio.load_model(cfg, model_name), tft_output, raw_spec, cfg.label,
                           stats.get("classes"))
    with atomic_dir(cfg.artifact(layout.SERVING, model_name)) as staging:
        export(module, str(staging))
        manifest.write_manifest(staging, {"model": model_name})

    served = tf.saved_model.load(cfg.artifact(layout.SERVING, model_name))
    outputs = predict_raw(served.signatures["serving_raw"], rows, raw_spec)
    write_file_atomic(cfg.artifact(*layout.predictions_file(model_name)), predictions_csv(cfg, rows, outputs))
    labels = [row[cfg.label] for row, keep in rows if keep]
    outputs = {k: v[clean] for k, v in outputs.items()}
    metrics = (
        classification_metrics(labels, outputs, stats)
        if cfg.classification
        else regression_metrics(cfg, labels, outputs["prediction"], stats)
    )
    metrics.update(reference_figures(cfg, metrics))
    metrics.update(modelio.trained_figures(cfg, model_name))
    metrics["rows_not_clean"] = int((~clean).sum())
    if slices:
        measure = slice_measure(cfg, labels, outputs, stats)
        metrics["slices"] = slicing.sliced_metrics(slices, cfg.slice_buckets, measure)
    metrics_file = cfg.artifact(*layout.metrics_file(model_name))
    write_file_atomic(metrics_file, manifest.to_json(metrics))
    print(summary_table(model_name, metrics))
    if slices:
        print(slicing.slices_table(metrics["slices"], metrics_file))
    return metrics


@traced
def serving_spec(cfg: "Config") -> dict[str, Any]:
    """The raw feature spec the served model takes: every column but the label.

    An optional column's default fills in for a ``tf.Example`` without it, as
    for a missing CSV value; ``serving_raw`` takes every column.
    """
    spec = feature_spec(cfg.columns, with_defaults=True)
    del spec[cfg.label]
    return spec


@traced
def eval_rows(cfg: "Config") -> list[tuple[dict[str, str | float | int], bool]]:
    """Every eval row as ``(typed row, passes the row filter)``; malformed ones skipped if so set."""
    keep = dotted.resolve(cfg, "row_filter")
    skip_bad = csvio.ignore_bad_rows(cfg.on_bad_rows)  # the transform quarantined them
    return [
        (row, bool(keep(row)))
        for path in data_files(cfg, "eval")
        for _, row in csvio.read_rows(path, cfg.columns, skip_bad, cfg.header)
    ]


@traced
def predict_raw(
    signature: tf.types.experimental.ConcreteFunction,
    rows: Sequence[tuple[Mapping[str, str | float | int], bool]],
    raw_spec: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    """The ``serving_raw`` signature's outputs for the rows (name -> numpy array), in batches."""
    out = {}
    for start in range(0, len(rows), PREDICT_BATCH):
        batch = [row for row, _ in rows[start:start + PREDICT_BATCH]]
        tensors = {
            name: tf.constant([row[name] for row in batch], dtype=f.dtype) for name, f in raw_spec.items()
        }
        for name, value in signature(**tensors).items():
            out.setdefault(name, []).append(value.numpy())
    return {name: np.concatenate(parts) for name, parts in out.items()}


@traced
def predictions_csv(
    cfg: "Config", rows: Sequence[tuple[Mapping[str, str | float | int], bool]], outputs: Mapping[str, np.ndarray]
) -> str:
    """CSV text: key, label, prediction (and its probability), and whether the row counts in the metrics."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    extra = ["probability"] if cfg.classification else []
    writer.writerow([cfg.key_column or "row", cfg.label, "prediction", *extra, "clean"])
    for index, (row, clean) in enumerate(rows):
        key = row[cfg.key_column] if cfg.key_column else index
        prediction = outputs["prediction"][index]
        if cfg.classification:
            values = [prediction.decode("utf-8"), f"{outputs['probability'][index]:.6g}"]
        else:
            values = [f"{prediction:.6g}"]
        writer.writerow([key, row[cfg.label], *values, int(clean)])
    return text.getvalue()


@traced
def regression_metrics(
    cfg: "Config", labels: Sequence[float], predictions: np.ndarray, stats: Mapping[str, Any]
) -> dict[str, int | float | None]:
    """RMSE and MAE on the clean eval rows, against the mean-of-train baseline and the noise floor."""
    labels = np.asarray(labels, dtype=np.float64)
    baseline = labels - stats["mean"]
    return {
        **regression_errors(labels, predictions),
        "count": len(labels),
        "baseline_rmse": float(np.sqrt(np.mean(baseline**2))),
        "noise_floor_rmse": noise_floor(cfg),
    }


def regression_errors(labels: Sequence[float] | np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """``{"rmse": ..., "mae": ...}`` of ``predictions`` against ``labels``."""
    error = np.asarray(predictions, np.float64) - np.asarray(labels, np.float64)
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}


@traced
def classification_metrics(
    labels: Sequence[str | int], outputs: Mapping[str, np.ndarray], stats: Mapping[str, Any]
) -> dict[str, int | float]:
    """Accuracy and log loss on the clean eval rows, against the training data's class shares.

    The baseline predicts the most frequent training class, with the class
    shares as probabilities. A class never seen in training is a miss with
    probability MIN_PROBABILITY.
    """
    classes = stats["classes"]
    truth = class_ids(labels, classes)
    shares = np.asarray(stats["counts"], np.float64) / sum(stats["counts"])
    return {
        "accuracy": accuracy(truth, outputs["probabilities"]),
        "log_loss": log_loss(truth, outputs["probabilities"]),
        "count": len(labels),
        "baseline_accuracy": float(np.mean(truth == int(np.argmax(shares)))),
        "baseline_log_loss": log_loss(truth, np.broadcast_to(shares, (len(truth), len(classes)))),
        "classes": len(classes),
    }


def class_ids(labels: Sequence[str | int], classes: Sequence[str]) -> np.ndarray:
    """Each label's index in ``classes``, -1 for a class never seen in training."""
    index = {name: i for i, name in enumerate(classes)}
    return np.array([index.get(str(label), -1) for label in labels], np.int64)


def slice_measure(
    cfg: "Config", labels: Sequence[float | str | int], outputs: Mapping[str, np.ndarray], stats: Mapping[str, Any]
) -> Callable[[np.ndarray], dict[str, float]]:
    """The metrics of the clean eval rows a boolean mask picks: rmse and mae, or accuracy and log loss."""
    if cfg.classification:
        truth, probabilities = class_ids(labels, stats["classes"]), outputs["probabilities"]
        return lambda rows: {"accuracy": accuracy(truth[rows], probabilities[rows]),
                             "log_loss": log_loss(truth[rows], probabilities[rows])}
    labels, predictions = np.asarray(labels, np.float64), outputs["prediction"]
    return lambda rows: regression_errors(labels[rows], predictions[rows])


def accuracy(truth: np.ndarray, probabilities: np.ndarray) -> float:
    """The share of rows whose most probable class is their class (``truth``: class ids, -1 a miss)."""
    return float(np.mean(np.argmax(probabilities, axis=1) == truth))


def log_loss(truth: np.ndarray, probabilities: np.ndarray) -> float:
    """The mean negative log of each row's probability of its class (``truth``: class ids, -1 for a class
    never seen in training, whose probability is MIN_PROBABILITY), clipped at MIN_PROBABILITY."""
    picked = np.where(truth >= 0, probabilities[np.arange(len(truth)), np.maximum(truth, 0)], 0.0)
    return float(-np.mean(np.log(np.maximum(picked, MIN_PROBABILITY))))


@traced
def reference_figures(cfg: "Config", metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """The reference model's figures of the model's ``metrics`` (``reference_rmse`` beside ``rmse``), in
    their order; none (and a line saying why) if it scored another number of rows than they count."""
    with open(cfg.artifact(*layout.reference_metrics_file()), encoding="utf-8") as f:
        reference = json.load(f)
    if reference["count"] != metrics["count"]:
        print(f"the reference model scored {reference['count']} eval rows, this model {metrics['count']}: "
              "its figures are left out, they would not compare")
        return {}
    names = [REFERENCE_PREFIX + name for name in metrics]
    return {name: reference[name] for name in names if name in reference}


@traced
def noise_floor(cfg: "Config") -> float | None:
    """The generator's noise floor for this eval data, or None when unknown.

    Only data made by ``tft_build.examples.taxi.datagen`` has one; it is used only when the
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
def summary_table(model_name: str, metrics: Mapping[str, int | float | None]) -> str:
    """A short table of the model's quality on each set of rows, then against its references on the eval set."""
    quality = "accuracy" if "accuracy" in metrics else "rmse"
    sets = [
        ["train", metrics.get("train_rows"), metrics.get(f"train_{quality}"), "the rows it was fit on"],
        ["validation", metrics.get("validation_rows"), metrics.get(f"validation_{quality}"),
         "held out from training: chose its epochs and learning rate"],
        ["eval", metrics["count"], metrics[quality], "eval_data: only measures"],
    ]
    by_set = tabulate(sets, headers=["set", "rows", quality, ""], floatfmt=".3f")
    shown = [name for name in metrics if name not in SHOWN_APART and name not in (quality, "count")]
    references = tabulate([[name, metrics[name]] for name in shown], headers=["on the eval set", "value"],
                          floatfmt=".3f")
    return f"{model_name}:\n{by_set}\n{references}"
