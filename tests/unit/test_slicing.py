"""Sliced metrics: the slices of a column, the slice columns a config names, each slice's metrics,
and the taxi example's slice columns."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import taxi_config

from tft_build.config.schema import Column
from tft_build.config.settings import Config, load_config
from tft_build.errors import ConfigError
from tft_build.examples.taxi import places
from tft_build.examples.taxi.slices import haversine_km, ride_slices
from tft_build.steps import serve, slicing


def labelled(values, buckets=4):
    """``{label: the values of its slice}`` of ``values``."""
    values = np.asarray(values)
    return {label: values[rows].tolist() for label, rows in slicing.slices_of(values, buckets)}


def test_floats_are_cut_at_quantiles_of_their_values():
    assert labelled([float(v) for v in range(1, 9)]) == {
        "[1, 3)": [1, 2], "[3, 5)": [3, 4], "[5, 7)": [5, 6], "[7, 8]": [7, 8],
    }
    assert labelled([2.5, 0.5, 1.5, 3.5], buckets=2) == {"[0.5, 2.5)": [0.5, 1.5], "[2.5, 3.5]": [2.5, 3.5]}


def test_repeated_values_make_fewer_buckets_none_empty():
    assert labelled([1.0] * 6 + [2.0, 9.0]) == {"[1, 2)": [1.0] * 6, "[2, 9]": [2.0, 9.0]}
    assert labelled([4.0, 4.0]) == {"[4, 4]": [4.0, 4.0]}


def test_nan_values_are_a_slice_of_their_own():
    sliced = labelled([1.0, float("nan"), 3.0, 2.0], buckets=2)
    assert list(sliced) == ["[1, 2)", "[2, 3]", slicing.MISSING]
    assert sliced["[2, 3]"] == [3.0, 2.0] and math.isnan(sliced[slicing.MISSING][0])
    assert labelled([float("nan")]).keys() == {slicing.MISSING}


def test_labels_have_the_digits_that_tell_the_edges_apart():
    assert slicing.bucket_labels([1.2, 2.5, 40.0]) == ["[1.2, 2.5)", "[2.5, 40]"]
    assert slicing.bucket_labels([1.23451, 1.23459, 2.0]) == ["[1.2345, 1.2346)", "[1.2346, 2]"]
    assert slicing.bucket_labels([0.000123, 1234567.0]) == ["[0.000123, 1.23e+06]"]


@pytest.mark.parametrize("values,expected", [
    (np.array([3, 1, 3, 2]), {"1": [1], "2": [2], "3": [3, 3]}),
    (np.array([True, False, True]), {"False": [False], "True": [True, True]}),
    (np.array(["night", "day", "night"], object), {"day": ["day"], "night": ["night", "night"]}),
    (np.array(["x", ""], object), {slicing.MISSING: [""], "x": ["x"]}),
])
def test_ints_bools_and_text_are_categories_as_they_are(values, expected):
    assert labelled(values) == expected


@given(st.lists(st.floats(-1e6, 1e6) | st.just(float("nan")), min_size=1, max_size=60), st.integers(1, 8))
def test_the_slices_of_a_column_hold_each_row_once_none_empty(values, buckets):
    sliced = slicing.slices_of(np.array(values), buckets)
    masks = np.array([rows for _, rows in sliced])
    assert (masks.sum(axis=0) == 1).all() and masks.any(axis=1).all()
    assert len(sliced) <= buckets + 1
    assert [label for label, _ in sliced] == [label for label, _ in slicing.slices_of(np.array(values), buckets)]


def test_each_slice_gets_its_count_and_its_metrics():
    columns = {"kind": np.array(["a", "b", "a"], object), "km": np.array([1.0, 2.0, 3.0])}
    labels, predictions = np.array([1.0, 2.0, 5.0]), np.array([2.0, 2.0, 2.0])
    measure = serve.slice_measure(Config(project_dir="."), labels, {"prediction": predictions}, {})
    sliced = slicing.sliced_metrics(columns, 2, measure)
    assert sliced["kind"] == [
        {"slice": "a", "count": 2, "rmse": math.sqrt((1 + 9) / 2), "mae": 2.0},
        {"slice": "b", "count": 1, "rmse": 0.0, "mae": 0.0},
    ]
    assert [(s["slice"], s["count"]) for s in sliced["km"]] == [("[1, 2)", 1), ("[2, 3]", 2)]
    assert sliced["km"][1]["rmse"] == serve.regression_errors([2.0, 5.0], [2.0, 2.0])["rmse"]


def test_classification_slices_measure_accuracy_and_log_loss():
    cfg = Config(project_dir=".", objective="classification")
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    measure = serve.slice_measure(cfg, ["x", "y", "z"], {"probabilities": probabilities}, {"classes": ["x", "y"]})
    got = measure(np.array([True, False, True]))
    assert got == {"accuracy": 0.5, "log_loss": pytest.approx(-(math.log(0.9) + math.log(serve.MIN_PROBABILITY)) / 2)}


SLICE_MODULE = '''
import numpy as np


def fn(columns):
    return {"double": columns["x"] * 2, "short": np.zeros(1)}


def broken(columns):
    raise ValueError("no such slice")
'''


def slicing_config(tmp_path, slices, slice_fn="my_slices:fn"):
    (tmp_path / "my_slices.py").write_text(SLICE_MODULE)
    columns = (Column("x", "float"), Column("name", "string"))
    return Config(project_dir=tmp_path, columns=columns, label="x", slices=slices, slice_fn=slice_fn,
                  origins=(("slices", "tft_build.toml"), ("slice_fn", "tft_build.toml")))


EVAL = [{"x": 1.5, "name": "a"}, {"x": 2.5, "name": "b"}]


def test_a_slice_column_is_a_raw_column_or_one_the_slice_fn_returns(tmp_path):
    cfg = slicing_config(tmp_path, ("double", "name"))
    columns = slicing.eval_columns(cfg, EVAL)
    assert columns["x"].dtype == np.float64 and columns["name"].tolist() == ["a", "b"]
    chosen = slicing.slice_columns(cfg, columns)
    assert list(chosen) == ["double", "name"] and chosen["double"].tolist() == [3.0, 5.0]
    assert slicing.slice_columns(slicing_config(tmp_path, ()), columns) == {}


@pytest.mark.parametrize("slices,slice_fn,message", [
    (("nothing",), "my_slices:fn",
     r"^tft_build.toml: setting 'slices': no column 'nothing' to slice on; name a column \(x, name\) or one that "
     r"my_slices:fn returns \(double, short\)$"),
    (("short",), "my_slices:fn", r"setting 'slice_fn'.*returned column 'short' of shape \(1,\) for 2 eval rows"),
    (("x",), "my_slices:broken", r"setting 'slice_fn': my_slices:broken raised ValueError: no such slice"),
])
def test_a_slice_that_cannot_be_made_is_one_line_naming_the_setting(tmp_path, slices, slice_fn, message):
    cfg = slicing_config(tmp_path, slices, slice_fn)
    with pytest.raises(ConfigError, match=message):
        slicing.slice_columns(cfg, slicing.eval_columns(cfg, EVAL))


def test_the_slice_settings_are_read_and_checked(tmp_path):
    (tmp_path / "pyproject.toml").write_text(taxi_config())
    cfg = load_config(tmp_path, environ={})
    assert cfg.slices == ("trip_km", "pickup_hour", "airport_ride", "passengers") and cfg.slice_buckets == 4
    (tmp_path / "pyproject.toml").write_text(taxi_config(slices=["hour", "hour"]))
    with pytest.raises(ConfigError, match="setting 'slices': 'hour' named more than once"):
        load_config(tmp_path, environ={})
    (tmp_path / "pyproject.toml").write_text(taxi_config(slice_buckets=0))
    with pytest.raises(ConfigError, match="setting 'slice_buckets': must be positive"):
        load_config(tmp_path, environ={})
    (tmp_path / "pyproject.toml").write_text(taxi_config(slice_fn="no_colon"))
    with pytest.raises(ConfigError, match="setting 'slice_fn': expected \"package.module:function\""):
        load_config(tmp_path, environ={})


def test_the_printed_table_has_a_row_per_slice_or_says_where_they_are():
    slices = {"hour": [{"slice": "7", "count": 3, "rmse": 1.25, "mae": 1.0}]}
    table = slicing.slices_table(slices, "artifacts/metrics/m.json")
    assert table.splitlines()[0].split() == ["sliced", "by", "slice", "count", "rmse", "mae"]
    assert table.splitlines()[-1].split() == ["hour", "7", "3", "1.250", "1.000"]
    many = {"hour": [{"slice": str(h), "count": 1, "rmse": 1.0} for h in range(slicing.PRINTED_SLICES + 1)]}
    assert slicing.slices_table(many, "m.json") == f"sliced metrics: {slicing.PRINTED_SLICES + 1} slices of hour " \
                                                   "in m.json and the report"


def test_the_taxi_slices_are_distance_hour_airport_and_riders():
    jfk, lga = places.AIRPORTS["jfk"], places.AIRPORTS["lga"]
    columns = {
        "pickup_longitude": np.array([jfk[0], -73.99]), "pickup_latitude": np.array([jfk[1], 40.75]),
        "dropoff_longitude": np.array([lga[0], -73.98]), "dropoff_latitude": np.array([lga[1], 40.76]),
        "pickup_datetime": np.array(["2013-05-01 23:59:59 UTC", "2013-05-01 06:10:00+02:00"], object),
        "passenger_count": np.array([1.0, 3.0]),
    }
    got = ride_slices(columns)
    assert got["trip_km"][0] == pytest.approx(17.0, abs=0.5)  # JFK to LaGuardia, as the crow flies
    assert got["trip_km"][1] == pytest.approx(haversine_km(-73.99, 40.75, -73.98, 40.76))
    assert got["pickup_hour"].tolist() == [23, 4] and got["airport_ride"].tolist() == [True, False]
    assert got["passengers"].tolist() == [1, 3] and got["passengers"].dtype.kind == "i"
