"""The raw data's columns, and how they map to TF feature specs.

A column is a name and a type: string, float, int, or timestamp (text like
``2014-05-01 08:15:00 UTC``, checked when read and handed to TF as a string). The CSV reader (``csvio``) and the
Beam steps both use these, so the TF-free half lives here and the TF half
(:func:`feature_spec`) imports TensorFlow only when called.
"""

from dataclasses import dataclass

COLUMN_TYPES = ("string", "float", "int", "timestamp")

# The seed's NYC taxi columns (Kaggle "New York City Taxi Fare Prediction").
TAXI_COLUMNS = (
    ("key", "string"),
    ("fare_amount", "float"),
    ("pickup_datetime", "timestamp"),
    ("pickup_longitude", "float"),
    ("pickup_latitude", "float"),
    ("dropoff_longitude", "float"),
    ("dropoff_latitude", "float"),
    ("passenger_count", "float"),
)


@dataclass(frozen=True)
class Column:
    """One raw column: its CSV header name and its value type."""

    name: str
    type: str


def columns_from_pairs(pairs):
    """Columns from ``(name, type)`` pairs, in order."""
    return tuple(Column(name, type_) for name, type_ in pairs)


def feature_spec(columns):
    """The ``tf.io`` feature spec of the raw columns: one scalar per row."""
    import tensorflow as tf

    dtypes = {"string": tf.string, "timestamp": tf.string, "float": tf.float32, "int": tf.int64}
    return {c.name: tf.io.FixedLenFeature([], dtypes[c.type]) for c in columns}
