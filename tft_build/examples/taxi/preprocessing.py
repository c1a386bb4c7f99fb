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

from tft_build.examples.taxi.places import AIRPORT_RADIUS_KM, AIRPORTS, EARTH_RADIUS_KM
from tft_build.generic.preprocessing import categorical, cyclic, hour_weekday_days, parse_time

if TYPE_CHECKING:
    from tft_build.config.settings import Config

LABEL = "fare_amount"

MAX_TRIP_KM = 100.0
MAX_CROSS_BUCKETS = 10_000
# Midtown (Times Square), where most rides start or end, and the direction of the avenues: the street grid
# is turned 29 degrees east of north, so a ride's route is nearer its distance along the grid than the straight line.
MANHATTAN_CENTER = (-73.9855, 40.7580)
AVENUE_BEARING_DEG = 29.0
# Days from 2009-01-01 (the timestamps' epoch) to 2012-09-04, when the meter went from $0.40 to $0.50 per
# 1/5 mile and the JFK flat fare from $45 to $52.
RATE_CHANGE_DAY = 1342
# A cross id the training data has fewer rides of shares one id with the unseen ones: an embedding of a few
# rides learns their fares, not the place, and the number of ids (so the embeddings) follows the data size.
MIN_RIDES_PER_ID = 5


def preprocessing_fn(inputs: Mapping[str, tf.Tensor], cfg: "Config") -> dict[str, tf.Tensor]:
    """Scaled, bucketized, crossed and calendar features of a taxi ride.

    They say what sets NYC fares. The meter charges by the route, so the distance comes as the straight line
    (haversine), its log, and the distance along Manhattan's street grid; the
    rate per mile went up 25% on 2012-09-04 (``new_rates``, and the distance
    at the new rates); the airports have flat fares and surcharges (distances
    to each and a flag near each); the ends are placed on the grid around
    Midtown. Crosses of the location buckets keep only the ids with
    MIN_RIDES_PER_ID rides in the training data.
    """
    plon, plat = inputs["pickup_longitude"], inputs["pickup_latitude"]
    dlon, dlat = inputs["dropoff_longitude"], inputs["dropoff_latitude"]
    nb = cfg.nbuckets

    pickup = parse_time(inputs["pickup_datetime"])  # once: the hour, weekday, days and month all come from it
    hour, weekday, days = hour_weekday_days(pickup)
    plat_b, plon_b = tft.bucketize(plat, nb), tft.bucketize(plon, nb)
    dlat_b, dlon_b = tft.bucketize(dlat, nb), tft.bucketize(dlon, nb)
    pickup_cell = cross([(plat_b, nb), (plon_b, nb)])
    dropoff_cell = cross([(dlat_b, nb), (dlon_b, nb)])
    hour_of_week = cross([(weekday, 7), (hour, 24)])
    trip = cross([(pickup_cell, nb * nb), (dropoff_cell, nb * nb)])
    km = tf.minimum(haversine_km(plon, plat, dlon, dlat), MAX_TRIP_KM)
    new_rates = tf.cast(days >= RATE_CHANGE_DAY, tf.float32)
    pickup_grid, dropoff_grid = grid_km(plon, plat), grid_km(dlon, dlat)
    along_grid = tf.minimum(tf.abs(dropoff_grid[0] - pickup_grid[0]) + tf.abs(dropoff_grid[1] - pickup_grid[1]),
                            MAX_TRIP_KM)

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
        "grid_km": along_grid / 10.0,
        "new_rates": new_rates,
        "trip_km_new_rates": new_rates * km / 10.0,
        "pickup_avenue_km": pickup_grid[0] / 10.0,
        "pickup_street_km": pickup_grid[1] / 10.0,
        "dropoff_avenue_km": dropoff_grid[0] / 10.0,
        "dropoff_street_km": dropoff_grid[1] / 10.0,
        "years": tft.scale_to_z_score(tf.cast(days, tf.float32) / 365.25),
        "hour": categorical(hour, 24),
        "weekday": categorical(weekday, 7),
        # The season as the month on a circle; the day of the year (generic.seasons) only added noise here.
        **cyclic("pickup_month", pickup["month"] - 1, 12),
        "pickup_lat_bucket": plat_b,
        "pickup_lon_bucket": plon_b,
        "dropoff_lat_bucket": dlat_b,
        "dropoff_lon_bucket": dlon_b,
        "pickup_cell": frequent(pickup_cell, "pickup_cell"),
        "dropoff_cell": frequent(dropoff_cell, "dropoff_cell"),
        "hour_of_week": frequent(hour_of_week, "hour_of_week"),
        "trip": frequent(trip, "trip"),
    }
    for name, (lon, lat) in {**AIRPORTS, "center": MANHATTAN_CENTER}.items():
        features[f"{name}_pickup_km"] = tf.math.log1p(km_to(plon, plat, lon, lat))
        features[f"{name}_dropoff_km"] = tf.math.log1p(km_to(dlon, dlat, lon, lat))
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


def grid_km(lon: tf.Tensor, lat: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Kilometres from MANHATTAN_CENTER along the avenues and along the streets of Manhattan's grid.

    East and north kilometres (a flat map is exact enough across the city), turned by AVENUE_BEARING_DEG.
    """
    lon0, lat0 = MANHATTAN_CENTER
    east = (tf.cast(lon, tf.float32) - lon0) * (EARTH_RADIUS_KM * math.pi / 180 * math.cos(math.radians(lat0)))
    north = (tf.cast(lat, tf.float32) - lat0) * (EARTH_RADIUS_KM * math.pi / 180)
    turn = math.radians(AVENUE_BEARING_DEG)
    return north * math.cos(turn) + east * math.sin(turn), east * math.cos(turn) - north * math.sin(turn)


def km_to(lon: tf.Tensor, lat: tf.Tensor, place_lon: float, place_lat: float) -> tf.Tensor:
    """Kilometres from the points to one place, at most MAX_TRIP_KM."""
    place = tf.ones_like(lon)
    return tf.minimum(haversine_km(lon, lat, place * place_lon, place * place_lat), MAX_TRIP_KM)


def frequent(ids: tf.Tensor, name: str, min_rides: int = MIN_RIDES_PER_ID) -> tf.Tensor:
    """Ids renumbered by the training data, those with fewer than ``min_rides`` rides (or none) sharing one id;
    the vocabulary is the asset ``name`` of the transform_fn."""
    return tft.compute_and_apply_vocabulary(ids, frequency_threshold=min_rides, num_oov_buckets=1,
                                            vocab_filename=name)


def near(lon: tf.Tensor, lat: tf.Tensor, place_lon: float, place_lat: float) -> tf.Tensor:
    """1.0 where the point is within AIRPORT_RADIUS_KM of the place, else 0.0."""
    return tf.cast(km_to(lon, lat, place_lon, place_lat) < AIRPORT_RADIUS_KM, tf.float32)


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
