"""Preprocessing for any columns: one feature per column, by its type.

The building blocks of a ``preprocessing_fn`` for data tft_build knows
nothing about, and a ``preprocessing_fn`` made of them that needs no code at
all (name ``"tft_build.generic.preprocessing:preprocessing_fn"`` in the config). ``tft-tasks
init-config`` writes the same thing out, column by column, as a user module
to edit.

Numbers are standardized; text and small integer codes become ids through a
vocabulary of the training data, with one more id for values not seen in
training, so the model builders can one-hot or embed them (the domain is in
the transformed schema); dates and timestamps become day-of-week (and
hour-of-day) ids, the month and the day of the year as (sin, cos) pairs and a
trend, in years. Everything is pure TensorFlow and TFT, so the transform
serves as it trains; dates are parsed with the very regular expressions the
data checks use (:mod:`tft_build.io.timestamps`).
"""

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform import schema_inference

from tft_build.errors import ConfigError
from tft_build.io import timestamps

if TYPE_CHECKING:
    from tft_build.config.settings import Config

# Vocabularies keep at most this many of the most frequent values; the rest share the extra id.
MAX_VOCABULARY = 10_000
# Days and the trend count from 1 January of this year, the first of the NYC taxi fare data; any fixed day would do.
EPOCH_YEAR = 2009
DAY_SECONDS = 86_400
YEAR_DAYS = 365.25


def numeric(x: tf.Tensor) -> tf.Tensor:
    """A number column standardized to mean 0, variance 1 over the training rows."""
    return tft.scale_to_z_score(tf.cast(x, tf.float32))


def category(x: tf.Tensor, top_k: int = MAX_VOCABULARY) -> tf.Tensor:
    """Ids ``0..n`` of a text or integer code column: its training vocabulary plus one unseen-value id."""
    if x.dtype.is_integer:
        x = tf.strings.as_string(x)
    return tft.compute_and_apply_vocabulary(x, top_k=top_k, num_oov_buckets=1)


def time_parts(name: str, x: tf.Tensor, cfg: "Config | None" = None) -> dict[str, tf.Tensor]:
    """The features of a date or timestamp column: ``name_hour`` (timestamps) and ``name_weekday`` ids,
    the :func:`seasons`, and ``name_years``, the trend (:func:`parse_time`'s years, z-scored).

    The column's type and format come from ``cfg`` (``cfg.column(name)``);
    without it, ``x`` is a timestamp in the built-in forms.
    """
    if cfg is not None and name not in {c.name for c in cfg.columns}:
        raise ConfigError(f"time_parts({name!r}, ..., cfg): {name!r} is not a configured column; "
                          "name the column, or leave out cfg for a timestamp in the built-in forms")
    column = cfg.column(name) if cfg is not None else None
    type_, fmt = (column.type, column.format) if column else ("timestamp", "")
    parts = parse_time(x, type_, fmt)
    hour = {f"{name}_hour": categorical(parts["hour"], 24)} if type_ == "timestamp" else {}
    return {
        **hour,
        f"{name}_weekday": categorical(parts["weekday"], 7),
        **seasons(name, parts),
        f"{name}_years": tft.scale_to_z_score(parts["years"]),
    }


