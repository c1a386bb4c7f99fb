"""The preprocessing helpers against plain-Python oracles, and the whole fn in TFT."""

import datetime
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tft_build.config.schema import Column
from tft_build.config.settings import Config
from tft_build.errors import ConfigError
from tft_build.examples.taxi import preprocessing as pp
from tft_build.generic import preprocessing as generic
from tft_build.io import timestamps

FLOATS = st.floats(-100, 100, allow_nan=False, allow_subnormal=False, width=32)
moments = st.datetimes(min_value=datetime.datetime(1971, 1, 1), max_value=datetime.datetime(2099, 12, 31))


@settings(max_examples=200, deadline=None)
@given(st.lists(moments, min_size=1, max_size=20))
def test_parse_timestamp_matches_datetime(times):
    text = tf.constant([t.strftime("%Y-%m-%d %H:%M:%S UTC") for t in times])
    hour, weekday, days = (v.numpy().tolist() for v in generic.parse_timestamp(text))
    assert hour == [t.hour for t in times]
    assert weekday == [t.weekday() for t in times]
    epoch = datetime.date(generic.EPOCH_YEAR, 1, 1)
    assert days == [(t.date() - epoch).days for t in times]


ZONES = st.sampled_from([("", 0), ("Z", 0), (" UTC", 0), ("+02:00", 120), ("-0530", -330), (" +01", 60), ("-12", -720)])
FORMS = st.sampled_from(["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.250", "%Y/%m/%d %H:%M", "%Y-%m-%d"])


def python_parts(utc):
    """The parts parse_time gives, from Python's datetime."""
    since = utc - datetime.datetime(generic.EPOCH_YEAR, 1, 1)
    return {
        "days": (utc.date() - datetime.date(1970, 1, 1)).days, "hour": utc.hour, "weekday": utc.weekday(),
        "month": utc.month, "day_of_year": utc.timetuple().tm_yday, "years": since.total_seconds() / 86400 / 365.25,
    }


def assert_tf_parse_is_python_parse(texts, type_="timestamp", fmt=""):
    parts = {k: v.numpy().tolist() for k, v in generic.parse_time(tf.constant(texts), type_, fmt).items()}
    for i, text in enumerate(texts):
        utc = timestamps.parse(text.strip(), timestamps.forms(type_, fmt))  # csvio strips what it checks
        expected = python_parts(utc)
        assert {k: parts[k][i] for k in expected if k != "years"} == {k: v for k, v in expected.items() if k != "years"}
        assert parts["years"][i] == pytest.approx(expected["years"], abs=1e-5)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(moments, FORMS, ZONES), min_size=1, max_size=20))
def test_parse_time_in_tensorflow_reads_what_python_reads(cases):
    """The TF parse equals the data checks' parse (tft_build.io.timestamps) on the same strings, forms mixed."""
    texts = []
    for moment, form, (zone, minutes) in cases:
        if "%H" not in form:  # a date: midnight, and no zone
            zone, minutes, moment = "", 0, moment.replace(hour=0, minute=0)
        text = moment.strftime(form) + zone
        texts.append(text)
        utc = moment.replace(second=moment.second if "%S" in form else 0, microsecond=0)
        assert timestamps.parse(text, timestamps.forms("timestamp")) == utc - datetime.timedelta(minutes=minutes)
    assert_tf_parse_is_python_parse(texts)


def test_parse_time_of_dates_and_of_a_format():
    assert_tf_parse_is_python_parse(["2012/01/01", "2012-01-01", "2016-2-29", "1999/12/31"], "date")
    assert_tf_parse_is_python_parse(["31.12.2015 23:05", "1.3.2016 0:00"], "timestamp", "%d.%m.%Y %H:%M")
    assert_tf_parse_is_python_parse(["1.3.2016 0:00 +01:00", "1.3.2016 0:00 Z"], "timestamp", "%d.%m.%Y %H:%M %z")
    assert_tf_parse_is_python_parse(["2012-01-01 00:30:00+02:00", " 2016-12-31T23:59:59-05:00 "])  # spaces stripped


