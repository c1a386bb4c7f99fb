"""The taxi row filter agrees with the generator's notion of a clean ride."""

import numpy as np

from tft_build.examples.taxi import datagen
from tft_build.examples.taxi.rowfilter import is_clean_ride

COLUMNS = ("fare_amount", "pickup_longitude", "pickup_latitude", "dropoff_longitude", "dropoff_latitude",
           "passenger_count")


def test_filter_matches_generator_clean_rule():
    rides, _ = datagen.generate_rides(5000, seed=7)
    expected = datagen.clean_mask(rides)
    got = np.array([
        is_clean_ride({name: getattr(rides, name)[i] for name in COLUMNS})
        for i in range(len(rides.fare_amount))
    ])
    assert (got == expected).all()
    assert 0 < (~got).sum() < 0.05 * len(got)


def test_a_batch_of_columns_gives_the_same_mask():
    rides, _ = datagen.generate_rides(5000, seed=7)
    mask = is_clean_ride({name: getattr(rides, name) for name in COLUMNS})
    assert mask.dtype == bool and (mask == datagen.clean_mask(rides)).all()


def test_one_row_of_python_scalars_gives_a_bool():
    row = {"fare_amount": 7.5, "pickup_longitude": -73.99, "pickup_latitude": 40.75,
           "dropoff_longitude": -73.97, "dropoff_latitude": 40.78, "passenger_count": 1.0}
    assert is_clean_ride(row) is True
    assert is_clean_ride({**row, "passenger_count": 0.0}) is False
