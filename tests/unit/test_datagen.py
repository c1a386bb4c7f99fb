"""Tests of the synthetic taxi data generator: determinism, CSV format, dirty
rows, fare rules and the noise floor."""

import csv
import hashlib
import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tft_build.examples.taxi import datagen
from tft_build.examples.taxi.datagen import HEADER, fare, generate_rides

MIDTOWN = (-73.9840, 40.7549)
BROOKLYN = (-73.9570, 40.7140)
JFK = (-73.7781, 40.6413)
EWR = (-74.1745, 40.6895)


@pytest.fixture(scope="module")
def batch():
    return generate_rides(5000, 11)


def when(text):
    return np.array([text], "datetime64[s]")


def price(at, start, end, detour=1.3, speed=10.0, tolled=False):
    """Fare of one ride from `start` to `end` (lon, lat) at time `at`."""
    return float(fare(when(at), start[0], start[1], end[0], end[1],
                      np.array([detour]), np.array([speed]), np.array([tolled]))[0])


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_same_seed_same_bytes_different_seed_different_bytes():
    first = datagen.csv_bytes(generate_rides(500, 1)[0])
    assert first == datagen.csv_bytes(generate_rides(500, 1)[0])
    assert first != datagen.csv_bytes(generate_rides(500, 2)[0])


def test_csv_header_and_column_formats(tmp_path, batch):
    path = tmp_path / "rides.csv"
    digest = datagen.write_csv(path, batch[0])
    data = path.read_bytes()
    assert digest == hashlib.sha256(data).hexdigest()
    assert b"\r" not in data and data.endswith(b"\n")
    rows = read_csv(path)
    assert ",".join(rows[0]) == HEADER
    assert len(rows) == 5001
    keys = [row[0] for row in rows[1:]]
    assert len(set(keys)) == len(keys)
    first, last = datetime(2009, 1, 1), datetime(2015, 6, 30, 23, 59, 59)
    for key, fare_amount, pickup, *coordinates, passengers in rows[1:]:
        assert first <= datetime.strptime(pickup, "%Y-%m-%d %H:%M:%S UTC") <= last
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{7}", key)
        assert key.startswith(pickup.removesuffix(" UTC") + ".")
        assert re.fullmatch(r"-?\d+\.\d\d", fare_amount)
        assert all(re.fullmatch(r"-?\d+\.\d{6}", c) for c in coordinates)
        assert passengers in {"0", "1", "2", "3", "4", "5", "6"}


def test_key_offsets_make_files_disjoint():
    train, _ = generate_rides(300, 1)
    evaluation, _ = generate_rides(100, 2, key_offset=300)
    assert not set(train.key_number) & set(evaluation.key_number)
    with pytest.raises(ValueError):
        generate_rides(10, 1, key_offset=9_999_995)


def test_dirty_rows_fail_is_clean_and_clean_rows_pass(batch):
    rides, hidden = batch
    zero_coords = (rides.pickup_longitude == 0) & (rides.pickup_latitude == 0) \
        & (rides.dropoff_longitude == 0) & (rides.dropoff_latitude == 0)
    zero_passengers = rides.passenger_count == 0
    # Away from the zeroed coordinates the hidden variables reproduce the fare,
    # except where a dirty low fare replaced it.
    repriced = fare(rides.pickup_datetime, rides.pickup_longitude, rides.pickup_latitude,
                    rides.dropoff_longitude, rides.dropoff_latitude, *hidden)
    low_fare = ~zero_coords & (rides.fare_amount != repriced)
    assert (rides.fare_amount[low_fare] < 2.5).all()
    dirty = zero_coords | zero_passengers | low_fare
    assert 0.01 <= dirty.mean() <= 0.03
    assert zero_coords.mean() > zero_passengers.mean() > 0 and low_fare.any()
    clean = datagen.clean_mask(rides)
    assert clean.dtype == bool
    np.testing.assert_array_equal(clean, ~dirty)


def test_rides_look_like_nyc(batch):
    rides, _ = batch
    clean = datagen.clean_mask(rides)
    c = datagen._take(rides, np.flatnonzero(clean))
    assert datagen.in_manhattan(c.pickup_longitude, c.pickup_latitude).mean() > 0.8
    miles = datagen.straight_miles(c.pickup_longitude, c.pickup_latitude,
                                   c.dropoff_longitude, c.dropoff_latitude)
    assert 1.0 < np.median(miles) < 2.0
    airports = np.zeros(miles.shape, bool)
    for place in datagen.AIRPORTS:
        airports |= datagen._near(c.pickup_longitude, c.pickup_latitude, place)
        airports |= datagen._near(c.dropoff_longitude, c.dropoff_latitude, place)
    assert 0.015 < airports.mean() < 0.04
    assert 10.5 < c.fare_amount.mean() < 12.5 and 8 <= np.median(c.fare_amount) <= 9.5
    assert 0.65 < (c.passenger_count == 1).mean() < 0.75
    hours = np.bincount(datagen._hour_weekday(c.pickup_datetime)[0], minlength=24)
    assert hours[2:6].sum() < hours[18:22].sum() / 2


@settings(max_examples=100, deadline=None)
@given(at=st.integers(0, 6 * 365 * 86400), bearing=st.floats(0, 360),
       km=st.floats(0, 8), more_km=st.floats(0, 8),
       detour=st.floats(1, 3), more_detour=st.floats(0, 1), speed=st.floats(2.5, 40))
