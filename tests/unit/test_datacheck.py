"""Statistics, the schema file and anomalies (tft_build.datacheck), without a pipeline."""

import datetime
import json

import numpy as np
import pyarrow as pa
import pytest

from tft_build.config.schema import Column
from tft_build.datacheck import anomalies, expectations, stats
from tft_build.engine.uptodate import schema_unchanged
from tft_build.errors import ConfigError
from tft_build.io import arrowcsv

COLUMNS = (Column("x", "float"), Column("color", "string", default=""), Column("n", "int"),
           Column("when", "timestamp"), Column("id", "string"))


def table(rows, seed=0, shift=0.0, colors=("red", "green", "blue"), missing=0.0):
    rng = np.random.default_rng(seed)
    return pa.table({
        "x": rng.normal(10 + shift, 2, rows),
        "color": pa.array([None if rng.random() < missing else str(rng.choice(colors)) for _ in range(rows)],
                          pa.string()),
        "n": rng.integers(1, 7, rows),
        "when": [f"2015-03-{1 + i % 28:02d} 10:00:00 UTC" for i in range(rows)],
        "id": [f"{seed}-{i}" for i in range(rows)],
    })


def gathered(data, path="/data/train.csv", batch_rows=1000):
    gatherer = stats.Gatherer(path, COLUMNS)
    for batch in data.to_batches(max_chunksize=batch_rows):
        gatherer.add(batch)
    return json.loads(json.dumps(gatherer.partial()))  # as the pipeline hands it over


def split(data, **kw):
    return stats.merge([gathered(data, **kw)])


def test_figures_are_exact_and_the_sample_does_not_depend_on_batch_boundaries():
    data = table(30_000)
    one, many = split(data, batch_rows=30_000), split(data, batch_rows=777)
    assert one["sample"] == many["sample"] and len(one["sample"]["x"]) == stats.SAMPLE_ROWS
    for name in ("count", "missing", "min", "max", "counts"):
        assert one["columns"]["x"].get(name) == many["columns"]["x"].get(name)
    described = stats.describe(one, stats.histogram_edges(one))
    x = described["columns"]["x"]
    values = data["x"].to_numpy()
    assert x["mean"] == pytest.approx(values.mean()) and x["std"] == pytest.approx(values.std())
    assert x["min"] == values.min() and x["max"] == values.max()
    assert x["quantiles"]["0.5"] == pytest.approx(np.median(values), abs=0.1)
    assert sum(x["histogram"]["fractions"]) == pytest.approx(1)
    assert described["columns"]["n"]["min"] == 1 and isinstance(described["columns"]["n"]["min"], int)
    assert described["columns"]["when"]["first"] == "2015-03-01T10:00:00Z"
    assert described["columns"]["id"]["distinct"] == f"over {stats.MAX_DISTINCT}"
    assert {v for v, _ in described["columns"]["color"]["top"]} == {"red", "green", "blue"}


def test_merging_files_does_not_depend_on_their_order():
    a, b = gathered(table(3000, seed=1), "/d/a.csv"), gathered(table(2000, seed=2), "/d/b.csv")
    assert stats.merge([a, b]) == stats.merge([b, a])
    assert stats.merge([a, b])["rows"] == 5000


def test_missing_values_are_counted():
    described = stats.describe(split(table(2000, missing=0.25)), {})
    color = described["columns"]["color"]
    assert color["missing"] + color["count"] == 2000 and 0.2 < color["missing_fraction"] < 0.3


def test_time_seconds_reads_every_form_as_utc():
    values = pa.array(["2012-01-01 08:15:00 UTC", "2012/02/29T23:59:59+05:30", "2013-3-1", None])
    expected = [datetime.datetime(2012, 1, 1, 8, 15), datetime.datetime(2012, 2, 29, 18, 29, 59),
                datetime.datetime(2013, 3, 1)]
    seconds = arrowcsv.time_seconds(values, "timestamp")
    assert seconds[:3].tolist() == [t.replace(tzinfo=datetime.UTC).timestamp() for t in expected]
    assert np.isnan(seconds[3])


