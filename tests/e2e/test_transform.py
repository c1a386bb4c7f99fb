"""The Beam transform step through the real doit task: its errors, and another runner mode."""

import json
from pathlib import Path

import pytest
from support import NO_CACHE, make_project, ran

from tft_build.engine import progress

HEADER = ("key,fare_amount,pickup_datetime,pickup_longitude,pickup_latitude,dropoff_longitude,dropoff_latitude,"
          "passenger_count\n")
DIRTY = "k{i},1.0,2014-05-01 08:00:00 UTC,0,0,0,0,0\n"
EVERY_READ = {progress.EVERY: "0"}  # a progress line at each batch read


def progress_lines(out):
    return [line for line in out.splitlines() if line.startswith("rows read: ")]


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
    rows = ("k1,7.5,2014-05-01 08:00:00 UTC,-73.99,40.75,-73.97,40.78,1\n"
            "k2,abc,2014-05-01 08:00:00 UTC,-73.99,40.75,-73.97,40.78,1\n")
    (project.root / "data" / "train.csv").write_text(HEADER + rows)
    done = project.doit("transform_raw_data", check=False)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "train.csv:3" in out and "fare_amount" in out
    assert "Traceback" not in out


def test_multi_processing_runner_writing_to_a_shared_dir_gives_the_same_data(tmp_path):
    """What a cluster run does, on one machine: `--beam-args` adds Beam options for one run (two
    worker processes), and with `shared_dir` the bulk output goes there; the same records as the
    local transform without Beam, and the next steps train and serve from it."""
    project = make_project(tmp_path / "mp", train_rows=200, eval_rows=50)
    local_run = project.doit("transform_raw_data", env=EVERY_READ)  # without Beam: one read of each file
    assert progress_lines(local_run.stdout)[-1] == "rows read: analyze train 200; transform eval 50"
    single = (project.artifacts / "transformed" / "data.digest.json").read_text()
    shared = tmp_path / "shared"
    override = tmp_path / "shared.toml"
    override.write_text(f'shared_dir = "{shared}"\n')
    env = {"TFT_BUILD_CONFIG": str(override)}
    done = project.doit(
        "transform_raw_data", "--beam-args=--direct_running_mode=multi_processing --direct_num_workers=2",
        "train_and_predict_non_embedding_model", env={**env, **EVERY_READ},
    )
    assert {"transform_raw_data", "train_and_predict_non_embedding_model"} <= ran(done.stdout)
    assert progress_lines(done.stdout), "the worker processes say what they read"
    assert (project.artifacts / "transformed" / "data.digest.json").read_text() == single
    local = project.artifacts / "transformed"
    assert not list(local.glob("*.tfrecord")) and (local / "location.json").exists()
    build = json.loads((local / "location.json").read_text())["data_dir"]
    assert build.startswith(f"{shared}/transformed/") and list(Path(build).glob("train-*.tfrecord"))
    assert (project.artifacts / "metrics" / "non_embedding.json").exists()
    project.doit("clean", env=env)
    assert not Path(build).exists()


def test_tf2_tracing_gives_the_same_values_and_the_next_steps_use_it(tmp_path):
    """``tf_compat_v1 = false``: the transform reruns and traces in TF2 (tf.saved_model.save's
    SavedModel, with a fingerprint.pb, which TF1 mode's builder does not write); the sample's
    values agree to float32 rounding, and the view and a model train and serve from either kind
    of transform_fn. The TF1 build's sample is read from its first eval records, the TF2 build's
    (through Beam) applies the transform_fn to the rows: the rows pair up, a malformed row skipped."""
    project = make_project(tmp_path / "modes", train_rows=200, eval_rows=50)
    eval_csv = project.root / "data" / "eval.csv"
    header, *rows = eval_csv.read_text().splitlines(keepends=True)
    eval_csv.write_text("".join([header, "not,a,ride\n", *rows]))
    tasks = ("transform_raw_data", "view_transformed_sample_data", "train_and_predict_non_embedding_model")
    samples, fingerprinted = [], []
    for override in ("", "tf_compat_v1 = false\n"):
        config = tmp_path / "mode.toml"
        config.write_text('on_bad_rows = "skip"\n' + override)
        done = project.doit(*tasks, env={**NO_CACHE, "TFT_BUILD_CONFIG": str(config)})
        assert set(tasks) <= ran(done.stdout)
        assert "pickup_cell" in done.stdout  # the view's table
        assert "1 malformed rows skipped" in done.stdout
        transformed = project.artifacts / "transformed"
        samples.append(json.loads((transformed / "sample.json").read_text())["rows"])
        fingerprinted.append((transformed / "transform_fn" / "fingerprint.pb").is_file())
        assert (project.artifacts / "metrics" / "non_embedding.json").exists()
    assert fingerprinted == [False, True]
    assert [row["raw"] for row in samples[0]] == [row["raw"] for row in samples[1]]
    v1, v2 = ([row["transformed"] for row in rows] for rows in samples)
    assert [sorted(row) for row in v1] == [sorted(row) for row in v2] and len(v1) > 0
    for one, two in zip(v1, v2):
        for name, value in one.items():
            assert value == pytest.approx(two[name], rel=1e-5, abs=1e-6), name