def test_fare_never_decreases_with_route_distance(at, bearing, km, more_km, detour, more_detour,
                                                  speed):
    start = datagen.START.astype("datetime64[s]") + at
    angle = np.radians(bearing)

    def price_at(distance_km, route_factor):
        end = (MIDTOWN[0] + distance_km * np.sin(angle) / datagen.KM_PER_DEG_LON,
               MIDTOWN[1] + distance_km * np.cos(angle) / datagen.KM_PER_DEG_LAT)
        return price(str(start), MIDTOWN, end, route_factor, speed)

    assert price_at(km, detour) <= price_at(km + more_km, detour)
    assert price_at(km, detour) <= price_at(km, detour + more_detour)


def test_rate_change_increases_fares(batch):
    rides, hidden = batch
    # Same rides at the same hour on the day before and the day of the change.
    before, after = (fare(np.full(rides.pickup_datetime.shape, np.datetime64(t, "s")),
                          rides.pickup_longitude, rides.pickup_latitude,
                          rides.dropoff_longitude, rides.dropoff_latitude, *hidden)
                     for t in ("2012-09-03T12:00:00", "2012-09-04T12:00:00"))
    assert (after >= before).all() and (after > before).mean() > 0.95


def test_surcharges_and_tax():
    def trip(at):
        return price(at, MIDTOWN, BROOKLYN)  # untolled crossing: metered only

    assert trip("2010-03-03T20:00:00") - trip("2010-03-03T19:59:59") == pytest.approx(0.5)
    assert trip("2010-03-03T06:00:00") - trip("2010-03-03T05:59:59") == pytest.approx(-0.5)
    assert trip("2009-11-01T01:00:00") - trip("2009-10-31T23:00:00") == pytest.approx(0.5)
    # 2014-03-05 is a Wednesday, 2014-03-08 a Saturday.
    assert trip("2014-03-05T16:00:00") - trip("2014-03-05T15:59:59") == pytest.approx(1.0)
    assert trip("2014-03-08T16:00:00") == trip("2014-03-08T15:59:59")
    assert trip("2011-03-02T16:00:00") == trip("2011-03-02T15:59:59")


def test_airport_rules():
    assert price("2010-03-03T12:00:00", MIDTOWN, JFK) == 45.5
    assert price("2014-03-05T12:00:00", JFK, MIDTOWN) == 52.5
    assert price("2014-03-05T17:00:00", MIDTOWN, JFK) == 57.0
    assert price("2014-03-05T12:00:00", MIDTOWN, JFK, tolled=True) == 57.83
    # Flat fare only to Manhattan: Brooklyn <-> JFK is metered, so traffic matters.
    assert price("2014-03-05T12:00:00", MIDTOWN, JFK, speed=20) == 52.5
    noon = "2014-03-05T12:00:00"
    assert price(noon, BROOKLYN, JFK, speed=20) < price(noon, BROOKLYN, JFK, speed=10)
    untolled = price("2014-03-05T12:00:00", MIDTOWN, BROOKLYN)
    tolled = price("2014-03-05T12:00:00", MIDTOWN, BROOKLYN, tolled=True)
    assert tolled == pytest.approx(untolled + 5.33)
    newark = price("2014-03-05T12:00:00", MIDTOWN, EWR)
    assert newark == price("2014-03-05T12:00:00", MIDTOWN, EWR, tolled=True)
    assert newark > 17.5 + 5.33 + 30


def test_noise_floor_between_zero_and_fare_spread(batch):
    rides, _ = batch
    subset = datagen._take(rides, np.arange(2000))
    floor = datagen.estimate_noise_floor(subset, 3, resamples=50)
    assert floor == datagen.estimate_noise_floor(subset, 3, resamples=50)
    clean_fares = subset.fare_amount[datagen.clean_mask(subset)]
    assert 1.0 < floor < clean_fares.std() / 2


def test_noise_floor_is_zero_without_hidden_randomness(batch):
    subset = datagen._take(batch[0], np.arange(1000))
    for toll_prob in (0.0, 1.0):
        assert datagen.estimate_noise_floor(subset, 3, 20, datagen.Spread(0, 0, toll_prob)) < 1e-9


def test_cli_writes_consistent_files(tmp_path, capsys):
    args = ["--out", str(tmp_path / "a"), "--train-rows", "300", "--eval-rows", "100",
            "--seed", "7", "--resamples", "20"]
    datagen.main(args)
    assert "noise floor" in capsys.readouterr().out
    record = json.loads((tmp_path / "a" / "noise_floor.json").read_text())
    for name, rows in (("train.csv", 300), ("eval.csv", 100)):
        data = (tmp_path / "a" / name).read_bytes()
        assert record[name]["sha256"] == hashlib.sha256(data).hexdigest()
        assert record[name]["rows"] == rows == data.count(b"\n") - 1
        assert record[name]["clean_rows"] < rows
        assert record[name]["noise_floor_rmse"] > 0
        assert (record[name]["resamples"], record[name]["seed"]) == (20, 7)
    datagen.main(args[:1] + [str(tmp_path / "b")] + args[2:])
    for name in ("train.csv", "eval.csv", "noise_floor.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_cli_help_runs_as_module():
    result = subprocess.run([sys.executable, "-m", "tft_build.examples.taxi.datagen", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--train-rows" in result.stdout and "noise floor" in result.stdout


def test_committed_data_matches_defaults(tmp_path):
    committed = Path(__file__).resolve().parents[2] / "data"
    datagen.write_dataset(tmp_path)
    for name in ("train.csv", "eval.csv", "noise_floor.json"):
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes()
