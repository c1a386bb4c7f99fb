"""The raw data's columns, and how they map to TF feature specs.

A column is a name and a type: string, float, int, date or timestamp (text
like ``2014-05-01`` or ``2014-05-01 08:15:00 UTC``, checked when read against
the forms of :mod:`tft_build.io.timestamps`, or the column's own ``format``,
and handed to TF as a string).
A column with a ``default`` is optional: a missing value (an empty field or
one of :data:`tft_build.io.csvio.NA_VALUES`) is read as the default, and the served model fills
it in for a ``tf.Example`` that lacks the feature, so training and serving
impute alike. The CSV reader (``csvio``) and the Beam steps both use these, so
the TF-free half lives here and the TF half (:func:`feature_spec`) imports
TensorFlow only when called.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

COLUMN_TYPES = ("string", "float", "int", "date", "timestamp")
# What a missing label reads as: a label column may be optional only with this default, which
# no real value can equal (csvio refuses a non-finite float), so a row filter can drop such rows.
NO_LABEL = {"float": math.nan, "string": ""}


@dataclass(frozen=True)
class Column:
    """One raw column: its CSV header name and its value type."""

    name: str
    type: str
    default: str | float | int | None = None  # None: required, a missing value is an error
    format: str = ""  # a date or timestamp column's own form (tft_build.io.timestamps); "": the built-in ones

    @property
    def optional(self) -> bool:
        return self.default is not None

    @property
    def marks_no_label(self) -> bool:
        """Whether the default is :data:`NO_LABEL` of the type: a missing label, not a value to learn."""
        marker = NO_LABEL.get(self.type)
        if marker is None or not self.optional:
            return False
        return math.isnan(self.default) if self.type == "float" else self.default == marker


def columns_from_pairs(
    pairs: Iterable[tuple[str, str] | tuple[str, str, str | float | int | None]]
) -> tuple[Column, ...]:
    """Columns from ``(name, type)``, ``(name, type, default)`` or ``(name, type, default, format)`` tuples."""
    return tuple(Column(*pair) for pair in pairs)


def feature_spec(columns: Iterable[Column], with_defaults: bool = False) -> dict[str, Any]:
    """The ``tf.io`` feature spec of the raw columns: one scalar per row.

    TFT's metadata takes no defaults; the served model's ``tf.Example``
    parser does (``with_defaults``), so an absent optional feature gets the
    value a missing CSV field gets.
    """
    import tensorflow as tf

    dtypes = {"string": tf.string, "date": tf.string, "timestamp": tf.string, "float": tf.float32, "int": tf.int64}
    return {
        c.name: tf.io.FixedLenFeature([], dtypes[c.type], c.default if with_defaults and c.optional else None)
        for c in columns
    }
