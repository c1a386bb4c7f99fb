"""The reference model: gradient-boosted trees on the features and training rows the networks get.

Does the network earn its keep? The baseline (the training mean, the
majority class) says whether a model learned anything; this says whether a
network learned more than a strong, untuned, off-the-shelf learner does from
the very same inputs. It fits on the transformed training records the
networks fit on (the :data:`~tft_build.steps.train.FIT` rows, by the one rule
of :func:`tft_build.steps.train.parts`), stops adding trees when the loss
on the held-out :data:`~tft_build.steps.train.VALIDATION` rows stops falling
(as the networks' early stopping does; the eval data chooses nothing), and
scores the transformed eval records: the clean eval rows, the rows the
networks' metrics count. Its figures (``reference_rmse`` and
``reference_mae``, or ``reference_accuracy`` and ``reference_log_loss``) are
measured by the serving step's own functions and written to
``artifacts/reference/metrics.json``; each model's serving step copies them
into its metrics file.

The library is scikit-learn's ``HistGradientBoostingRegressor`` /
``HistGradientBoostingClassifier``: a well-kept library of plain wheels (no
system packages, no GPU, nothing to compile), boosted trees that need no
scaling or tuning to be good on tabular features, categorical features
handled natively, and deterministic with its ``random_state`` fixed.

Features are the networks' (:func:`tft_build.steps.train.model_features`):
an integer id with at most :data:`MAX_CATEGORIES` values is a categorical
feature (HGB bins each category on its own, and allows no more than its
``max_bins``), a larger id set (a hashed cross) is treated as a number, and
floats are numbers. The label is the transformed one: the regression label
as float32, class ids for classification (an eval row of a class never seen
in training, id -1, is a miss, as for the networks).

The same data gives the same bytes: ``random_state`` is the ``seed``
setting, and the trees are grown on one OpenMP thread, since HGB sums the
gradients in parallel in an order that depends on the number of threads.
"""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow_transform as tft
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from tft_build import layout
from tft_build.engine.trace import traced
from tft_build.errors import DataError
from tft_build.generic.models import Feature
from tft_build.io import location, manifest
from tft_build.io.atomic import atomic_dir
from tft_build.steps import serve, train

if TYPE_CHECKING:
    from tft_build.config.settings import Config

MAX_CATEGORIES = 255  # HGB's largest max_bins: ids with at most this many values are categories, more are numbers
MAX_ITER = 1000  # a ceiling on the trees; the validation rows stop it long before, as a rule
N_ITER_NO_CHANGE = 10  # stop after this many trees without a lower validation loss


@traced
def train_reference_model(cfg: "Config") -> dict[str, Any]:
    """Fit the reference model on the FIT rows, stopped by the VALIDATION rows; write its eval figures."""
    tft_output = tft.TFTransformOutput(location.data_dir(cfg, layout.TRANSFORMED))
    features = train.model_features(tft_output, cfg.label)
    spec = tft_output.transformed_feature_spec()
    tables = train.parts(cfg, spec)
    fit, validation = (known(cfg, as_numpy(tables[part])) for part in (train.FIT, train.VALIDATION))
    evaluation = as_numpy(train.in_memory(train.records(cfg, "eval"), spec))
    rows = {part: len(columns[cfg.label]) for part, columns in ((train.FIT, fit), (train.VALIDATION, validation))}
    if not rows[train.FIT] or not rows[train.VALIDATION]:
        raise DataError(f"reference model: {sum(rows.values())} training row(s) are too few to hold out "
                        f"{cfg.where('validation_fraction')} = {cfg.validation_fraction} of them for validation")
    categorical = categorical_mask(features)
    x_fit, y_fit = feature_matrix(fit, features), fit[cfg.label]
    x_eval = feature_matrix(evaluation, features)
    with threadpool_limits(1, user_api="openmp"):
        if cfg.classification:
            classes = tft_output.vocabulary_size_by_name(layout.LABEL_CLASSES)
            seen = np.isin(validation[cfg.label], y_fit)  # early stopping scores only classes it can predict
            model = reference_model(cfg, categorical).fit(
                x_fit, y_fit, X_val=feature_matrix(validation, features)[seen], y_val=validation[cfg.label][seen]
            )
            probabilities = class_probabilities(model.classes_, model.predict_proba(x_eval), classes)
            figures = classification_figures(evaluation[cfg.label], probabilities)
        else:
            model = reference_model(cfg, categorical).fit(
                x_fit, y_fit, X_val=feature_matrix(validation, features), y_val=validation[cfg.label]
            )
            figures = regression_figures(evaluation[cfg.label], model.predict(x_eval))
    names = sorted(features)
    summary = {
        **figures,
        "count": len(evaluation[cfg.label]),
        "estimator": type(model).__name__,
        "iterations": int(model.n_iter_),
        "train_rows": rows[train.FIT],
        "validation_rows": rows[train.VALIDATION],
        "categorical_features": [name for name, is_category in zip(names, categorical) if is_category],
        "numeric_features": [name for name, is_category in zip(names, categorical) if not is_category],
    }
    with atomic_dir(cfg.artifact(layout.REFERENCE)) as staging:
        (staging / layout.REFERENCE_METRICS).write_text(manifest.to_json(summary), encoding="utf-8")
    shown = ", ".join(f"{name[len(serve.REFERENCE_PREFIX):]} {value:.3f}" for name, value in figures.items()
                      if value is not None)
    print(f"reference model ({summary['estimator']}, {summary['iterations']} trees): {shown} "
          f"on {summary['count']} eval rows")
    return summary


