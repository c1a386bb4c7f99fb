"""The taxi example's row filter: which rides are clean enough to learn from.

A ``preprocessing_fn`` maps rows to rows and cannot drop any, so dirty rows
are dropped by a plain predicate in a Beam step before analysis. The
transform calls it on a batch of rows at once: a mapping of column name to
numpy array, returning a boolean mask. Written with ``&`` (not ``and``), the
same code also takes one typed row (a dict of scalars from
:func:`tft_build.io.csvio.read_rows`) and returns one bool, as serving does.

The data generator (:mod:`tft_build.examples.taxi.datagen`) counts clean
rides with this same function for the noise floor, and places its rides in
the same box (:func:`in_nyc`), so the floor is measured on the rows the
pipeline keeps.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy for the hints only: the filter itself imports nothing
    import numpy as np

# Generous bounds around New York City; the real data has ~2% rides at 0,0.
NYC_LONGITUDE = (-74.30, -72.90)
NYC_LATITUDE = (40.50, 41.80)
MIN_FARE = 2.50  # the initial charge: nothing legitimate costs less
MAX_PASSENGERS = 6


def is_clean_ride(row: Mapping[str, "np.ndarray | float"]) -> "np.ndarray | bool":
    """True where the ride is inside NYC, costs at least $2.50 and had 1-6 riders."""
    return (
        in_nyc(row["pickup_longitude"], row["pickup_latitude"])
        & in_nyc(row["dropoff_longitude"], row["dropoff_latitude"])
        & (row["fare_amount"] >= MIN_FARE)
        & (row["passenger_count"] >= 1)
        & (row["passenger_count"] <= MAX_PASSENGERS)
    )


def in_nyc(longitude: "np.ndarray | float", latitude: "np.ndarray | float") -> "np.ndarray | bool":
    """True where the point lies in the longitude/latitude box that counts as New York City."""
    return _inside(longitude, NYC_LONGITUDE) & _inside(latitude, NYC_LATITUDE)


def _inside(value, bounds):
    low, high = bounds
    return (low <= value) & (value <= high)