def test_the_inferred_schema_reads_back_and_allows_the_training_data(tmp_path):
    train = split(table(5000))
    inferred = expectations.infer(train)
    assert inferred["color"].values == ("blue", "green", "red") and inferred["id"].values is None
    assert inferred["x"].min < train["columns"]["x"]["min"] and inferred["x"].max > train["columns"]["x"]["max"]
    path = tmp_path / "schema.toml"
    path.write_text(expectations.render(inferred))
    assert expectations.read(path) == inferred
    evaluation = split(table(1000, seed=9), path="/data/eval.csv")
    found = anomalies.find({"train": train, "eval": evaluation}, inferred, stats.histogram_edges(train))
    assert found == []


@pytest.mark.parametrize("text, message", [
    ("[columns.x]\ntype = \"float\"\nmaxx = 3\n", "column 'x': unknown key 'maxx'"),
    ("[columns.x]\ntype = \"float\"\nmin = \"low\"\n", "column 'x': 'min' must be a number"),
    ("[columns.x]\ntype = \"float\"\nmax_missing = 2\n", "column 'x': 'max_missing' must be between 0 and 1"),
    ("[columns.c]\ntype = \"string\"\nvalues = [1]\n", "column 'c': 'values' must be a list of strings"),
    ("[drift]\nx = 1\n", "expected only [columns.<name>] tables"),
    ("[columns\n", "not valid TOML"),
])
def test_a_mistake_in_the_schema_is_one_line_naming_file_and_column(tmp_path, text, message):
    path = tmp_path / "schema.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="^" + str(path)) as err:
        expectations.read(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_each_check_names_split_column_and_check():
    train = split(table(5000))
    schema = expectations.infer(train)
    schema["n"] = expectations.Expectation("n", "float")
    del schema["id"]
    bad = split(table(1000, seed=3, shift=6.0, colors=("red", "purple"), missing=0.4), path="/data/eval.csv")
    found = {(a["split"], a["column"], a["check"]): a["message"]
             for a in anomalies.find({"train": train, "eval": bad}, schema, stats.histogram_edges(train))}
    assert "'purple'" in found["eval", "color", "values"]
    share = float(found["eval", "color", "missing"].split("%")[0])
    assert 35 < share < 45 and "the schema allows 5.0%" in found["eval", "color", "missing"]
    assert "above max_drift" in found["eval", "x", "drift"]
    assert "the schema says float, the config int" in found["train", "n", "type"]
    assert ("train", "id", "schema") in found and ("eval", "id", "schema") in found
    assert ("eval", "x", "range") not in found  # a shift of 3 std stays inside the widened range
    assert "data checks: " in anomalies.table(list(map(dict, [{"split": "eval", "column": "x", "check": "drift",
                                                                "message": "m"}])))


def test_drift_measures():
    assert anomalies.jensen_shannon([0.5, 0.5, 0], [0.5, 0.5, 0]) == 0
    assert anomalies.jensen_shannon([1, 0], [0, 1]) == pytest.approx(1)
    assert anomalies.l_infinity({"a": 50, "b": 50}, {"a": 80, "b": 20}) == pytest.approx(0.3)


def test_the_schema_check_seeds_a_missing_file_and_never_overwrites_one(tmp_path):
    schema, copy = tmp_path / "tft_build.schema.toml", tmp_path / "copy.toml"
    check = schema_unchanged(str(schema), str(copy))
    assert check.fresh() is None and check.seed() is None  # nothing inferred yet
    copy.write_text("[columns.x]\ntype = \"float\"\n")
    assert check.seed() == copy.read_text() and schema.read_text() == copy.read_text()
    schema.write_text("[columns.x]\ntype = \"int\"\n")
    assert check.seed() is None and "int" in schema.read_text()  # the user's file stays; it differs from the copy
    lines = check.describe(copy.read_text(), schema.read_text())
    assert lines[0].startswith("schema file changed: ") and '+type = "int"' in lines[0]
    assert check.describe("x", None)[0].startswith("schema file removed")


@pytest.mark.parametrize("type_, values", [
    ("timestamp", ["2012-01-01 08:15:00 UTC", "2013-06-01 23:00:00 UTC", None]),  # Arrow's strptime reads them
    ("timestamp", ["2012/01/01 08:15", "2011-12-31T23:30:00-02:00", "2012-1-1 7:00:00"]),  # only the general way
    ("date", ["2012-01-01", "2011-02-28", None]),
])
def test_the_range_of_times_is_the_same_by_either_reading(type_, values):
    column, array = Column("t", type_), pa.array(values, pa.string())
    seconds = arrowcsv.time_seconds(array, type_)
    assert stats.time_range(array, column) == (np.nanmin(seconds), np.nanmax(seconds))
