"""The taxi example's two model builders (the contract: :mod:`tft_build.generic.models`).

Both are regularized wide-and-deep networks on the transformed features
(:func:`tft_build.generic.models.compiled`); the second adds learned embeddings
of the crosses of location buckets, of the ids the training data has enough
rides of.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import tf_keras as keras

from tft_build.generic.models import Feature, compiled, dense_parts, embedded_parts, model_inputs, one_hot_parts

if TYPE_CHECKING:
    from tft_build.config.settings import Config


def build_non_embedding_model(
    features: Mapping[str, Feature], label_stats: Mapping[str, Any], cfg: "Config"
) -> keras.Model:
    """Dense network on the float features and one-hot small categorical ids."""
    inputs = model_inputs(features)
    parts = dense_parts(features, inputs) + one_hot_parts(features, inputs)
    return compiled(inputs, parts, label_stats, cfg)


def build_embedding_model(
    features: Mapping[str, Feature], label_stats: Mapping[str, Any], cfg: "Config"
) -> keras.Model:
    """The non-embedding model plus learned embeddings of the cross ids (pickup and dropoff cells, trip, hour)."""
    inputs = model_inputs(features)
    parts = dense_parts(features, inputs) + one_hot_parts(features, inputs) + embedded_parts(features, inputs)
    return compiled(inputs, parts, label_stats, cfg)