def reference_model(
    cfg: "Config", categorical: Sequence[bool]
) -> HistGradientBoostingRegressor | HistGradientBoostingClassifier:
    """scikit-learn's defaults, but the stopping rule: by the loss on the validation rows given to ``fit``."""
    kind = HistGradientBoostingClassifier if cfg.classification else HistGradientBoostingRegressor
    return kind(
        max_iter=MAX_ITER, categorical_features=list(categorical), early_stopping=True, scoring="loss",
        n_iter_no_change=N_ITER_NO_CHANGE, random_state=cfg.seed % 2**32,
    )


def as_numpy(table: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """``{name: [rows]}`` of a parsed table (:func:`tft_build.steps.train.in_memory`) as numpy arrays."""
    return {name: values.numpy() for name, values in table.items()}


def known(cfg: "Config", columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The rows whose class is known (id >= 0), as the networks learn (:func:`tft_build.steps.train.batched`);
    for regression, all."""
    if not cfg.classification:
        return dict(columns)
    keep = columns[cfg.label] >= 0
    return {name: values[keep] for name, values in columns.items()}


def categorical_mask(features: Mapping[str, Feature]) -> list[bool]:
    """Per feature, in name order: whether it is a categorical feature of the trees (an id with at most
    MAX_CATEGORIES values)."""
    return [f.dtype == "int" and f.buckets <= MAX_CATEGORIES for _, f in sorted(features.items())]


def feature_matrix(columns: Mapping[str, np.ndarray], features: Mapping[str, Feature]) -> np.ndarray:
    """The ``[rows, features]`` float64 matrix of the features, in name order (ids are exact in float64)."""
    return np.column_stack([np.asarray(columns[name], np.float64) for name in sorted(features)])


def class_probabilities(model_classes: Sequence[int], probabilities: np.ndarray, classes: int) -> np.ndarray:
    """``[rows, classes]``: the model's probabilities of the classes it saw in training (``model_classes``,
    its columns), and 0 for the others. (Fitted on one class, scikit-learn gives a second column, of about 0.)"""
    full = np.zeros((len(probabilities), classes))
    full[:, np.asarray(model_classes, np.int64)] = probabilities[:, :len(model_classes)]
    return full


def regression_figures(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float | None]:
    """``reference_rmse`` and ``reference_mae``, measured as the networks' (None without rows)."""
    figures = serve.regression_errors(labels, predictions) if len(labels) else dict.fromkeys(("rmse", "mae"))
    return prefixed(figures)


def classification_figures(truth: np.ndarray, probabilities: np.ndarray) -> dict[str, float | None]:
    """``reference_accuracy`` and ``reference_log_loss``, measured as the networks' (None without rows);
    ``truth`` holds class ids, -1 for a class never seen in training (a miss)."""
    if not len(truth):
        return prefixed(dict.fromkeys(("accuracy", "log_loss")))
    truth = np.asarray(truth, np.int64)
    figures = {"accuracy": serve.accuracy(truth, probabilities), "log_loss": serve.log_loss(truth, probabilities)}
    return prefixed(figures)


def prefixed(figures: Mapping[str, float | None]) -> dict[str, float | None]:
    """The figures named as the reference's: ``rmse`` is ``reference_rmse``."""
    return {serve.REFERENCE_PREFIX + name: value for name, value in figures.items()}
