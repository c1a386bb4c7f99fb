"""Which taxi rides are clean enough to learn from.

A ``preprocessing_fn`` maps rows to rows and cannot drop any, so dirty rows
are dropped by this plain predicate in a Beam step before analysis. It runs
on one typed row (a dict from :func:`tft_build.csvio.read_rows`).
"""

# Generous bounds around New York City; the real data has ~2% rides at 0,0.
NYC_LONGITUDE = (-74.30, -72.90)
NYC_LATITUDE = (40.50, 41.80)
MIN_FARE = 2.50  # the initial charge: nothing legitimate costs less
MAX_PASSENGERS = 6


def is_clean_ride(row):
    """True when the ride is inside NYC, costs at least $2.50 and had 1-6 riders."""
    return (
        _inside(row["pickup_longitude"], NYC_LONGITUDE)
        and _inside(row["dropoff_longitude"], NYC_LONGITUDE)
        and _inside(row["pickup_latitude"], NYC_LATITUDE)
        and _inside(row["dropoff_latitude"], NYC_LATITUDE)
        and row["fare_amount"] >= MIN_FARE
        and 1 <= row["passenger_count"] <= MAX_PASSENGERS
    )


def _inside(value, bounds):
    low, high = bounds
    return low <= value <= high