def test_parse_time_stops_at_a_string_of_no_form():
    with pytest.raises(tf.errors.InvalidArgumentError, match="(?s)not a.*date"):
        generic.parse_time(tf.constant(["2012-01-01", "2012-01-01 08:00"]), "date")


def test_time_parts_are_cyclic_seasons_and_a_trend():
    cfg = Config(project_dir=Path("."), columns=(Column("d", "date"),))
    with tf.compat.v1.Graph().as_default():  # tft.scale_to_z_score is an analyzer: only its names are checked here
        names = set(generic.time_parts("d", tf.compat.v1.placeholder(tf.string, [None]), cfg))
    assert names == {"d_weekday", "d_month_sin", "d_month_cos", "d_day_of_year_sin", "d_day_of_year_cos", "d_years"}
    parts = generic.parse_time(tf.constant(["2012-01-01", "2012-07-01", "2012-12-31"]), "date")
    got = {k: v.numpy() for k, v in generic.seasons("d", parts).items()}
    np.testing.assert_allclose(got["d_month_sin"], np.sin(2 * np.pi * np.array([0, 6, 11]) / 12), atol=1e-6)
    np.testing.assert_allclose(got["d_month_cos"] ** 2 + got["d_month_sin"] ** 2, 1, atol=1e-6)
    np.testing.assert_allclose(got["d_day_of_year_cos"], np.cos(2 * np.pi * np.array([0, 182, 365]) / 365.25),
                               atol=1e-6)


def test_time_parts_of_a_column_the_config_does_not_name_is_one_line():
    cfg = Config(project_dir=Path("."), columns=(Column("d", "date"),))
    with pytest.raises(ConfigError, match="time_parts\\('when', ..., cfg\\): 'when' is not a configured column"):
        generic.time_parts("when", tf.constant(["2012-01-01"]), cfg)


def test_days_from_civil_known_dates():
    dates = [(1970, 1, 1), (2000, 2, 29), (2012, 9, 4), (2015, 6, 30)]
    got = generic.days_from_civil(*(tf.constant([d[i] for d in dates], tf.int64) for i in range(3))).numpy()
    expected = [(datetime.date(*d) - datetime.date(1970, 1, 1)).days for d in dates]
    assert got.tolist() == expected


