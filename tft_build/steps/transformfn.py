"""A saved transform_fn applied to a few raw rows in Python: the sample of a build and the view task.

A transform_fn saved in TF1 mode (``tf_compat_v1``, the default) is applied
eagerly only through a pruned copy of its whole graph, about 0.4 s a call;
imported into a graph of its own and run in a session, once. A TF2 one is
cheaper eagerly (its restored functions) than imported into a graph. So each
is applied the way that is cheap for it (five taxi rows: 0.26 s against 1.06
s for a TF1 one, 0.47 s against 1.0 s for a TF2 one); the values are the
same either way.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.saved import saved_transform_io


def transformed_values(data: str, raw: Mapping[str, Sequence[Any] | np.ndarray]) -> dict[str, list[Any]]:
    """The transform_fn of the build in ``data`` applied to the raw columns ``raw`` (a list of values
    each, one per row, every raw column): each transformed feature's values by name, one per row (a list
    of the row's values for a sparse or ragged feature)."""
    output = tft.TFTransformOutput(data)
    spec = output.raw_feature_spec()
    rows = len(next(iter(raw.values())))
    if not saved_transform_io.exported_as_v1(output.transform_savedmodel_dir):
        tensors = {name: tf.constant(raw[name], dtype=spec[name].dtype) for name in spec}
        transformed = output.transform_features_layer()(tensors)
        return {name: per_row(tensor, rows) for name, tensor in transformed.items()}
    with tf.Graph().as_default():
        tensors = {name: tf.constant(raw[name], dtype=spec[name].dtype) for name in spec}
        transformed = dict(output.transform_raw_features(tensors))
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.tables_initializer())
            return {name: per_row(value, rows) for name, value in session.run(transformed).items()}


def per_row(value: Any, rows: int) -> list[Any]:
    """A feature's values, one per row, from a session's or an eager run's value: a dense array's rows; a
    sparse value's entries of each row, in order; a ragged value's rows."""
    if isinstance(value, (tf.compat.v1.SparseTensorValue, tf.SparseTensor)):
        indices, values = np.asarray(value.indices), np.asarray(value.values)
        return [values[indices[:, 0] == row].tolist() for row in range(rows)]
    if hasattr(value, "to_list"):  # a RaggedTensor, or a session's RaggedTensorValue
        return value.to_list()
    return np.asarray(value).tolist()
