"""Keras training on the transformed TFRecords: tf.data input, fit, save.

Reads the transformed data and its schema, builds the configured model,
trains with early stopping on validation rows held out from the training
rows (:func:`parts`), and saves the model, its per-epoch history, the
training label's statistics (the serving step's baseline) and a manifest
atomically under ``artifacts/models/<model>/``.
A regression model predicts the label; a classification model the
probability of each class (ids from the transform's label vocabulary).
Seeds and op determinism make a rerun on the same data give the same
weights, and :func:`tft_build.steps.modelio.save_model` the same bytes.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tensorflow_metadata.proto.v0 import schema_pb2

from tft_build import layout
from tft_build.engine import dotted, interrupt
from tft_build.engine.trace import traced
from tft_build.errors import ConfigError, DataError
from tft_build.generic.models import Feature
from tft_build.io import location, manifest
from tft_build.io.atomic import atomic_dir
from tft_build.steps import modelio, trainlog

if TYPE_CHECKING:
    from tft_build.config.settings import Config

# Batches Keras runs in one call of its compiled train step: per batch, the Python around a call cost about
# as much as the step itself (an epoch ran 2.6x faster, a training task 1.6-1.8x, to the same weights).
BATCHES_PER_CALL = 50
LR_FACTOR = 0.5  # ReduceLROnPlateau's step down of the learning rate
FIT, VALIDATION = "train", "validation"  # the two parts of the training rows
HASH_BUCKETS = 10_000  # a row is held out when its place hashes into the first validation_fraction of these
PARSE_BATCH = 4096  # records parsed in one call when the training rows are read into memory


@traced
def train_model(cfg: "Config", model_name: str) -> dict[str, int | float]:
    """Train the model called ``model_name`` and save it under ``artifacts/models``."""
    tft_output = tft.TFTransformOutput(location.data_dir(cfg, layout.TRANSFORMED))
    features = model_features(tft_output, cfg.label)
    builder = dotted.resolve(cfg, f"models.{model_name}")
    # Layer names (dense_3) count up within a process: a fresh count, so that the saved model's bytes do not
    # depend on what this process built before (the doit process, a worker, a warm worker).
    keras.backend.clear_session()
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()

    spec = tft_output.transformed_feature_spec()
    # Early stopping and the learning-rate schedule choose by the validation rows, carved from training:
    # the eval data is read only by the serving step, to measure.
    # Both parts are parsed once and kept in memory: the epochs take their batches from there.
    tables = parts(cfg, spec)
    rows = {part: int(tf.shape(table[cfg.label])[0]) for part, table in tables.items()}
    if not rows[VALIDATION] or not rows[FIT]:
        raise DataError(f"{model_name}: {rows[FIT] + rows[VALIDATION]} training row(s) are too few to hold out "
                        f"{cfg.where('validation_fraction')} = {cfg.validation_fraction} of them for validation")
    fit_rows = tables[FIT]
    stats = label_stats(fit_rows[cfg.label].numpy(), cfg, tft_output)
    # Validation is read every epoch: its batches are kept after the first.
    validation = in_order(tables[VALIDATION], rows[VALIDATION], cfg).cache()
    with dotted.blamed_on(cfg, f"models.{model_name}"):
        model = builder(features, stats, cfg)
    check_model(cfg, model_name, model)
    if int(model.steps_per_execution) == 1:  # the builder's compile left Keras's default
        model.steps_per_execution = BATCHES_PER_CALL
    built_optimizer(model)
    traced_once(model)
    with trainlog.tensorboard_logs(cfg, model_name) as tensorboard:  # replaced after the model, on success
        # One iterator over all epochs: Keras runs several batches per call only on data of known size, and
        # the order then does not depend on how it iterates.
        fit = model.fit(epochs(fit_rows, rows[FIT], cfg), steps_per_epoch=batches(rows[FIT], cfg),
                        validation_data=validation,
                        epochs=cfg.epochs, verbose=0, callbacks=[
                            *callbacks(cfg), FiniteLoss(model_name), trainlog.EpochLines(model_name, cfg.epochs),
                            tensorboard])

        history = {key: [float(v) for v in values] for key, values in fit.history.items()}
        best = int(np.argmin(history["val_loss"]))
        metric = f"val_{quality_metric(cfg)}"
        fitted = in_order(fit_rows, rows[FIT], cfg)
        summary = {"epochs_run": len(history["val_loss"]), "best_epoch": best + 1, metric: history[metric][best],
                   f"train_{quality_metric(cfg)}": fitted_quality(cfg, model, fitted),
                   "train_rows": rows[FIT], "validation_rows": rows[VALIDATION]}
        with atomic_dir(cfg.artifact(layout.MODELS, model_name)) as staging:
            modelio.save_model(model, staging)
            modelio.write_history(staging, history, summary, stats)
            manifest.write_manifest(staging, {"model": model_name, **summary})
    print(f"{model_name}: best epoch {best + 1}, validation {metric[4:]} {summary[metric]:.3f}, "
          f"train {metric[4:]} {summary['train_' + metric[4:]]:.3f} "
          f"({rows[VALIDATION]} of {rows[FIT] + rows[VALIDATION]} training rows held out)")
    return summary


def check_model(cfg: "Config", model_name: str, model: Any) -> None:
    """A one-line ConfigError, naming the setting, unless the builder made a compiled tf_keras model."""
    where, builder = cfg.where(f"models.{model_name}"), cfg.model_builder(model_name)
    if not isinstance(model, keras.Model):
        raise ConfigError(f"{where}: {builder} returned {type(model).__name__}; a builder returns a tf_keras model")
    if getattr(model, "optimizer", None) is None:
        raise ConfigError(f"{where}: {builder} returned a model that is not compiled; call model.compile(...) in it")


def built_optimizer(model: keras.Model) -> None:
    """Create the optimizer's variables (Adam's moments, all zeros) before ``fit``.

    Created inside the first trace of Keras's train function instead, they make TF trace that function
    twice (a function that creates variables is traced again without): 0.5-0.7 s more per training, for
    the same weights. A legacy optimizer (no ``build``) creates them as before.
    """
    build = getattr(model.optimizer, "build", None)
    if build is not None:
        build(model.trainable_variables)


def traced_once(model: keras.Model) -> None:
    """Give ``model`` train and test functions that run its ``steps_per_execution`` batches a call, as
    Keras's do, but are traced once.

    Keras's loop, ``for _ in tf.range(steps): outputs = step(iterator)``, leaves ``outputs`` undefined
    before it, so autograph runs the step once more, in a scratch graph, to learn what the loop
    carries: about 0.5 s of a training's CPU. These loops carry nothing: a step's outputs are the model's
    metric results, read once after the loop (the same values). Keras's own one-batch functions are
    the steps, so a model with a train or test step of its own keeps Keras's functions.
    """
    if type(model).train_step is not keras.Model.train_step or type(model).test_step is not keras.Model.test_step:
        return
    steps = model.steps_per_execution  # a variable: Keras's data handler sets it to the batches left in an epoch
    count = int(steps.numpy())
    steps.assign(1)  # Keras then makes its one-batch functions
    try:
        train_step = model.make_train_function(force=True).python_function
        test_step = model.make_test_function(force=True).python_function
    finally:
        steps.assign(count)

    def looped(step: Any) -> Any:
        def function(iterator: Any) -> dict[str, tf.Tensor]:
            for _ in tf.range(steps):
                step(iterator)
            return model.get_metrics_result()

        return tf.function(function, reduce_retracing=True)

    model.train_function = model.train_tf_function = looped(train_step)  # the latter: TensorBoard's graph
    model.test_function = looped(test_step)


class FiniteLoss(keras.callbacks.Callback):
    """Stop training at the first call whose loss is not finite (Keras reports a call of several batches
    by its last), in one line: a NaN model never replaces a good one (the trained model is written only
    after fit returns)."""

    def __init__(self, model_name: str):
        super().__init__()
        self.model_name = model_name
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            raise DataError(
                f"{self.model_name}: the training loss became {loss} in epoch {self.epoch + 1}, by batch {batch + 1}; "
                "look for extreme values in the data, or lower learning_rate"
            )


@traced
def fitted_quality(cfg: "Config", model: keras.Model, rows: tf.data.Dataset) -> float:
    """The kept model's quality metric on ``rows`` (the ones it was fit on): beside the validation and
    eval figures, it shows how much the model fits its own rows better than unseen ones."""
    return float(model.evaluate(rows, return_dict=True, verbose=0)[quality_metric(cfg)])


def quality_metric(cfg: "Config") -> str:
    """The metric the models report while training: rmse or accuracy."""
    return "accuracy" if cfg.classification else "rmse"


@traced
def callbacks(cfg: "Config") -> list[keras.callbacks.Callback]:
    """Halve the learning rate when the validation loss stalls; stop when it stays up.

    At the full rate Adam's steps jump around the minimum; the learning rate
    is halved after ``lr_patience`` epochs without a better validation loss so the
    model settles in it, and training stops after ``patience`` such epochs,
    keeping the best weights.
    """
    return [
        keras.callbacks.ReduceLROnPlateau(factor=LR_FACTOR, patience=cfg.lr_patience),
        keras.callbacks.EarlyStopping(patience=cfg.patience, restore_best_weights=True),
        keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: interrupt.check()),
    ]


@traced
def model_features(tft_output: tft.TFTransformOutput, label: str) -> dict[str, Feature]:
    """``{name: Feature}`` for every transformed feature but the label.

    Each must be one value per row, and integer features must carry their domain (as TFT's bucketize
    records it), since the model needs to know how many ids to one-hot or embed.
    """
    domains = tft_output.transformed_domains()
    features = {}
    for name, spec in tft_output.transformed_feature_spec().items():
        if not isinstance(spec, tf.io.FixedLenFeature):  # a dense value per row is what the batches gather
            raise ConfigError(
                f"preprocessing_fn: feature '{name}' is {type(spec).__name__} (a varying number of values per "
                "row); models take one value per row: reduce it to one (tf.sparse.reduce_sum, a count, "
                "tft.bucketize of a summary) or leave it out of the outputs"
            )
        if name == label:
            continue
        if spec.dtype.is_integer:
            domain = domains.get(name)
            if not isinstance(domain, schema_pb2.IntDomain) or domain.min != 0:
                raise ConfigError(
                    f"preprocessing_fn: integer feature '{name}' has no 0-based domain; "
                    "produce it with tft.bucketize/compute_and_apply_vocabulary or "
                    "tft_build.generic.preprocessing.categorical"
                )
            features[name] = Feature("int", int(domain.max) + 1)
        elif spec.dtype.is_floating:
            features[name] = Feature("float")
        else:
            raise ConfigError(
                f"preprocessing_fn: feature '{name}' is {spec.dtype.name}; models take floats and integer ids"
            )
    return features


def in_memory(rows: tf.data.Dataset, spec: Mapping[str, Any]) -> dict[str, tf.Tensor]:
    """Serialized ``rows`` parsed, ``{feature: [rows] tensor}``, the features and the label in the order of
    ``rows``. Parsed once, where every epoch parsed every record again before (and the table is smaller than the
    serialized records)."""
    chunks = list(rows.batch(PARSE_BATCH).map(lambda batch: tf.io.parse_example(batch, spec),
                                              num_parallel_calls=tf.data.AUTOTUNE))
    if not chunks:  # no rows (an eval split the row filter emptied)
        return {name: tf.zeros([0], feature.dtype) for name, feature in spec.items()}
    return {name: tf.concat([chunk[name] for chunk in chunks], 0) for name in spec}


def epochs(table: Mapping[str, tf.Tensor], rows: int, cfg: "Config") -> tf.data.Dataset:
    """Batches of ``({feature: [batch, 1]}, label)`` of the ``rows`` rows of ``table`` (:func:`in_memory`), epoch
    after epoch without end, each epoch in its own permutation of the rows: a stateless shuffle seeded by the
    seed and the epoch's number, the same in every process and at every rerun."""
    seed = tf.constant(cfg.seed, tf.int64)

    def order(number: tf.Tensor) -> tf.Tensor:
        return tf.random.experimental.stateless_shuffle(tf.range(rows, dtype=tf.int64), seed=tf.stack([seed, number]))

    return batched(table, tf.data.Dataset.counter().map(order), rows, cfg)


