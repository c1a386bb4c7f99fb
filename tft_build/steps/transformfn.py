"""A saved transform_fn applied: to a few raw rows in Python (the sample of a build and the view task),
and in a served model, to raw features without the label (:func:`served`); and the first records it
wrote, read back in the same form (:func:`recorded_values`, the sample of a build written in row order).

A transform_fn saved in TF1 mode (``tf_compat_v1``, the default) is applied
eagerly only through a pruned copy of its whole graph, about 0.4 s a call;
imported into a graph of its own and run in a session, once. A TF2 one is
cheaper eagerly (its restored functions) than imported into a graph. So each
is applied the way that is cheap for it (five taxi rows: 0.26 s against 1.06
s for a TF1 one, 0.47 s against 1.0 s for a TF2 one); the values are the
same either way.

In a served model, TFT's loader applies a TF1 transform_fn to the features but
the label by pruning its graph to what they compute: a copy of the whole graph
(about 0.38 s of each serving of the default data) after the load pruned it once
for its signature. :class:`WithoutLabel` calls the signature as loaded, with a
stand-in for the label, as TFT's loader does for a TF2 transform_fn.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.saved import constants, saved_transform_io, saved_transform_io_v2

from tft_build import layout
from tft_build.io import location

PYFUNC_OPS = ("PyFunc", "PyFuncStateless", "EagerPyFunc")  # need TFT's loader, which registers them again


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


def recorded_values(data: str, split: str, rows: int) -> dict[str, list[Any]]:
    """The first ``rows`` transformed records of ``split`` in the build in ``data``, parsed, in the form of
    :func:`transformed_values` (:func:`per_row`)."""
    files = sorted(tf.io.gfile.glob(location.join(data, layout.records_pattern(split))))
    spec = tft.TFTransformOutput(data).transformed_feature_spec()
    records = [record.numpy() for record in tf.data.TFRecordDataset(files).take(rows)]
    parsed = tf.io.parse_example(tf.constant(records, tf.string), spec)
    return {name: per_row(value, len(records)) for name, value in parsed.items()}


def per_row(value: Any, rows: int) -> list[Any]:
    """A feature's values, one per row, from a session's or an eager run's value: a dense array's rows; a
    sparse value's entries of each row, in order; a ragged value's rows."""
    if isinstance(value, (tf.compat.v1.SparseTensorValue, tf.SparseTensor)):
        indices, values = np.asarray(value.indices), np.asarray(value.values)
        return [values[indices[:, 0] == row].tolist() for row in range(rows)]
    if hasattr(value, "to_list"):  # a RaggedTensor, or a session's RaggedTensorValue
        return value.to_list()
    return np.asarray(value).tolist()


def served(output: tft.TFTransformOutput, label: str) -> tf.Module:
    """The transform_fn of ``output`` as a served model applies it, to raw features without ``label``: a
    module whose ``apply({column: [batch] tensor})`` gives the transformed features the label does not
    reach, and which tracks what the transform_fn needs saved with the served model (its graph, tables,
    vocabulary files)."""
    directory = output.transform_savedmodel_dir
    if not saved_transform_io.exported_as_v1(directory):
        return Loaded(directory)
    imported = tf.saved_model.load(directory)
    signature = imported.signatures[constants.TRANSFORM_SIGNATURE]
    if label not in signature.structured_input_signature[1] or any(
            op.type in PYFUNC_OPS for op in signature.graph.get_operations()):
        return Loaded(directory)
    return WithoutLabel(imported, signature, label)


class WithoutLabel(tf.Module):
    """A TF1 transform_fn's signature called with zeros for the label (the empty string for a string
    label); its outputs the label reaches are left out, those of the label itself among them."""

    def __init__(self, imported: Any, signature: Any, label: str):
        super().__init__()
        self.imported = imported  # tracked: what the signature captures is saved with the served model
        object.__setattr__(self, "signature", signature)  # the imported object's, not tracked a second time
        inputs = signature.structured_input_signature[1]
        self.label, self.label_dtype = label, inputs[label].dtype
        # The signature's inputs are its keyword arguments in sorted order.
        reached = downstream(signature.inputs[sorted(inputs).index(label)])
        self.outputs = sorted(name for name, value in signature.structured_outputs.items()
                              if not any(t.op in reached for t in tf.nest.flatten(value, expand_composites=True)))

    def apply(self, raw: Mapping[str, tf.Tensor]) -> dict[str, Any]:
        """The transformed features but those the label reaches, of the raw features but the label."""
        rows = tf.shape(next(iter(raw.values())))[:1]
        transformed = self.signature(**raw, **{self.label: tf.zeros(rows, self.label_dtype)})
        return {name: transformed[name] for name in self.outputs}


def downstream(tensor: tf.Tensor) -> set[tf.Operation]:
    """The ops of ``tensor``'s graph that its value reaches through their inputs (control dependencies
    aside, as TFT's loader sees them)."""
    reached, stack = set(), list(tensor.consumers())
    while stack:
        op = stack.pop()
        if op not in reached:
            reached.add(op)
            stack.extend(consumer for out in op.outputs for consumer in out.consumers())
    return reached


class Loaded(tf.Module):
    """A transform_fn that :class:`WithoutLabel` does not take (TF2, with Python functions, or without the
    label among its inputs), applied
    by TFT's loader, which leaves out the inputs it is not given."""

    def __init__(self, directory: str):
        super().__init__()
        loader = saved_transform_io_v2.SavedModelLoader(directory)
        object.__setattr__(self, "loader", loader)
        # What TFT's Keras layer tracks of it, without the layer: as a Keras model, its call would be
        # traced twice more for a Keras reload (each trace of a TF1 transform_fn prunes its graph).
        self.state = loader.__dict__

    def apply(self, raw: Mapping[str, tf.Tensor]) -> dict[str, Any]:
        """The transformed features the raw features compute."""
        return self.loader.apply_transform_model(raw)
