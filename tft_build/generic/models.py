"""The default model for any data, and the contract every model builder follows.

A builder is called as ``builder(features, label_stats, cfg)``:

- ``features``: ``{name: Feature}`` for every transformed feature but the
  label, each a float or an integer id with a known number of ``buckets``
  (read from the transformed schema, as TFT's bucketize records it);
- ``label_stats``: for regression ``{"mean": ..., "std": ...}`` of the
  training label, so the network predicts a standardized label and the model
  outputs label units; for classification ``{"classes": [...], "counts":
  [...]}``, and the model outputs one probability per class (label ids are
  class indexes);
- ``cfg``: the frozen config (``learning_rate``, ``seed``);

and returns a compiled ``tf_keras`` model that takes one ``[batch, 1]`` input
per feature, named as the feature. ``tf_keras`` (Keras 2) because TFT's
TransformFeaturesLayer is a Keras 2 layer. :func:`build_default_model` needs
nothing but the transformed feature spec; its parts are the blocks of other
builders (the taxi example's, :mod:`tft_build.examples.taxi.models`).
"""

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import tf_keras as keras

if TYPE_CHECKING:
    from tft_build.config.settings import Config

# Ids with at most this many values are one-hot encoded; more get embeddings.
ONE_HOT_MAX_BUCKETS = 32
HIDDEN_UNITS = (128, 64, 32)
# L2 weight decay of the hidden layers and the share of their units dropped while training: a few thousand
# rows are too few for the weights of three layers, which otherwise learn the training fares by heart.
WEIGHT_DECAY = 1e-4
HIDDEN_DROPOUT = 0.1
# The chance that a ride's embedding of one id is zeroed while training.
EMBEDDING_DROPOUT = 0.5


class Feature(NamedTuple):
    """A transformed feature as a model sees it."""

    dtype: str  # "float" or "int"
    buckets: int | None = None  # for ids: the values are 0 .. buckets - 1


def build_default_model(features: Mapping[str, Feature], label_stats: Mapping[str, Any], cfg: "Config") -> keras.Model:
    """A model for any transformed features: floats as they are, small id sets one-hot, large ones embedded.

    It reads nothing but the features' types and id ranges, so a user with
    only a ``preprocessing_fn`` has a model.
    """
    inputs = model_inputs(features)
    parts = dense_parts(features, inputs) + one_hot_parts(features, inputs) + embedded_parts(features, inputs)
    return compiled(inputs, parts, label_stats, cfg)


def embedded_parts(features: Mapping[str, Feature], inputs: Mapping[str, Any]) -> list[Any]:
    """Learned embeddings of the ids with more than ONE_HOT_MAX_BUCKETS values, dropped per row in training."""
    parts = []
    for name, feature in sorted(features.items()):
        if feature.dtype == "int" and feature.buckets > ONE_HOT_MAX_BUCKETS:
            embedded = keras.layers.Embedding(
                feature.buckets,
                embedding_dim(feature.buckets),
                embeddings_regularizer=keras.regularizers.l2(1e-5),
                name=f"{name}_embedding",
            )(inputs[name])
            flat = keras.layers.Flatten(name=f"{name}_flat")(embedded)
            parts.append(feature_dropout(flat, f"{name}_dropout"))
    return parts


def feature_dropout(embedded: Any, name: str) -> Any:
    """The ``[batch, dim]`` embeddings, each ride's whole vector dropped at random.

    Most ids of a large cross are rare, and Adam moves a rare id's vector as
    far per visit as a common one's, so the network soon memorizes the
    training fares through them. Dropping the whole vector (not single
    coordinates) makes it predict from the other features as well, and use
    an id only where the id helps across rides.
    """
    return keras.layers.Dropout(EMBEDDING_DROPOUT, noise_shape=(None, 1), name=name)(embedded)


def embedding_dim(buckets: int) -> int:
    """A common rule of thumb: about the fourth root of the vocabulary, 2..16."""
    return max(2, min(16, round(1.6 * math.pow(buckets, 0.25))))


def model_inputs(features: Mapping[str, Feature]) -> dict[str, Any]:
    """One named ``[batch, 1]`` input per feature."""
    return {
        name: keras.Input(shape=(1,), name=name, dtype="int64" if f.dtype == "int" else "float32")
        for name, f in sorted(features.items())
    }


def dense_parts(features: Mapping[str, Feature], inputs: Mapping[str, Any]) -> list[Any]:
    """The float features as they are (TFT already scaled them)."""
    return [inputs[name] for name, f in sorted(features.items()) if f.dtype == "float"]


def one_hot_parts(features: Mapping[str, Feature], inputs: Mapping[str, Any]) -> list[Any]:
    """Small categorical ids (hour, weekday, buckets) as one-hot vectors."""
    return [
        keras.layers.CategoryEncoding(f.buckets, output_mode="one_hot", name=f"{name}_one_hot")(inputs[name])
        for name, f in sorted(features.items())
        if f.dtype == "int" and f.buckets <= ONE_HOT_MAX_BUCKETS
    ]


def compiled(
    inputs: Mapping[str, Any], parts: Sequence[Any], label_stats: Mapping[str, Any], cfg: "Config"
) -> keras.Model:
    """The shared body and head: hidden layers, then the label's output, with Adam.

    The output layer sees the features beside the last hidden layer (wide and
    deep): what is nearly linear in a feature (a fare in the distance) needs no
    hidden unit, so little data fits it, and the hidden layers learn the rest.
    Regression: one output in label units, on MSE. Classification: a softmax
    over the classes, on cross-entropy, its first bias set to the log of the
    class shares so that training starts from the majority-class prior.
    """
    features = keras.layers.Concatenate(name="features")(parts) if len(parts) > 1 else parts[0]
    x = features
    for units in HIDDEN_UNITS:
        x = keras.layers.Dense(units, activation="relu", kernel_regularizer=keras.regularizers.l2(WEIGHT_DECAY))(x)
        x = keras.layers.Dropout(HIDDEN_DROPOUT)(x)
    x = keras.layers.Concatenate(name="wide_and_deep")([features, x])
    if "classes" in label_stats:
        counts = np.asarray(label_stats["counts"], np.float64) + 1.0
        prior = keras.initializers.Constant(np.log(counts / counts.sum()))
        output = keras.layers.Dense(len(counts), activation="softmax", bias_initializer=prior, name="probabilities")(x)
        loss, metrics = "sparse_categorical_crossentropy", [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    else:
        standardized = keras.layers.Dense(1, name="standardized")(x)
        output = keras.layers.Rescaling(label_stats["std"], offset=label_stats["mean"], name="prediction")(standardized)
        loss, metrics = "mse", [keras.metrics.RootMeanSquaredError(name="rmse")]
    model = keras.Model(inputs=inputs, outputs=output)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=loss, metrics=metrics)
    return model