def in_order(table: Mapping[str, tf.Tensor], rows: int, cfg: "Config") -> tf.data.Dataset:
    """Batches of the ``rows`` rows of ``table`` (:func:`in_memory`) in their order, once: a dataset of known
    size (Keras needs it to run several batches per call)."""
    once = tf.data.Dataset.from_tensors(tf.range(rows, dtype=tf.int64))
    return batched(table, once, rows, cfg).apply(tf.data.experimental.assert_cardinality(batches(rows, cfg)))


def batched(table: Mapping[str, tf.Tensor], orders: tf.data.Dataset, rows: int, cfg: "Config") -> tf.data.Dataset:
    """Batches of ``({feature: [batch, 1]}, label)`` of the ``rows`` rows of ``table``, each of ``orders`` (an
    order of all the rows) cut into batches; a batch is a gather of its rows (not a pass of each row through
    the dataset), and every function of the dataset is made once, not once per epoch.

    The features are gathered from a matrix of each type (:func:`stacked`) and split into their columns: a
    few ops a batch instead of two a feature, the same values (the input took 0.85 s of CPU over a training
    of 18 epochs).
    """
    size, count = cfg.batch_size, batches(rows, cfg)
    labels, matrices = table[cfg.label], stacked(table, cfg.label)

    def cut(order: tf.Tensor) -> tf.Tensor:  # [count, size], the last batch filled up with -1
        return tf.reshape(tf.pad(order, [[0, count * size - rows]], constant_values=-1), [count, size])

    def batch(places: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        chosen = tf.boolean_mask(places, places >= 0)
        target = tf.gather(labels, chosen)
        if cfg.classification:
            # Rows of a class without an id (-1) can be neither learned nor scored by the loss: left out here;
            # the serving step scores such eval rows as wrong.
            known = target >= 0
            chosen, target = tf.boolean_mask(chosen, known), tf.boolean_mask(target, known)
        features = {}
        for names, matrix in matrices:
            features.update(zip(names, tf.split(tf.gather(matrix, chosen), len(names), axis=1)))
        return features, target

    return orders.map(cut).unbatch().map(batch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def stacked(table: Mapping[str, tf.Tensor], label: str) -> list[tuple[list[str], tf.Tensor]]:
    """The features of ``table`` but ``label``, as ``(names, [rows, len(names)] matrix)`` of each dtype."""
    by_type: dict[tf.DType, list[str]] = {}
    for name, values in table.items():
        if name != label:
            by_type.setdefault(values.dtype, []).append(name)
    return [(names, tf.stack([table[name] for name in names], axis=1)) for names in by_type.values()]


def records(cfg: "Config", split: str) -> tf.data.Dataset:
    """The serialized transformed records of ``split``, in the order they were written."""
    data = location.data_dir(cfg, layout.TRANSFORMED)
    return tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(location.join(data, layout.records_pattern(split)))))


