"""The transform without Beam (``transform_engine = "auto"``) against Beam's (``"beam"``), through doit.

A ``preprocessing_fn`` with every kind of analyzer that tft_build evaluates
itself (``tft_build.steps.localtft``), on data with malformed rows skipped into
the quarantine, is transformed both ways: the records, the transform_fn's
meaning, the vocabularies, both metadata, the statistics, the sample and the
quarantine are the same bytes. One analyzer that only Beam runs (a per-key
one) makes the transform say so and run through Beam, with the same bytes as
when Beam is asked for. A preprocessing_fn whose graph fails on the data is the
same one line both ways, and the previous build stays.
"""

import json

import pytest
from support import make_project, tree_hashes

RICH = '''"""A preprocessing_fn calling every analyzer that tft_build evaluates without Beam."""

import tensorflow as tf
import tensorflow_transform as tft


def preprocessing_fn(inputs, cfg):
    fare = inputs["fare_amount"]
    hour = tf.strings.substr(inputs["pickup_datetime"], 11, 2)
    passengers = tf.strings.as_string(tf.cast(inputs["passenger_count"], tf.int64))
    words = tf.strings.split(tf.strings.regex_replace(inputs["pickup_datetime"], "[-:]", " ")).to_sparse()
    word_ids = tft.compute_and_apply_vocabulary(words, top_k=40, vocab_filename="words")
    spread = tft.max(fare) - tft.min(fare)
    features = {
        "fare_amount": fare,
        "fare_z": tft.scale_to_z_score(fare),
        "fare_centered": (fare - tft.mean(fare)) / (tf.sqrt(tft.var(fare)) + spread),
        "fare_quantile": tft.apply_buckets(fare, tft.quantiles(fare, 5, 0.01)),
        "lon_01": tft.scale_to_0_1(inputs["pickup_longitude"]),
        "lon_mm": tft.scale_by_min_max(inputs["dropoff_longitude"], -1.0, 1.0),
        "lat_bucket": tft.bucketize(inputs["dropoff_latitude"], 7),
        "hour_id": tft.compute_and_apply_vocabulary(hour, top_k=12, num_oov_buckets=2, vocab_filename="hours"),
        "passengers_id": tft.compute_and_apply_vocabulary(passengers, frequency_threshold=5, default_value=-1),
        "rows": tf.fill(tf.shape(fare), tft.size(fare)),
        "fare_sum": fare / tft.sum(fare),
    }
    features["word_id"], features["word_weight"] = tft.tfidf(word_ids, 41)
    tft.vocabulary(hour, store_frequency=True, vocab_filename="hour_counts")
    return features
'''

PER_KEY = RICH.replace('"fare_amount": fare,', '"fare_amount": tft.scale_to_z_score_per_key(fare, hour),')

BAD_ROWS = "k-bad-1,abc,2014-05-01 08:00:00 UTC,-73.99,40.75,-73.97,40.78,1\nk-bad-2,7.5,yesterday,0,0,0,0,1\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("engine"), train_rows=400, eval_rows=100)
    with open(project.root / "data" / "train.csv", "a") as f:
        f.write(BAD_ROWS)
    (project.root / "my_rich.py").write_text(RICH)
    (project.root / "my_per_key.py").write_text(PER_KEY)
    return project


def transformed(project, module, engine):
    """The transform task's outputs (their hashes), what it printed and the functions it called."""
    override = project.root / f"{module}-{engine}.toml"
    override.write_text(f'preprocessing_fn = "{module}:preprocessing_fn"\non_bad_rows = "skip"\n'
                        f'transform_engine = "{engine}"\n')
    done = project.doit("transform_raw_data", env={"TFT_BUILD_CONFIG": str(override)})
    trace = json.loads((project.artifacts / "traces" / "transform_raw_data.json").read_text())
    outputs = {path: digest for path, digest in tree_hashes(project.artifacts).items()
               if path.startswith(("transformed/", "stats/"))}
    return outputs, done.stdout, {call["called"] for call in trace["calls"]}


def counts_line(out):
    """The transform's line of rows per split."""
    return next(line for line in out.splitlines() if " rows (" in line)


def test_every_analyzer_evaluated_without_beam_gives_beams_bytes(project):
    local, out, called = transformed(project, "my_rich", "auto")
    assert {"analyze", "read_splits"} <= called and "build_pipeline" not in called
    assert "runs through Beam" not in out
    assert "2 malformed rows skipped" in out
    beam, beam_out, called = transformed(project, "my_rich", "beam")
    assert "build_pipeline" in called and "analyze" not in called
    assert local == beam
    assert counts_line(out) == counts_line(beam_out) and "train 393 rows" in counts_line(out)
    for name in ("hours", "words", "hour_counts"):
        assert any(path.endswith(f"/assets/{name}") for path in local), name
    quarantine = next(path for path in local if path.endswith("quarantine.csv"))
    lines = (project.artifacts / quarantine).read_text().splitlines()
    assert [line.split(",")[1] for line in lines[1:]] == ["402", "403"]


def test_an_analyzer_only_beam_runs_sends_the_transform_through_beam(project):
    fallback, out, called = transformed(project, "my_per_key", "auto")
    assert "the transform runs through Beam: tft_build runs no tf.Transform node" in out
    assert "build_pipeline" in called
    beam, _, _ = transformed(project, "my_per_key", "beam")
    assert fallback == beam


FAILS_ON_DATA = '''
import tensorflow as tf
import tensorflow_transform as tft


def preprocessing_fn(inputs, cfg):
    fare = inputs["fare_amount"]
    with tf.control_dependencies([tf.debugging.assert_less(fare, 0.0, message="fares must be negative")]):
        fare = tf.identity(fare)
    return {"fare_amount": inputs["fare_amount"], "fare_z": tft.scale_to_z_score(fare)}
'''


@pytest.mark.parametrize("engine", ["auto", "beam"])
def test_a_preprocessing_fn_that_fails_on_the_data_is_one_line_and_the_last_build_stays(project, engine):
    (project.root / "my_fails.py").write_text(FAILS_ON_DATA)
    before = {path: digest for path, digest in tree_hashes(project.artifacts).items()
              if path.startswith("transformed/")}
    override = project.root / f"fails-{engine}.toml"
    override.write_text(f'preprocessing_fn = "my_fails:preprocessing_fn"\non_bad_rows = "skip"\n'
                        f'transform_engine = "{engine}"\n')
    failed = project.doit("transform_raw_data", check=False, env={"TFT_BUILD_CONFIG": str(override)})
    assert failed.returncode != 0
    printed = failed.stdout + failed.stderr
    line = next(line for line in printed.splitlines() if "failed on the data" in line)
    assert line.startswith(f"{override}: setting 'preprocessing_fn': my_fails:preprocessing_fn failed on the data: "
                           "assertion failed: [fares must be negative]")
    assert "Traceback" not in printed and "Batch instances" not in printed
    after = {path: digest for path, digest in tree_hashes(project.artifacts).items()
             if path.startswith("transformed/")}
    assert after == before
    assert not list(project.artifacts.glob(".transformed.*"))
