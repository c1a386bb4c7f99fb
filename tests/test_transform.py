"""The Beam transform step's errors, through the real doit task."""

import pytest

from conftest import make_project

HEADER = "key,fare_amount,pickup_datetime,pickup_longitude,pickup_latitude,dropoff_longitude,dropoff_latitude,passenger_count\n"
DIRTY = "k{i},1.0,2014-05-01 08:00:00 UTC,0,0,0,0,0\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("errors"), train_rows=50, eval_rows=20)


@pytest.mark.parametrize("body", ["", "".join(DIRTY.format(i=i) for i in range(5))], ids=["no rows", "all dirty"])
def test_an_empty_training_set_is_a_one_line_error(project, body):
    (project.root / "data" / "train.csv").write_text(HEADER + body)
    done = project.doit("transform_raw_data", check=False)
    assert done.returncode != 0
    assert "train.csv" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (project.artifacts / "transformed").exists()
    leftovers = [p.name for p in project.artifacts.iterdir() if p.name.startswith(".transformed")]
    assert leftovers == []


def test_a_bad_row_names_file_line_and_column(project):
    rows = "k1,7.5,2014-05-01 08:00:00 UTC,-73.99,40.75,-73.97,40.78,1\nk2,abc,2014-05-01 08:00:00 UTC,-73.99,40.75,-73.97,40.78,1\n"
    (project.root / "data" / "train.csv").write_text(HEADER + rows)
    done = project.doit("transform_raw_data", check=False)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "train.csv:3" in out and "fare_amount" in out
    assert "Traceback" not in out
