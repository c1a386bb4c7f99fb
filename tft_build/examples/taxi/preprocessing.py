"""The taxi ``preprocessing_fn``: raw ride columns -> model features.

This is the file users edit. Everything here is pure TensorFlow (plus TFT
analyzers), so the transform graph survives saving and serves raw features
unchanged. Each helper is a small function tested alone against plain Python.

The configured ``preprocessing_fn`` is called as ``preprocessing_fn(inputs,
cfg)``: ``inputs`` is a dict of raw ``[batch]`` tensors, ``cfg`` the frozen
:class:`tft_build.config.settings.Config` (``cfg.nbuckets`` is read here).
"""

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import tensorflow as tf
import tensorflow_transform as tft

from tft_build.generic.preprocessing import categorical, parse_time, parse_timestamp, seasons

if TYPE_CHECKING:
    from tft_build.config.settings import Config

LABEL = "fare_amount"

# Where fares differ from the meter: flat fares and surcharges at airports.
AIRPORTS = {"jfk": (-73.7781, 40.6413), "lga": (-73.8740, 40.7769), "ewr": (-74.1745, 40.6895)}
AIRPORT_RADIUS_KM = 2.0
EARTH_RADIUS_KM = 6371.0
MAX_TRIP_KM = 100.0
MAX_CROSS_BUCKETS = 10_000


def preprocessing_fn(inputs: Mapping[str, tf.Tensor], cfg: "Config") -> dict[str, tf.Tensor]:
    """Scaled, bucketized, crossed and calendar features of a taxi ride."""
    plon, plat = inputs["pickup_longitude"], inputs["pickup_latitude"]
    dlon, dlat = inputs["dropoff_longitude"], inputs["dropoff_latitude"]
    nb = cfg.nbuckets

    hour, weekday, days = parse_timestamp(inputs["pickup_datetime"])
    plat_b, plon_b = tft.bucketize(plat, nb), tft.bucketize(plon, nb)
    dlat_b, dlon_b = tft.bucketize(dlat, nb), tft.bucketize(dlon, nb)
    pickup_cell = cross([(plat_b, nb), (plon_b, nb)])
    dropoff_cell = cross([(dlat_b, nb), (dlon_b, nb)])
    hour_of_week = cross([(weekday, 7), (hour, 24)])
    trip = cross([(pickup_cell, nb * nb), (dropoff_cell, nb * nb)])
    trip_time = cross([(trip, nb**4), (hour_of_week, 7 * 24)])
    km = tf.minimum(haversine_km(plon, plat, dlon, dlat), MAX_TRIP_KM)

    features = {
        LABEL: tf.cast(inputs[LABEL], tf.float32),
        "passenger_count": tft.scale_to_0_1(tf.cast(inputs["passenger_count"], tf.float32)),
        "pickup_longitude": scale_longitude(plon),
        "pickup_latitude": scale_latitude(plat),
        "dropoff_longitude": scale_longitude(dlon),
        "dropoff_latitude": scale_latitude(dlat),
        "euclidean": euclidean(plon, plat, dlon, dlat),
        "trip_km": km / 10.0,
        "log_trip_km": tf.math.log1p(km),
        "years": tft.scale_to_z_score(tf.cast(days, tf.float32) / 365.25),
        "hour": categorical(hour, 24),
        "weekday": categorical(weekday, 7),
        **seasons("pickup", parse_time(inputs["pickup_datetime"])),
        "pickup_lat_bucket": plat_b,
        "pickup_lon_bucket": plon_b,
        "dropoff_lat_bucket": dlat_b,
        "dropoff_lon_bucket": dlon_b,
        "pickup_cell": pickup_cell,
        "dropoff_cell": dropoff_cell,
        "hour_of_week": hour_of_week,
        "trip": trip,
        "trip_time": trip_time,
    }
    for name, (lon, lat) in AIRPORTS.items():
        features[f"{name}_pickup"] = near(plon, plat, lon, lat)
        features[f"{name}_dropoff"] = near(dlon, dlat, lon, lat)
    return features


def scale_longitude(lon: tf.Tensor | float) -> tf.Tensor | float:
    """The seed's longitude scaling, about 0..1 around NYC."""
    return (lon + 78.0) / 8.0


def scale_latitude(lat: tf.Tensor | float) -> tf.Tensor | float:
    """The seed's latitude scaling, about 0..1 around NYC."""
    return (lat - 37.0) / 8.0


def euclidean(plon: tf.Tensor, plat: tf.Tensor, dlon: tf.Tensor, dlat: tf.Tensor) -> tf.Tensor:
    """The seed's distance: straight line in degrees."""
    return tf.sqrt(tf.square(dlon - plon) + tf.square(dlat - plat))


def haversine_km(lon1: tf.Tensor, lat1: tf.Tensor, lon2: tf.Tensor, lat2: tf.Tensor) -> tf.Tensor:
    """Great-circle distance in kilometres; fares follow it, not degrees."""
    lon1, lat1, lon2, lat2 = (tf.cast(v, tf.float64) * (math.pi / 180) for v in (lon1, lat1, lon2, lat2))
    a = tf.sin((lat2 - lat1) / 2) ** 2 + tf.cos(lat1) * tf.cos(lat2) * tf.sin((lon2 - lon1) / 2) ** 2
    return tf.cast(2 * EARTH_RADIUS_KM * tf.asin(tf.sqrt(tf.minimum(a, 1.0))), tf.float32)


def near(lon: tf.Tensor, lat: tf.Tensor, place_lon: float, place_lat: float) -> tf.Tensor:
    """1.0 where the point is within AIRPORT_RADIUS_KM of the place, else 0.0."""
    place = tf.ones_like(lon)
    km = haversine_km(lon, lat, place * place_lon, place * place_lat)
    return tf.cast(km < AIRPORT_RADIUS_KM, tf.float32)


def cross(ids_and_sizes: Sequence[tuple[tf.Tensor, int]], max_buckets: int = MAX_CROSS_BUCKETS) -> tf.Tensor:
    """One id per combination of categorical ids, hashed when there are too many.

    ``ids_and_sizes`` is a list of ``(ids, size)`` with ids in ``[0, size)``.
    The exact mixed-radix id is used while the combinations fit in
    ``max_buckets``; past that it is hashed into ``max_buckets`` buckets.
    """
    combined = tf.zeros_like(ids_and_sizes[0][0], tf.int64)
    total = 1
    for ids, size in ids_and_sizes:
        combined = combined * size + tf.cast(ids, tf.int64)
        total *= size
    if total <= max_buckets:
        return categorical(combined, total)
    hashed = tf.strings.to_hash_bucket_fast(tf.strings.as_string(combined), max_buckets)
    return categorical(hashed, max_buckets)
