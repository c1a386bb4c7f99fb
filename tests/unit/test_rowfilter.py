"""The taxi row filter: its bounds, one row or a batch, and the generator counting clean rides with it."""

import numpy as np

from tft_build.examples.taxi import datagen, rowfilter
from tft_build.examples.taxi.rowfilter import is_clean_ride

COLUMNS = ("fare_amount", "pickup_longitude", "pickup_latitude", "dropoff_longitude", "dropoff_latitude",
           "passenger_count")


def test_the_generator_counts_clean_rides_with_the_filter():
    """One clean-ride rule: the noise floor's clean rows are the rows the pipeline keeps."""
    rides, _ = datagen.generate_rides(5000, seed=7)
    assert datagen.is_clean_ride is rowfilter.is_clean_ride
    mask = is_clean_ride({name: getattr(rides, name) for name in COLUMNS})
    assert mask.dtype == bool and (mask == datagen.clean_mask(rides)).all()


def test_one_row_at_a_time_gives_the_batch_mask():
    rides, _ = datagen.generate_rides(5000, seed=7)
    expected = datagen.clean_mask(rides)
    got = np.array([
        is_clean_ride({name: getattr(rides, name)[i] for name in COLUMNS})
        for i in range(len(rides.fare_amount))
    ])
    assert expected.dtype == bool and (got == expected).all()
    assert 0 < (~got).sum() < 0.05 * len(got)


def test_bounds_are_inclusive():
    fares = np.array([2.5, 2.49, 10, 10, 10, 10, 10])
    lon = np.array([-73.98, -73.98, -74.31, -73.98, -73.98, -73.98, -73.98])
    lat = np.array([40.75, 40.75, 40.75, 41.81, 40.75, 40.75, 40.75])
    passengers = np.array([6, 1, 1, 1, 0, 7, 1])
    columns = {"fare_amount": fares, "pickup_longitude": lon, "pickup_latitude": lat,
               "dropoff_longitude": lon, "dropoff_latitude": lat, "passenger_count": passengers}
    np.testing.assert_array_equal(is_clean_ride(columns), [True, False, False, False, False, False, True])


def test_one_row_of_python_scalars_gives_a_bool():
    row = {"fare_amount": 7.5, "pickup_longitude": -73.99, "pickup_latitude": 40.75,
           "dropoff_longitude": -73.97, "dropoff_latitude": 40.78, "passenger_count": 1.0}
    assert is_clean_ride(row) is True
    assert is_clean_ride({**row, "passenger_count": 0.0}) is False
