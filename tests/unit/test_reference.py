"""The reference model's parts on tiny arrays: its features, its figures, and the copy beside each model's."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from tft_build import layout
from tft_build.generic.models import Feature
from tft_build.steps import reference, serve

FEATURES = {"trip_km": Feature("float"), "hour": Feature("int", 24), "cell": Feature("int", 256),
            "weekday": Feature("int", 7)}


def test_small_id_sets_are_categories_large_ones_and_floats_numbers():
    # in name order: cell (256 ids: too many for HGB's bins), hour, trip_km, weekday
    assert reference.categorical_mask(FEATURES) == [False, True, False, True]
    assert reference.categorical_mask({"ids": Feature("int", reference.MAX_CATEGORIES)}) == [True]


def test_the_feature_matrix_holds_the_features_in_name_order():
    columns = {"trip_km": np.array([1.5, 2.25], np.float32), "hour": np.array([0, 23]),
               "cell": np.array([255, 3]), "weekday": np.array([6, 0]), "fare": np.array([9.0, 10.0])}
    matrix = reference.feature_matrix(columns, FEATURES)
    assert matrix.dtype == np.float64
    assert matrix.tolist() == [[255, 0, 1.5, 6], [3, 23, 2.25, 0]]
    empty = {name: np.zeros(0) for name in columns}
    assert reference.feature_matrix(empty, FEATURES).shape == (0, 4)


def test_class_probabilities_cover_every_class_of_the_vocabulary():
    full = reference.class_probabilities([0, 2], np.array([[0.9, 0.1], [0.2, 0.8]]), 4)
    assert full.tolist() == [[0.9, 0, 0.1, 0], [0.2, 0, 0.8, 0]]
    one = reference.class_probabilities([1], np.array([[1.0, 2e-15]]), 3)  # sklearn's two columns for one class
    assert one.tolist() == [[0, 1.0, 0]]


def test_the_figures_are_measured_as_the_networks_are():
    labels, predictions = np.array([1.0, 2.0, 4.0], np.float32), np.array([2.0, 2.0, 2.0])
    figures = reference.regression_figures(labels, predictions)
    assert figures == {"reference_rmse": pytest.approx(np.sqrt(5 / 3)), "reference_mae": pytest.approx(1.0)}
    assert list(figures) == [f"reference_{name}" for name in serve.regression_errors(labels, predictions)]
    truth = np.array([0, 1, -1, 1])  # -1: a class never seen in training, a miss
    probabilities = np.array([[0.6, 0.4], [0.3, 0.7], [0.5, 0.5], [0.9, 0.1]])
    figures = reference.classification_figures(truth, probabilities)
    assert figures["reference_accuracy"] == 0.5
    expected = -np.mean(np.log([0.6, 0.7, serve.MIN_PROBABILITY, 0.1]))
    assert figures["reference_log_loss"] == pytest.approx(expected)
    assert reference.regression_figures(np.zeros(0), np.zeros(0)) == {"reference_rmse": None, "reference_mae": None}
    assert reference.classification_figures(np.zeros(0), np.zeros((0, 2)))["reference_accuracy"] is None


def test_rows_of_unknown_classes_are_left_out_of_training_as_for_the_networks():
    columns = {"label": np.array([0, -1, 2]), "x": np.array([1.0, 2.0, 3.0])}
    kept = reference.known(SimpleNamespace(classification=True, label="label"), columns)
    assert kept["x"].tolist() == [1.0, 3.0]
    assert reference.known(SimpleNamespace(classification=False, label="label"), columns)["x"].tolist() == [1, 2, 3]


@pytest.mark.parametrize("classification", [False, True])
def test_the_same_rows_fit_the_same_trees(classification):
    """Stopped by the validation rows given, on one thread: the same data, the same predictions to the bit."""
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.integers(0, 24, 600), rng.normal(size=600)]).astype(np.float64)
    y = (x[:, 0] % 3).astype(np.int64) if classification else x[:, 0] % 5 + x[:, 1] + rng.normal(size=600) * 0.1
    cfg = SimpleNamespace(classification=classification, seed=-7)

    def fitted():
        with reference.threadpool_limits(1, user_api="openmp"):
            model = reference.reference_model(cfg, [True, False]).fit(x[:400], y[:400], X_val=x[400:500],
                                                                      y_val=y[400:500])
            out = model.predict_proba(x[500:]) if classification else model.predict(x[500:])
        return model, out

    (first, a), (second, b) = fitted(), fitted()
    assert a.tobytes() == b.tobytes() and first.n_iter_ == second.n_iter_
    assert first.n_iter_ < reference.MAX_ITER  # the validation rows stopped it
    assert len(first.validation_score_) == first.n_iter_ + 1  # scored on the validation rows at every tree


def test_each_model_gets_the_reference_figures_of_its_own_metrics(tmp_path, capsys):
    cfg = SimpleNamespace(artifact=lambda *parts: str(tmp_path.joinpath(*parts)))
    (tmp_path / layout.REFERENCE).mkdir()
    figures = {"reference_mae": 1.5, "reference_rmse": 2.0, "count": 10, "train_rows": 90, "iterations": 40}
    (tmp_path / layout.REFERENCE / layout.REFERENCE_METRICS).write_text(json.dumps(figures))
    metrics = {"rmse": 2.5, "mae": 1.75, "count": 10, "baseline_rmse": 8.0}
    assert list(serve.reference_figures(cfg, metrics).items()) == [("reference_rmse", 2.0), ("reference_mae", 1.5)]
    assert serve.reference_figures(cfg, {**metrics, "count": 11}) == {}
    assert "the reference model scored 10 eval rows, this model 11" in capsys.readouterr().out
