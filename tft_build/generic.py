"""Preprocessing for any columns: one feature per column, by its type.

The building blocks of a ``preprocessing_fn`` for data tft_build knows
nothing about, and a ``preprocessing_fn`` made of them that needs no code at
all (name ``"tft_build.generic:preprocessing_fn"`` in the config). ``tft-tasks
init-config`` writes the same thing out, column by column, as a user module
to edit.

Numbers are standardized; text and small integer codes become ids through a
vocabulary of the training data, with one more id for values not seen in
training, so the model builders can one-hot or embed them (the domain is in
the transformed schema); timestamps become hour-of-day and day-of-week ids.
Everything is pure TensorFlow and TFT, so the transform serves as it trains.
"""

import tensorflow as tf
import tensorflow_transform as tft

from tft_build.preprocessing import categorical, parse_timestamp

# Vocabularies keep at most this many of the most frequent values; the rest share the extra id.
MAX_VOCABULARY = 10_000


def numeric(x):
    """A number column standardized to mean 0, variance 1 over the training rows."""
    return tft.scale_to_z_score(tf.cast(x, tf.float32))


def category(x, top_k=MAX_VOCABULARY):
    """Ids ``0..n`` of a text or integer code column: its training vocabulary plus one unseen-value id."""
    if x.dtype.is_integer:
        x = tf.strings.as_string(x)
    return tft.compute_and_apply_vocabulary(x, top_k=top_k, num_oov_buckets=1)


def time_parts(name, x):
    """``{name_hour, name_weekday}`` ids of a ``YYYY-MM-DD HH:MM:SS[ UTC]`` timestamp column."""
    hour, weekday, _ = parse_timestamp(x)
    return {f"{name}_hour": categorical(hour, 24), f"{name}_weekday": categorical(weekday, 7)}


def preprocessing_fn(inputs, cfg):
    """Every column but the key as a feature by its type; the label unchanged."""
    features = {cfg.label: inputs[cfg.label]}
    for column in cfg.columns:
        if column.name in (cfg.label, cfg.key_column):
            continue
        x = inputs[column.name]
        if column.type == "timestamp":
            features.update(time_parts(column.name, x))
        elif column.type == "string":
            features[column.name] = category(x)
        else:
            features[column.name] = numeric(x)
    return features