def seasons(name: str, parts: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The month and the day of the year of :func:`parse_time`'s ``parts`` as points on a circle:
    ``name_month_sin``, ``name_month_cos``, ``name_day_of_year_sin``, ``name_day_of_year_cos``,
    so that December is next to January."""
    return {
        **cyclic(f"{name}_month", parts["month"] - 1, 12),
        **cyclic(f"{name}_day_of_year", parts["day_of_year"] - 1, YEAR_DAYS),
    }


def cyclic(name: str, value: tf.Tensor, period: float) -> dict[str, tf.Tensor]:
    """``{name_sin, name_cos}``: ``value`` as an angle, a full turn every ``period``."""
    angle = tf.cast(value, tf.float32) * (2 * math.pi / period)
    return {f"{name}_sin": tf.sin(angle), f"{name}_cos": tf.cos(angle)}


def preprocessing_fn(inputs: Mapping[str, tf.Tensor], cfg: "Config") -> dict[str, tf.Tensor]:
    """Every column but the key as a feature by its type; the label unchanged."""
    features = {cfg.label: inputs[cfg.label]}
    for column in cfg.columns:
        if column.name in (cfg.label, cfg.key_column):
            continue
        x = inputs[column.name]
        if column.type in timestamps.DATE_TYPES:
            features.update(time_parts(column.name, x, cfg))
        elif column.type == "string":
            features[column.name] = category(x)
        else:
            features[column.name] = numeric(x)
    return features


def parse_timestamp(text: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Hour (0-23), weekday (Monday=0) and days since EPOCH_YEAR-01-01 of timestamps in the built-in forms."""
    return hour_weekday_days(parse_time(text))


def hour_weekday_days(parts: Mapping[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """:func:`parse_timestamp`'s three of :func:`parse_time`'s ``parts``: for a ``preprocessing_fn`` that reads
    other parts too, so that it parses the column once (each parse matches every form in every row)."""
    return parts["hour"], parts["weekday"], parts["days"] - _epoch_days()


def parse_time(text: tf.Tensor, type_: str = "timestamp", fmt: str = "") -> dict[str, tf.Tensor]:
    """The parts of the UTC time that each string of a date or timestamp column names, as the data checks read it.

    ``type_`` and ``fmt`` are the column's type and format
    (:func:`tft_build.io.timestamps.forms`). Each string is matched against
    the column's forms, the first that matches deciding; each number is taken
    out of it by its group (``regex_replace``), the UTC offset subtracted.
    Keys: ``days`` (since 1970-01-01), ``hour`` (0-23), ``weekday`` (Monday=0),
    ``month`` (1-12), ``day_of_year`` (1-366), all int64, and ``years``
    (float32: years since EPOCH_YEAR-01-01, the time of day included). A
    string that has none of the forms stops the graph with an error.
    """
    text = tf.strings.strip(text)
    fields, matched = None, tf.zeros_like(text, tf.bool)
    for pattern in reversed(timestamps.forms(type_, fmt)):  # the first form applied last: it decides
        is_form = tf.strings.regex_full_match(text, pattern.pattern)
        got = _fields(text, pattern, is_form)
        fields = got if fields is None else {k: tf.where(is_form, got[k], fields[k]) for k in got}
        matched = matched | is_form
    check = tf.debugging.Assert(tf.reduce_all(matched), ["not a", type_, "of its column's forms:", text], summarize=3)
    with tf.control_dependencies([check]):
        f = {k: tf.identity(v) for k, v in fields.items()}
    offset = f["sign"] * (f["zhour"] * 60 + f["zminute"]) * 60
    seconds = days_from_civil(f["year"], f["month"], f["day"]) * DAY_SECONDS + (
        f["hour"] * 3600 + f["minute"] * 60 + f["second"] - offset)
    days = tf.math.floordiv(seconds, DAY_SECONDS)
    of_day = seconds - days * DAY_SECONDS
    year, month, _ = civil_from_days(days)
    since = tf.cast(days - _epoch_days(), tf.float64) + tf.cast(of_day, tf.float64) / DAY_SECONDS
    return {
        "days": days,
        "hour": of_day // 3600,
        "weekday": (days + 3) % 7,  # 1970-01-01 was a Thursday
        "month": month,
        "day_of_year": days - days_from_civil(year, tf.ones_like(year), tf.ones_like(year)) + 1,
        "years": tf.cast(since / YEAR_DAYS, tf.float32),
    }


def _fields(text, pattern: re.Pattern, is_form):
    """Each of :data:`timestamps.FIELDS` as int64 where ``text`` has ``pattern`` (0 elsewhere); the sign -1 or 1.

    One ``regex_replace`` writes every group, "0" first (a group that took
    nothing reads as 0), space-separated; a field the form lacks is its
    :data:`timestamps.FIRST` value or 0.
    """
    rewrite = " ".join(
        f"0\\{pattern.groupindex[name]}" if name in pattern.groupindex else str(timestamps.FIRST.get(name, 0))
        for name in timestamps.FIELDS
    )
    taken = tf.strings.regex_replace(text, f"^(?:{pattern.pattern})$", rewrite, replace_global=False)
    blank = " ".join("0" for _ in timestamps.FIELDS)
    columns = tf.strings.split(tf.where(is_form, taken, blank), " ").to_tensor(shape=[None, len(timestamps.FIELDS)])
    fields = {}
    for i, name in enumerate(timestamps.FIELDS):
        if name == "sign":
            ones = tf.ones_like(text, tf.int64)
            fields[name] = tf.where(tf.equal(columns[:, i], "0-"), -ones, ones)
        else:
            fields[name] = tf.strings.to_number(columns[:, i], tf.int64)
    return fields


def _epoch_days():
    """Days from 1970-01-01 to EPOCH_YEAR-01-01."""
    return days_from_civil(*(tf.constant(v, tf.int64) for v in (EPOCH_YEAR, 1, 1)))


def days_from_civil(year: tf.Tensor, month: tf.Tensor, day: tf.Tensor) -> tf.Tensor:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year = year - tf.cast(month <= 2, tf.int64)
    era = year // 400
    year_of_era = year - era * 400
    shift = tf.where(month > 2, tf.constant(-3, tf.int64), tf.constant(9, tf.int64))
    day_of_year = (153 * (month + shift) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def civil_from_days(days: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Year, month and day of the proleptic Gregorian date ``days`` after 1970-01-01 (H. Hinnant's algorithm)."""
    z = days + 719468
    era = tf.math.floordiv(z, 146097)
    day_of_era = z - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + tf.where(shifted_month < 10, tf.constant(3, tf.int64), tf.constant(-9, tf.int64))
    year = year_of_era + era * 400 + tf.cast(month <= 2, tf.int64)
    return year, month, day


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
