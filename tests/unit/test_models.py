"""The taxi model builders on a made-up feature set."""

import numpy as np
import pytest

from tft_build.config.settings import Config
from tft_build.examples.taxi import models
from tft_build.generic import models as generic_models
from tft_build.generic.models import Feature

FEATURES = {
    "trip_km": Feature("float"),
    "passenger_count": Feature("float"),
    "hour": Feature("int", 24),
    "pickup_cell": Feature("int", 100),
}
STATS = {"mean": 11.5, "std": 9.0}


def batch(n, rng):
    return {
        "trip_km": rng.random((n, 1)).astype("float32"),
        "passenger_count": rng.random((n, 1)).astype("float32"),
        "hour": rng.integers(0, 24, (n, 1)),
        "pickup_cell": rng.integers(0, 100, (n, 1)),
    }


@pytest.mark.parametrize("builder", [models.build_non_embedding_model, models.build_embedding_model])
def test_one_named_input_per_feature_and_one_output(builder, tmp_path):
    model = builder(FEATURES, STATS, Config(project_dir=tmp_path))
    assert sorted(model.input_names) == sorted(FEATURES)
    out = model.predict(batch(5, np.random.default_rng(0)), verbose=0)
    assert out.shape == (5, 1)


def test_only_the_embedding_model_embeds_large_ids(tmp_path):
    cfg = Config(project_dir=tmp_path)
    plain = models.build_non_embedding_model(FEATURES, STATS, cfg)
    embedded = models.build_embedding_model(FEATURES, STATS, cfg)
    assert [layer.name for layer in embedded.layers if "embedding" in layer.name] == ["pickup_cell_embedding"]
    assert not [layer for layer in plain.layers if "embedding" in layer.name]
    assert "hour_one_hot" in {layer.name for layer in plain.layers}


def test_output_is_in_label_units(tmp_path):
    """The network predicts a standardized label; the last layer rescales it."""
    model = models.build_non_embedding_model(FEATURES, STATS, Config(project_dir=tmp_path))
    layer = model.get_layer("prediction")
    assert layer.scale == pytest.approx(STATS["std"])
    assert layer.offset == pytest.approx(STATS["mean"])


def test_the_model_learns_a_simple_function(tmp_path):
    rng = np.random.default_rng(1)
    x = batch(2000, rng)
    y = 11.5 + 9.0 * (2 * x["trip_km"][:, 0] - 1) + 0.1 * x["hour"][:, 0]
    model = models.build_embedding_model(FEATURES, STATS, Config(project_dir=tmp_path))
    first = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, epochs=8, batch_size=64, verbose=0)
    assert model.evaluate(x, y, verbose=0)[0] < first / 5


@pytest.mark.parametrize("buckets,dim", [(33, 4), (100, 5), (10_000, 16), (10**9, 16)])
def test_embedding_dim(buckets, dim):
    assert generic_models.embedding_dim(buckets) == dim


def test_classification_head_starts_from_the_class_prior(tmp_path):
    stats = {"classes": ["stayed", "left", "downgraded"], "counts": [59, 29, 9]}
    model = generic_models.build_default_model(FEATURES, stats, Config(project_dir=tmp_path))
    out = model.predict(batch(5, np.random.default_rng(0)), verbose=0)
    assert out.shape == (5, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    bias = model.get_layer("probabilities").bias.numpy()
    np.testing.assert_allclose(np.exp(bias) / np.exp(bias).sum(), [0.6, 0.3, 0.1], rtol=1e-5)


def test_hidden_layers_are_regularized_and_the_output_sees_the_features(tmp_path):
    """Weight decay and dropout on every hidden layer; the output layer takes the features beside the last
    hidden layer (wide and deep), so what is linear in a feature needs no hidden unit."""
    model = generic_models.build_default_model(FEATURES, STATS, Config(project_dir=tmp_path))
    hidden = [layer for layer in model.layers if layer.name.startswith("dense")]
    assert [layer.units for layer in hidden] == list(generic_models.HIDDEN_UNITS)
    assert all(layer.kernel_regularizer is not None for layer in hidden)
    assert len([layer for layer in model.layers if layer.name.startswith("dropout")]) == len(hidden)
    wide = model.get_layer("wide_and_deep")
    assert model.get_layer("features").output in wide.input
    assert model.get_layer("standardized").input is wide.output
