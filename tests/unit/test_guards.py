"""Guards on the numbers: a non-finite transformed value, a builder that made no compiled model, a loss that
is not finite; each is one line that names what to fix (the end-to-end cases are in tests/e2e/test_reliability.py)."""

import numpy as np
import pyarrow as pa
import pytest
import tf_keras as keras

from tft_build.config.settings import Config
from tft_build.errors import ConfigError, DataError
from tft_build.steps import digests, train


def test_finite_transformed_values_pass_and_a_nan_or_infinity_is_named():
    good = pa.record_batch({"x": pa.array([1.0, 2.0], pa.float32()), "id": pa.array([1, 2], pa.int64())})
    digests.check_finite(good)
    with pytest.raises(DataError, match="the transformed feature 'x' is NaN or infinite in 1 row"):
        digests.check_finite(pa.record_batch({"x": pa.array([1.0, np.nan], pa.float32())}))
    nested = pa.array([[1.0], [-np.inf]], pa.list_(pa.float32()))
    with pytest.raises(DataError, match="feature 'v' is NaN or infinite"):
        digests.check_finite(pa.record_batch({"v": nested}))


def config(tmp_path):
    return Config(project_dir=tmp_path, models=(("mine", "my_models:build"),), origins=(("models", "c.toml"),))


def test_a_builder_must_return_a_compiled_tf_keras_model(tmp_path):
    with pytest.raises(ConfigError, match=r"^c.toml: setting 'models.mine': my_models:build returned NoneType"):
        train.check_model(config(tmp_path), "mine", None)
    inputs = keras.Input(shape=(1,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ConfigError, match="not compiled; call model.compile"):
        train.check_model(config(tmp_path), "mine", model)
    model.compile(optimizer="adam", loss="mse")
    train.check_model(config(tmp_path), "mine", model)


def test_training_stops_in_one_line_when_the_loss_is_not_finite():
    guard = train.FiniteLoss("mine")
    guard.on_epoch_begin(2)
    guard.on_train_batch_end(0, {"loss": 0.5})
    with pytest.raises(DataError, match=r"^mine: the training loss became nan in epoch 3, by batch 5"):
        guard.on_train_batch_end(4, {"loss": float("nan")})

