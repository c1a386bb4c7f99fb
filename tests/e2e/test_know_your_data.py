"""Know your data, end to end: statistics, the inferred schema, anomalies and drift on the houses data.

One project (generated houses sales, the generic pipeline) is built cold; the
clean data reports no anomaly and leaves a schema file. A copy of its eval
data then gets drift injected (a number shifted by three standard
deviations, a neighbourhood never seen in training, 30% of an optional column
blanked): each is reported by column and check. Allowing the new
neighbourhood in the schema removes that anomaly and reruns only the
transform. ``fail_on_anomalies`` makes them errors, one line each, and the
previous artifacts stay.
"""

import csv
import io
import json

import numpy as np
import pytest
from support import ROOT, Project, ran

from tft_build.examples import exampledata

CONFIG = """\
train_data = "data/train-*.csv"
eval_data = "data/eval.csv"
label = "price"
key_column = "id"
noise_floor_file = ""
epochs = 3
patience = 2

[columns]
id = "string"
neighborhood = { type = "string", default = "" }
rooms = "int"
area_m2 = "float"
year_built = { type = "int", default = 1970 }
garage = { type = "string", default = "unknown" }
price = "float"
"""
NEW_PLACE = "Lakeside"


@pytest.fixture(scope="module")
def houses(tmp_path_factory):
    root = tmp_path_factory.mktemp("datacheck") / "houses"
    root.mkdir()
    exampledata.write_dataset("houses", root / "data", 900, 300, seed=5, shards=2)
    (root / "tft_build.toml").write_text(CONFIG)
    (root / "dodo.py").write_text((ROOT / "dodo.py").read_text())
    project = Project(root)
    project.cold = project.doit()
    return project


def anomalies(project):
    return json.loads((project.artifacts / "stats" / "anomalies.json").read_text())["anomalies"]


def drifted(text, seed=0):
    """The eval CSV with area_m2 shifted by 3 std, a new neighbourhood in some rows, 30% of garage blanked."""
    rows = list(csv.DictReader(io.StringIO(text)))
    rng = np.random.default_rng(seed)
    areas = np.array([float(r["area_m2"]) for r in rows])
    shift = 3 * areas.std()
    for i, row in enumerate(rows):
        row["area_m2"] = f"{float(row['area_m2']) + shift:.1f}"
        if i % 10 == 0:
            row["neighborhood"] = NEW_PLACE
        if rng.random() < 0.3:
            row["garage"] = ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_clean_data_has_statistics_a_schema_and_no_anomaly(houses):
    stats = json.loads((houses.artifacts / "stats" / "train.json").read_text())
    area = stats["columns"]["area_m2"]
    assert stats["rows"] == 900 and area["count"] == 900 and area["min"] <= area["quantiles"]["0.5"] <= area["max"]
    assert abs(sum(area["histogram"]["fractions"]) - 1) < 1e-9
    garage = stats["columns"]["garage"]
    assert garage["missing"] > 0 and garage["count"] + garage["missing"] == 900
    assert {v for v, _ in stats["columns"]["neighborhood"]["top"]} <= set(exampledata.NEIGHBORHOODS)
    assert anomalies(houses) == []
    schema = (houses.root / "tft_build.schema.toml").read_text()
    assert "[columns.neighborhood]" in schema and "Riverside" in schema
    assert schema == (houses.artifacts / "stats" / "schema.toml").read_text()
    again = houses.doit()
    assert ran(again.stdout) == set(), again.stdout


def test_injected_drift_is_reported_and_a_schema_edit_reruns_only_the_transform(houses):
    eval_csv = houses.root / "data" / "eval.csv"
    clean = eval_csv.read_text()
    try:
        eval_csv.write_text(drifted(clean))
        out = houses.doit().stdout
        found = {(a["split"], a["column"], a["check"]) for a in anomalies(houses)}
        assert {("eval", "area_m2", "drift"), ("eval", "neighborhood", "values"),
                ("eval", "garage", "missing")} <= found, out
        assert found <= {("eval", "area_m2", "drift"), ("eval", "area_m2", "range"),
                         ("eval", "neighborhood", "values"), ("eval", "garage", "missing"),
                         ("eval", "neighborhood", "drift"), ("eval", "garage", "drift")}, found
        assert "data checks:" in out and NEW_PLACE in out

        schema_file = houses.root / "tft_build.schema.toml"
        schema = schema_file.read_text()
        schema_file.write_text(schema.replace('values = ["Harbor View"', f'values = ["{NEW_PLACE}", "Harbor View"'))
        explained = houses.doit("explain", "transform_raw_data").stdout
        assert "schema file changed" in explained and NEW_PLACE in explained, explained
        out = houses.doit().stdout
        assert ran(out) == {"transform_raw_data"}, out
        found = {(a["column"], a["check"]) for a in anomalies(houses)}
        assert ("neighborhood", "values") not in found and ("area_m2", "drift") in found

        (houses.root / "strict.toml").write_text("fail_on_anomalies = true\n")
        before = (houses.artifacts / "stats" / "anomalies.json").read_bytes()
        failed = houses.doit(check=False, env={"TFT_BUILD_CONFIG": "strict.toml"})
        assert failed.returncode != 0
        lines = [line for line in failed.stdout.splitlines() + failed.stderr.splitlines() if "column '" in line]
        assert any("column 'area_m2': drift:" in line for line in lines), failed.stdout + failed.stderr
        assert any("column 'garage': missing:" in line for line in lines)
        assert (houses.artifacts / "stats" / "anomalies.json").read_bytes() == before
        schema_file.write_text(schema)
    finally:
        eval_csv.write_text(clean)