@traced
def parts(cfg: "Config", spec: Mapping[str, Any]) -> dict[str, dict[str, tf.Tensor]]:
    """The training rows parsed once (:func:`in_memory`) and split into the rows fit on (:data:`FIT`) and
    the ones held out (:data:`VALIDATION`), each part's in their order: the one rule of which rows are
    which (:func:`held_out_row` of each row's place), for the networks and the reference model
    (:mod:`tft_build.steps.reference`)."""
    table = in_memory(records(cfg, "train"), spec)
    held_out = held_out_row(tf.range(tf.shape(table[cfg.label], out_type=tf.int64)[0]), cfg.validation_fraction)
    chosen = {FIT: tf.logical_not(held_out), VALIDATION: held_out}
    return {part: {name: tf.boolean_mask(values, rows) for name, values in table.items()}
            for part, rows in chosen.items()}


def held_out_row(place: tf.Tensor, fraction: float) -> tf.Tensor:
    """Whether the training row at ``place`` (its number in the transformed records, which every build
    writes in the same order) is held out for validation: a hash of it, so the rows held out are spread
    over the file and the same in every build."""
    bucket = tf.strings.to_hash_bucket_fast(tf.strings.as_string(place), HASH_BUCKETS)
    return bucket < round(fraction * HASH_BUCKETS)


def batches(rows: int, cfg: "Config") -> int:
    """The batches of ``rows`` rows (the last one short)."""
    return -(-rows // cfg.batch_size)


@traced
def label_stats(labels: np.ndarray, cfg: "Config", tft_output: tft.TFTransformOutput) -> dict[str, Any]:
    """The training rows' ``labels``: mean and standard deviation, or the classes and their counts.

    Builders use them to scale the output layer or size it; serving, as the
    baseline (the mean, the most frequent class).
    """
    if not cfg.classification:
        return {"mean": float(labels.mean()), "std": float(labels.std()) or 1.0}
    classes = [c.decode("utf-8") for c in tft_output.vocabulary_by_name(layout.LABEL_CLASSES)]
    known = labels[labels >= 0]  # a class without an id (-1) is not learned (batched)
    return {"classes": classes, "counts": np.bincount(known, minlength=len(classes)).tolist()}
