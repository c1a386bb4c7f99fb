"""Dates and timestamps end to end: ``init-config`` types them, the pipeline uses their seasons, serving parses alike.

Generated bookings have a ``YYYY/MM/DD`` date, an ISO date and an ISO
date-time in several forms (``T`` or a space, ``Z``, ``UTC``, an offset, a
fraction of a second). ``tft-tasks init-config`` writes the project, ``doit``
builds it as is, and the served model's transform, called on the eval
CSV's strings, gives exactly the features that the Beam transform wrote for
those rows.
"""

import csv
import datetime
import random
import subprocess
import sys
import tomllib

import numpy as np
import pytest
from support import Project, ran

from tft_build import layout

DATE_FEATURES = ("weekday", "month_sin", "month_cos", "day_of_year_sin", "day_of_year_cos", "years")
COLUMNS = {"booked": "date", "day": "date", "when": "timestamp"}
# The forms of the issue first; then more, so that each column mixes them.
FIRST_ROWS = [
    ("2012/01/01", "2012-01-01", "2012-01-01T08:15:00Z"),
    ("2012/02/29", "2012-02-29", "2012-01-01 08:15:00.5+02:00"),
]
WHEN_FORMS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S.5+02:00", "%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%dT%H:%M-05:00")


def bookings(rows, seed):
    """CSV rows of bookings: id, three dates, nights (a number) and the price, seasonal with a trend."""
    rng = random.Random(seed)
    out = [["id", "booked", "day", "when", "nights", "price"]]
    for i in range(rows):
        stay = datetime.datetime(2010, 1, 1) + datetime.timedelta(minutes=rng.randrange(6 * 365 * 24 * 60))
        booked = stay - datetime.timedelta(days=rng.randrange(1, 90))
        if i < len(FIRST_ROWS):
            texts = FIRST_ROWS[i]
        else:
            texts = (f"{booked:%Y/%m/%d}", f"{stay:%Y-%m-%d}", f"{stay:{WHEN_FORMS[i % len(WHEN_FORMS)]}}")
        nights = rng.randrange(1, 8)
        season = 40 * np.cos(2 * np.pi * (stay.timetuple().tm_yday - 200) / 365.25)
        price = 100 + 10 * (stay.year - 2010) + season + 15 * nights + rng.gauss(0, 5)
        out.append([f"b{seed}-{i:04d}", *texts, str(nights), f"{price:.2f}"])
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The bookings, a project written by init-config with fewer epochs, built with doit."""
    root = tmp_path_factory.mktemp("dates")
    (root / "data").mkdir()
    for name, rows, seed in (("train", 400, 1), ("eval", 100, 2)):
        with open(root / "data" / f"{name}.csv", "w", newline="") as f:
            csv.writer(f).writerows(bookings(rows, seed))
    project = Project(root)
    init = [sys.executable, "-c", "import sys; from tft_build.commands.cli import main; sys.exit(main())",
            "init-config", "data/train.csv", "--eval", "data/eval.csv", "--label", "price"]
    project.init = subprocess.run(init, cwd=root, env=project.environment(), capture_output=True, text=True)
    assert project.init.returncode == 0, project.init.stdout + project.init.stderr
    config = root / "tft_build.toml"
    config.write_text(config.read_text().replace("epochs = 30", "epochs = 6"))
    project.cold = project.doit()
    return project


def test_init_config_types_dates_and_timestamps_and_uses_their_seasons(project):
    with open(project.root / "tft_build.toml", "rb") as f:
        config = tomllib.load(f)
    assert {name: config["columns"][name] for name in COLUMNS} == COLUMNS
    assert "feature (time_parts)" in project.init.stdout
    pipeline = (project.root / "my_pipeline.py").read_text()
    for name in COLUMNS:
        assert f'**generic.time_parts("{name}", inputs["{name}"], cfg),' in pipeline
    assert ran(project.cold.stdout) >= {"transform_raw_data", "train_default_model", "train_and_predict_default_model"}


def test_served_model_parses_the_strings_as_the_transform_did(project):
    """The served SavedModel's transform on the eval CSV's strings gives the features the Beam transform
    wrote for the eval rows, bit for bit (compared as sets of rows: the records need not keep the CSV's order)."""
    import tensorflow as tf
    import tensorflow_transform as tft

    with open(project.root / "data" / "eval.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    names = [f"{c}_{part}" for c in COLUMNS for part in DATE_FEATURES] + ["when_hour"]
    served = tf.saved_model.load(str(project.artifacts / "serving" / "default"))
    raw = {name: tf.constant([row[name] for row in rows]) for name in ("id", *COLUMNS)}
    raw["nights"] = tf.constant([int(row["nights"]) for row in rows], tf.int64)
    features = served.transform_raw(raw)  # the transform the serving signatures call, on the raw features
    assert set(names) <= set(features)
    serving = sorted(zip(*(features[name].numpy().tolist() for name in names)))

    output = tft.TFTransformOutput(str(project.artifacts / "transformed"))
    spec = output.transformed_feature_spec()
    shards = (project.artifacts / "transformed").glob(layout.records_pattern("eval"))
    records = tf.data.TFRecordDataset(sorted(str(p) for p in shards))
    beam = sorted(
        tuple(parsed[name].numpy().item() for name in names)
        for parsed in records.map(lambda record: tf.io.parse_single_example(record, spec))
    )
    assert len(beam) == len(rows) == 100
    assert serving == beam

    first = {name: features[name].numpy()[:2].tolist() for name in ("when_hour", "day_month_cos", "booked_weekday")}
    assert first["when_hour"] == [8, 6]  # 08:15 UTC, and 08:15 at +02:00
    assert first["day_month_cos"] == pytest.approx([1.0, np.cos(2 * np.pi / 12)], abs=1e-6)  # January, February
    assert first["booked_weekday"] == [6, 2]  # 2012-01-01 was a Sunday, 2012-02-29 a Wednesday
    with pytest.raises(tf.errors.InvalidArgumentError, match="(?s)not a.*timestamp"):  # no silent guess
        served.signatures["serving_raw"](**dict(raw, when=tf.constant(["yesterday"] * len(rows))))
