"""The taxi row filter agrees with the generator's notion of a clean ride."""

import numpy as np

from tft_build import datagen
from tft_build.rowfilter import is_clean_ride


def test_filter_matches_generator_clean_rule():
    rides, _ = datagen.generate_rides(5000, seed=7)
    expected = datagen.clean_mask(rides)
    got = np.array([
        is_clean_ride({
            "fare_amount": rides.fare_amount[i],
            "pickup_longitude": rides.pickup_longitude[i],
            "pickup_latitude": rides.pickup_latitude[i],
            "dropoff_longitude": rides.dropoff_longitude[i],
            "dropoff_latitude": rides.dropoff_latitude[i],
            "passenger_count": rides.passenger_count[i],
        })
        for i in range(len(rides.fare_amount))
    ])
    assert (got == expected).all()
    assert 0 < (~got).sum() < 0.05 * len(got)
