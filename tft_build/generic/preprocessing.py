"""Preprocessing for any columns: one feature per column, by its type.

The building blocks of a ``preprocessing_fn`` for data tft_build knows
nothing about, and a ``preprocessing_fn`` made of them that needs no code at
all (name ``"tft_build.generic.preprocessing:preprocessing_fn"`` in the config). ``tft-tasks
init-config`` writes the same thing out, column by column, as a user module
to edit.

Numbers are standardized; text and small integer codes become ids through a
vocabulary of the training data, with one more id for values not seen in
training, so the model builders can one-hot or embed them (the domain is in
the transformed schema); timestamps become hour-of-day and day-of-week ids.
Everything is pure TensorFlow and TFT, so the transform serves as it trains.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform import schema_inference

if TYPE_CHECKING:
    from tft_build.config.settings import Config

# Vocabularies keep at most this many of the most frequent values; the rest share the extra id.
MAX_VOCABULARY = 10_000
# Days are counted from 1 January of this year, the first of the NYC taxi fare data; any fixed day would do.
EPOCH_YEAR = 2009


def numeric(x: tf.Tensor) -> tf.Tensor:
    """A number column standardized to mean 0, variance 1 over the training rows."""
    return tft.scale_to_z_score(tf.cast(x, tf.float32))


def category(x: tf.Tensor, top_k: int = MAX_VOCABULARY) -> tf.Tensor:
    """Ids ``0..n`` of a text or integer code column: its training vocabulary plus one unseen-value id."""
    if x.dtype.is_integer:
        x = tf.strings.as_string(x)
    return tft.compute_and_apply_vocabulary(x, top_k=top_k, num_oov_buckets=1)


def time_parts(name: str, x: tf.Tensor) -> dict[str, tf.Tensor]:
    """``{name_hour, name_weekday}`` ids of a ``YYYY-MM-DD HH:MM:SS[ UTC]`` timestamp column."""
    hour, weekday, _ = parse_timestamp(x)
    return {f"{name}_hour": categorical(hour, 24), f"{name}_weekday": categorical(weekday, 7)}


def preprocessing_fn(inputs: Mapping[str, tf.Tensor], cfg: "Config") -> dict[str, tf.Tensor]:
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


def parse_timestamp(text: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Hour (0-23), weekday (Monday=0) and days since EPOCH_YEAR-01-01.

    ``text`` is ``YYYY-MM-DD HH:MM:SS UTC``; fixed-width substrings and integer
    calendar arithmetic stay pure TF (tensorflow-addons' parse_time is gone).
    """
    def field(pos, length):
        return tf.strings.to_number(tf.strings.substr(text, pos, length), tf.int64)

    year, month, day, hour = field(0, 4), field(5, 2), field(8, 2), field(11, 2)
    days = days_from_civil(year, month, day)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    epoch = days_from_civil(*(tf.constant(v, tf.int64) for v in (EPOCH_YEAR, 1, 1)))
    return hour, weekday, days - epoch


def days_from_civil(year: tf.Tensor, month: tf.Tensor, day: tf.Tensor) -> tf.Tensor:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year = year - tf.cast(month <= 2, tf.int64)
    era = year // 400
    year_of_era = year - era * 400
    shift = tf.where(month > 2, tf.constant(-3, tf.int64), tf.constant(9, tf.int64))
    day_of_year = (153 * (month + shift) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def categorical(ids: tf.Tensor, size: int) -> tf.Tensor:
    """``ids`` marked in the transformed schema as categorical in ``[0, size)``.

    Model builders read the domain from the schema to size one-hot vectors and
    embeddings; TFT's own bucketize records its domain the same way.
    """
    ids = tf.cast(ids, tf.int64)
    schema_inference.set_tensor_schema_override(
        ids, tf.constant(0, tf.int64), tf.constant(size - 1, tf.int64)
    )
    return ids
