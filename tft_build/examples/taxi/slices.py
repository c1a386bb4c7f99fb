"""The taxi example's slice columns: what a ride's fare error may depend on, in plain numpy.

The predict step calls :func:`ride_slices` on the clean eval rows (column name -> numpy array) and
measures each metric per slice of the columns the ``slices`` setting names (``pyproject.toml``):
short or long trips, the hour of the day, airport rides (their flat fares and surcharges), the riders.
The airports are the features' (:mod:`.places`); nothing here imports TensorFlow.
"""

from collections.abc import Mapping

import numpy as np

from tft_build.examples.taxi.places import AIRPORT_RADIUS_KM, AIRPORTS, EARTH_RADIUS_KM
from tft_build.io import timestamps


def ride_slices(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``trip_km`` (straight line), ``pickup_hour`` (UTC, 0-23), ``airport_ride`` and ``passengers`` of each ride."""
    plon, plat, dlon, dlat = (np.asarray(columns[name], np.float64) for name in (
        "pickup_longitude", "pickup_latitude", "dropoff_longitude", "dropoff_latitude"))
    return {
        "trip_km": haversine_km(plon, plat, dlon, dlat),
        "pickup_hour": hours(columns["pickup_datetime"]),
        "airport_ride": near_airport(plon, plat) | near_airport(dlon, dlat),
        "passengers": np.asarray(columns["passenger_count"]).astype(np.int64),
    }


def haversine_km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in kilometres."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def near_airport(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """True where the point is within AIRPORT_RADIUS_KM of JFK, LaGuardia or Newark."""
    near = np.zeros(np.shape(lon), bool)
    for place_lon, place_lat in AIRPORTS.values():
        near |= haversine_km(lon, lat, place_lon, place_lat) < AIRPORT_RADIUS_KM
    return near


def hours(times: np.ndarray) -> np.ndarray:
    """The UTC hour of each timestamp text (the built-in forms, as the taxi data's column has)."""
    forms = timestamps.forms("timestamp")
    return np.array([timestamps.parse(str(text), forms).hour for text in times], np.int64)
