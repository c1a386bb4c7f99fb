"""The training rows' batches: parsed once, each epoch every row once, in an order of its own that every
process and rerun repeats; the rows fit on and held out in their order, in a dataset of known size; a
feature of several values per row is refused in one line."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from support import ROOT

from tft_build.config.settings import load_config
from tft_build.errors import ConfigError
from tft_build.steps import train

ROWS = 10


def small(seed=7):
    """The taxi project's config with batches of 4 (10 rows: 4, 4 and 2); a table whose label numbers its rows."""
    cfg = dataclasses.replace(load_config(ROOT), batch_size=4, seed=seed)
    table = {cfg.label: tf.range(ROWS, dtype=tf.float32), "twice": 2 * tf.range(ROWS, dtype=tf.float32)}
    return cfg, table


def first_epochs(cfg, table, count=3):
    """The row numbers of each batch of the first ``count`` epochs, per epoch; checks that the features
    come with their rows, as ``[batch, 1]`` inputs."""
    per_epoch = train.batches(ROWS, cfg)
    epochs = [[] for _ in range(count)]
    for number, (features, label) in enumerate(train.epochs(table, ROWS, cfg).take(count * per_epoch)):
        assert features["twice"].shape == (len(label), 1)
        assert np.array_equal(features["twice"].numpy()[:, 0], 2 * label.numpy())
        epochs[number // per_epoch].append(label.numpy().astype(int).tolist())
    return epochs


def test_each_epoch_takes_every_row_once_in_its_own_seeded_order():
    cfg, table = small()
    epochs = first_epochs(cfg, table)
    for batches in epochs:
        assert [len(batch) for batch in batches] == [4, 4, 2]  # the last batch short, within its epoch
        assert sorted(sum(batches, [])) == list(range(ROWS))
    orders = [sum(batches, []) for batches in epochs]
    assert len({tuple(order) for order in orders}) == 3  # a fresh order at each epoch
    assert first_epochs(cfg, table) == epochs  # the same orders in another dataset: another run, another process
    assert first_epochs(*small(seed=8)) != epochs  # the seed chooses them


def test_the_rows_in_order_are_a_dataset_of_known_size():
    cfg, table = small()
    batches = train.in_order(table, ROWS, cfg)
    assert int(batches.cardinality()) == 3  # Keras runs several batches per call only on data of known size
    assert [label.numpy().astype(int).tolist() for _, label in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_the_rows_are_parsed_once_into_one_table_even_none():
    records = [tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)]))})).SerializeToString() for i in range(5)]
    train.PARSE_BATCH, previous = 2, train.PARSE_BATCH  # several parse calls, joined in order
    try:
        spec = {"x": tf.io.FixedLenFeature([], tf.float32)}
        table = train.in_memory(tf.data.Dataset.from_tensor_slices(records), spec)
    finally:
        train.PARSE_BATCH = previous
    assert table["x"].numpy().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    emptied = tf.data.Dataset.from_tensor_slices(tf.constant([], tf.string))  # an eval split the row filter emptied
    none = train.in_memory(emptied, spec)
    assert none["x"].shape == (0,) and none["x"].dtype == tf.float32


class Transformed:
    """What model_features reads of a TFTransformOutput: the transformed spec and domains."""

    def __init__(self, spec):
        self.spec = spec

    def transformed_feature_spec(self):
        return self.spec

    def transformed_domains(self):
        return {}


def test_a_feature_of_several_values_per_row_fails_in_one_line_naming_it():
    dense = {"fare": tf.io.FixedLenFeature([], tf.float32), "km": tf.io.FixedLenFeature([], tf.float32)}
    assert set(train.model_features(Transformed(dense), "fare")) == {"km"}
    with pytest.raises(ConfigError, match="feature 'words' is VarLenFeature .*one value per row"):
        train.model_features(Transformed({**dense, "words": tf.io.VarLenFeature(tf.int64)}), "fare")