def haversine_oracle(lon1, lat1, lon2, lat2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * pp.EARTH_RADIUS_KM * math.asin(math.sqrt(a))


@given(st.lists(st.tuples(*[st.floats(-74.3, -72.9), st.floats(40.5, 41.8)] * 2), min_size=1, max_size=10))
@settings(deadline=None, max_examples=50)
def test_haversine_matches_python(points):
    cols = [tf.constant([p[i] for p in points], tf.float32) for i in range(4)]
    got = pp.haversine_km(*cols).numpy()
    expected = [haversine_oracle(*(np.float32(v) for v in p)) for p in points]
    np.testing.assert_allclose(got, expected, atol=1e-3)


@pytest.mark.parametrize("lon,lat,km", [
    (-73.7781, 40.6413, 21.8),  # JFK: about 22 km from Times Square
    (-73.8740, 40.7769, 9.6),   # LaGuardia
    (-74.1745, 40.6895, 17.7),  # Newark
    (-73.9855, 40.7580, 0.0),   # Times Square itself
])
def test_km_to_midtown_of_known_places(lon, lat, km):
    got = pp.km_to(tf.constant([lon]), tf.constant([lat]), *pp.MANHATTAN_CENTER).numpy()[0]
    assert got == pytest.approx(haversine_oracle(lon, lat, *pp.MANHATTAN_CENTER), abs=1e-3)
    assert got == pytest.approx(km, abs=0.1)


def test_km_to_is_capped_for_rides_far_off():
    assert pp.km_to(tf.constant([0.0]), tf.constant([0.0]), *pp.MANHATTAN_CENTER).numpy()[0] == pp.MAX_TRIP_KM


@given(st.lists(st.tuples(st.floats(-74.3, -72.9), st.floats(40.5, 41.8)), min_size=1, max_size=10))
@settings(deadline=None, max_examples=50)
def test_grid_km_turns_east_and_north_by_the_avenues(points):
    """Along and across the grid are the flat-map kilometres from Midtown turned 29 degrees: lengths
    are kept, and the haversine distance from Midtown is matched to within the flat map's error."""
    lon, lat = (tf.constant([p[i] for p in points], tf.float32) for i in range(2))
    avenue, street = (v.numpy() for v in pp.grid_km(lon, lat))
    expected = [haversine_oracle(*p, *pp.MANHATTAN_CENTER) for p in points]
    np.testing.assert_allclose(np.hypot(avenue, street), expected, rtol=0.01, atol=0.01)


def test_grid_km_runs_up_an_avenue():
    """Fifth Avenue from 59th to 110th Street: about 4.1 km, all of it along the avenues."""
    avenue, street = pp.grid_km(tf.constant([-73.9730, -73.9493]), tf.constant([40.7644, 40.7965]))
    assert float(avenue[1] - avenue[0]) == pytest.approx(4.1, abs=0.1)
    assert abs(float(street[1] - street[0])) < 0.2


def test_rate_change_day_is_2012_09_04():
    days = (datetime.date(2012, 9, 4) - datetime.date(generic.EPOCH_YEAR, 1, 1)).days
    assert pp.RATE_CHANGE_DAY == days


def test_near_flags_airports_only():
    lon = tf.constant([-73.7781, -73.98], tf.float32)
    lat = tf.constant([40.6413, 40.75], tf.float32)
    assert pp.near(lon, lat, *pp.AIRPORTS["jfk"]).numpy().tolist() == [1.0, 0.0]


def test_cross_is_exact_when_small_and_hashed_in_range_when_large():
    a, b = tf.constant([0, 1, 2, 2], tf.int64), tf.constant([0, 0, 1, 2], tf.int64)
    assert pp.cross([(a, 3), (b, 3)]).numpy().tolist() == [0, 3, 7, 8]
    big = pp.cross([(a, 1000), (b, 1000)], max_buckets=50).numpy()
    assert ((0 <= big) & (big < 50)).all()
    assert len(set(big.tolist())) > 1


def test_seed_scalings():
    assert pp.scale_longitude(-74.0) == pytest.approx(0.5)
    assert pp.scale_latitude(41.0) == pytest.approx(0.5)
    e = pp.euclidean(tf.constant(0.0), tf.constant(0.0), tf.constant(3.0), tf.constant(4.0))
    assert float(e) == pytest.approx(5.0)


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 6)), min_size=1, max_size=20))
@settings(deadline=None, max_examples=50)
def test_cross_matches_mixed_radix_oracle(ids):
    """Small crosses are exact: each combination of ids gets its own id, in range."""
    cols = [tf.constant([row[i] for row in ids], tf.int64) for i in range(3)]
    got = pp.cross([(cols[0], 10), (cols[1], 10), (cols[2], 7)]).numpy().tolist()
    assert got == [(a * 10 + b) * 7 + c for a, b, c in ids]
    assert all(0 <= g < 700 for g in got)


@given(
    st.lists(FLOATS, min_size=1, max_size=30),
    st.lists(FLOATS, min_size=1, max_size=9, unique=True),
)
@settings(deadline=None, max_examples=50)
def test_bucket_edges_follow_bisect_right(values, boundaries):
    """The bucket op of tft.bucketize: a value on an edge goes to the upper bucket, ids 0..len(edges)."""
    import bisect

    import tensorflow_transform as tft

    edges = sorted(boundaries)
    got = tft.apply_buckets(tf.constant(values, tf.float32), tf.constant([edges], tf.float32)).numpy().tolist()
    assert got == [bisect.bisect_right(edges, v) for v in values]
