"""Bad input, kills, interrupts, two runs at once, damaged state, unsafe cleans, determinism.

Each test does the bad thing for real, on a small generated project, and
checks what the user sees and that nothing good was lost or half-written.
"""

import json
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from support import NO_CACHE, leftovers, make_project, ran, tree_hashes, wait_for

from tft_build.engine.lock import lock_path

HEADER = ("key,fare_amount,pickup_datetime,pickup_longitude,pickup_latitude,dropoff_longitude,dropoff_latitude,"
          "passenger_count")
GOOD = "k{i},{fare},2014-05-01 08:15:00 UTC,-73.99,40.75,-73.97,40.78,1"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A small project whose transform was built once (the good artifacts)."""
    project = make_project(tmp_path_factory.mktemp("reliable"), train_rows=300, eval_rows=80)
    project.env = NO_CACHE  # these tests kill, interrupt and race real runs, not restores
    project.doit("transform_raw_data")
    project.good_train = (project.root / "data" / "train.csv").read_bytes()
    project.good = tree_hashes(project.artifacts)
    project.good_transformed = tree_hashes(project.artifacts / "transformed")
    return project


@pytest.fixture
def restore(project):
    yield
    (project.root / "data" / "train.csv").write_bytes(project.good_train)
    for extra in (project.root / "data").glob("extra*"):
        extra.unlink()


ROW = GOOD.format(i=1, fare=7.5)
BAD_INPUTS = {
    "too few fields": (f"{HEADER}\n{ROW}\nk2,7.5,2014-05-01 08:15:00 UTC\n", ["train.csv:3", "3 fields, expected 8"]),
    "too many fields": (f"{HEADER}\n{ROW},9\n", ["train.csv:2", "9 fields"]),
    "text in a number": (HEADER + "\n" + GOOD.format(i=1, fare="abc") + "\n",
                         ["train.csv:2", "fare_amount", "'abc' is not a valid float"]),
    "empty value": (HEADER + "\n" + GOOD.format(i=1, fare="") + "\n", ["train.csv:2", "fare_amount", "empty value"]),
    "NaN": (HEADER + "\n" + GOOD.format(i=1, fare="nan") + "\n", ["train.csv:2", "fare_amount", "not a finite number"]),
    "infinity": (HEADER + "\n" + GOOD.format(i=1, fare="inf") + "\n", ["train.csv:2", "not a finite number"]),
    "beyond float32": (HEADER + "\n" + GOOD.format(i=1, fare="1e39") + "\n", ["train.csv:2", "fare_amount", "float32"]),
    "bad timestamp": (HEADER + "\n" + ROW.replace("2014-05-01", "2014-13-45") + "\n",
                      ["train.csv:2", "pickup_datetime", "not a timestamp"]),
    "wrong header": (HEADER.replace("fare_amount", "fare") + "\n" + ROW + "\n",
                     ["train.csv:1", "does not match the configured columns"]),
    "header only": (HEADER + "\n", ["train.csv", "no data rows"]),
    "empty file": ("", ["train.csv:1", "the file is empty"]),
    "not UTF-8": (HEADER + "\n" + ROW.replace("k1", "k\xe9") + "\n", ["train.csv:2", "not UTF-8"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_keeps_the_good_artifacts(project, restore, case):
    text, expected = BAD_INPUTS[case]
    data = text.encode("latin-1") if case == "not UTF-8" else text.encode()
    (project.root / "data" / "train.csv").write_bytes(data)
    done = project.doit("transform_raw_data", check=False)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Traceback" not in out
    message = next(line for line in out.splitlines() if "train.csv" in line)
    for part in expected:
        assert part in message, (case, out)
    assert tree_hashes(project.artifacts) == project.good
    assert leftovers(project.artifacts) == []


NAN_FEATURE = '''"""The taxi preprocessing_fn plus a feature that is minus infinity in every row."""

import my_preprocessing
import tensorflow as tf


def preprocessing_fn(inputs, cfg):
    """The user's features, and log(0)."""
    features = my_preprocessing.preprocessing_fn(inputs, cfg)
    features["broken"] = tf.math.log(inputs["passenger_count"] * 0.0)
    return features
'''


def test_a_non_finite_transformed_feature_is_one_line_and_keeps_the_good_artifacts(project):
    (project.root / "my_nan.py").write_text(NAN_FEATURE)
    config = project.root / "nan.toml"
    config.write_text('preprocessing_fn = "my_nan:preprocessing_fn"\n')
    done = project.doit("transform_raw_data", check=False, env={"TFT_BUILD_CONFIG": str(config)})
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in out
    assert "the transformed feature 'broken' is NaN or infinite" in out
    assert tree_hashes(project.artifacts / "transformed") == project.good_transformed
    assert leftovers(project.artifacts) == []


def test_a_glob_that_matches_nothing(project):
    config = project.root / "missing.toml"
    config.write_text('train_data = "data/nothing-*.csv"\n')
    done = project.doit("transform_raw_data", check=False, env={"TFT_BUILD_CONFIG": str(config)})
    assert done.returncode != 0 and "Traceback" not in done.stdout + done.stderr
    assert "data/nothing-*.csv: no file matches setting 'train_data'" in done.stdout
    assert tree_hashes(project.artifacts) == project.good


@pytest.mark.parametrize("setting,message", [
    ('colour = "red"', "unknown setting 'colour'"),
    ('nbuckets = "ten"', "setting 'nbuckets': expected int, got str 'ten'"),
    ('label = "tip"', "label 'tip' is not a column"),
    ('on_bad_rows = "maybe"', "setting 'on_bad_rows' is 'maybe'"),
])
def test_config_errors_are_one_line(project, tmp_path, setting, message):
    config = tmp_path / "bad.toml"
    config.write_text(setting + "\n")
    done = project.doit("list", check=False, env={"TFT_BUILD_CONFIG": str(config)})
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and message in done.stderr and str(config) in done.stderr


def test_crlf_bom_and_quoted_commas_are_valid_csv(project, restore):
    rows = [HEADER] + [GOOD.format(i=i, fare=5 + i % 20) for i in range(60)]
    rows[5] = rows[5].replace("k4,", '"k4, quoted",', 1)
    (project.root / "data" / "train.csv").write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n").encode())
    done = project.doit("transform_raw_data", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((project.artifacts / "transformed" / "data.digest.json").read_text())["train"]["records"] == 60


def test_skip_policy_quarantines_bad_rows(project, restore, tmp_path):
    rows = [HEADER] + [GOOD.format(i=i, fare=5 + i % 20) for i in range(40)]
    rows[3] = GOOD.format(i=2, fare="abc")
    rows[7] = "k6,7.5"
    (project.root / "data" / "train.csv").write_text("\n".join(rows) + "\n")
    config = tmp_path / "skip.toml"
    config.write_text('on_bad_rows = "skip"\n')
    env = {"TFT_BUILD_CONFIG": str(config)}
    done = project.doit("transform_raw_data", env=env)
    assert "2 malformed rows skipped" in done.stdout
    quarantine = (project.artifacts / "transformed" / "quarantine.csv").read_text().splitlines()
    assert quarantine[0] == "file,line,error,row"
    assert [line.split(",")[1] for line in quarantine[1:]] == ["4", "8"]
    assert json.loads((project.artifacts / "transformed" / "data.digest.json").read_text())["train"]["records"] == 38

    (project.root / "data" / "train.csv").write_text(HEADER + "\nk1,abc\nk2,x,y\n")
    failed = project.doit("transform_raw_data", check=False, env=env)
    assert failed.returncode != 0 and "all 2 rows are malformed" in failed.stdout



def staging_has(project, pattern):
    """A trigger: a file matching pattern in the staging dir (whose subdirs come and go)."""
    def found():
        try:
            return any(project.artifacts.glob(f".transformed.tmp-*/{pattern}"))
        except FileNotFoundError:
            return False
    return found


@pytest.mark.parametrize("point", ["staging created", "records being written"])
def test_sigkill_at_any_point_then_doit_gives_a_clean_build(project, point):
    reference = project.good_transformed
    project.doit("forget", "transform_raw_data")
    trigger = {
        "staging created": lambda: any(project.artifacts.glob(".transformed.tmp-*")),
        # Beam's temp files, or the one shard the transform without Beam writes in place
        "records being written": staging_has(project, "**/*.tfrecord"),
    }[point]
    process = project.start("transform_raw_data")
    hit = wait_for(trigger)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert hit or point != "staging created", f"never saw: {point}"
    project.doit("transform_raw_data")
    assert tree_hashes(project.artifacts / "transformed") == reference
    assert leftovers(project.artifacts) == []


@pytest.mark.parametrize("point", ["manifest written, before the rename", "old output moved out, new not in"])
def test_a_kill_around_the_rename_leaves_what_the_next_doit_cleans(project, point):
    """The microseconds between the last write and the renames are too short to hit with a
    signal, so what a kill there leaves is made by hand: a complete staging dir, and
    (between the two renames) the previous output moved out with none in its place."""
    reference = project.good_transformed
    transformed = project.artifacts / "transformed"
    shutil.copytree(transformed, project.artifacts / ".transformed.tmp-killed")
    if point == "old output moved out, new not in":
        transformed.rename(project.artifacts / ".transformed.old-12345")
    project.doit("forget", "transform_raw_data")
    project.doit("transform_raw_data")
    assert tree_hashes(transformed) == reference
    assert leftovers(project.artifacts) == []


def test_two_runs_at_once_one_waits(project):
    reference = project.good_transformed
    project.doit("forget", "transform_raw_data")
    first = project.start("transform_raw_data")
    assert wait_for(lambda: f'"pid": {first.pid}' in lock_path(project.artifacts).read_text())
    second = project.start("transform_raw_data")
    out1, _ = first.communicate()
    out2, err2 = second.communicate()
    assert first.returncode == 0 and second.returncode == 0
    assert "waiting for it to finish" in err2 and f"pid {first.pid}" in err2
    assert ran(out1) == {"transform_raw_data"} and ran(out2) == set()
    conn = sqlite3.connect(project.artifacts / ".doit-state.sqlite3")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    assert tree_hashes(project.artifacts / "transformed") == reference


def test_no_wait_fails_at_once(project):
    from tft_build.engine.lock import project_lock

    with project_lock(project.artifacts):
        done = project.doit("--no-wait", "transform_raw_data", check=False)
    assert done.returncode != 0
    assert f"pid {os.getpid()}" in done.stderr and "not waiting (--no-wait)" in done.stderr


def test_ctrl_c_keeps_the_tasks_that_finished(project, tmp_path):
    project.doit("forget", "transform_raw_data", "train_non_embedding_model")
    trace = project.artifacts / "traces" / "transform_raw_data.json"
    long_training = tmp_path / "long.toml"
    long_training.write_text("epochs = 500\npatience = 500\n")
    started = time.time()
    process = project.start("train_non_embedding_model", env={"TFT_BUILD_CONFIG": str(long_training)})
    try:
        assert wait_for(lambda: trace.exists() and trace.stat().st_mtime > started)
        # Soon after the transform: the training task is tracing tf.data functions, where TensorFlow's
        # finalizers swallow a KeyboardInterrupt (see tft_build/engine/interrupt.py); it must stop all the same.
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=300)
    finally:
        process.kill()  # a failed wait must not leave 500 epochs holding the project's lock
    assert process.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    again = project.doit("explain", "transform_raw_data").stdout
    assert "up to date: transform_raw_data" in again
    assert leftovers(project.artifacts) == []


@pytest.mark.parametrize("garbage", ["random bytes", "truncated"])
def test_a_damaged_state_database_is_rebuilt(project, garbage):
    state = project.artifacts / ".doit-state.sqlite3"
    data = state.read_bytes()
    state.write_bytes(os.urandom(4096) if garbage == "random bytes" else data[: len(data) // 2])
    done = project.doit("transform_raw_data")
    lines = [line for line in done.stderr.splitlines() if "damaged" in line]
    assert len(lines) == 1 and "will rebuild" in lines[0]
    assert "transform_raw_data" in ran(done.stdout)
    assert ran(project.doit("transform_raw_data").stdout) == set()


def test_clean_refuses_dangerous_artifacts_dirs(project, tmp_path):
    before = tree_hashes(project.root)
    stranger = tmp_path / "shared"
    stranger.mkdir()
    (stranger / "thesis.tex").write_text("precious")
    with_data = tmp_path / "with_data"
    (with_data / "data").mkdir(parents=True)
    for target, message in [
        (project.root, "the project root"),
        (Path.home(), "the home dir"),
        (stranger, "files tft_build did not make (thesis.tex)"),
        (with_data, "it holds"),
    ]:
        config = tmp_path / "danger.toml"
        config.write_text(f'artifacts_dir = "{target}"\n')
        done = project.doit("clean", check=False, env={"TFT_BUILD_CONFIG": str(config)})
        assert done.returncode != 0 and message in done.stderr, (target, done.stderr)
        assert "Traceback" not in done.stderr
    assert (stranger / "thesis.tex").read_text() == "precious"
    assert tree_hashes(project.root) == before


def test_two_cold_builds_are_identical(tmp_path):
    """Bit for bit, one with every task in the doit process (``-n 0``: the second model trained where the
    first was) and one with the tasks side by side in two workers (``-n 2``)."""
    outputs = []
    for name, jobs in (("one", "0"), ("two", "2")):
        other = make_project(tmp_path / name, train_rows=300, eval_rows=80)
        other.doit("-n", jobs)
        outputs.append((
            tree_hashes(other.artifacts / "models"),
            (other.artifacts / "predictions" / "embedding.csv").read_text(),
            # its graph (and the manifest naming its digest) holds the transform's table names, which
            # TF takes from the temp dir the transform ran in: the predictions below compare it
            {k: v for k, v in tree_hashes(other.artifacts / "serving" / "non_embedding").items()
             if k not in ("saved_model.pb", "MANIFEST.json")},
            (other.artifacts / "transformed" / "data.digest.json").read_text(),
            (other.artifacts / "transformed" / "transform_fn.digest.json").read_text(),
            (other.artifacts / "predictions" / "non_embedding.csv").read_text(),
            (other.artifacts / "reference" / "metrics.json").read_text(),
            (other.artifacts / "metrics" / "non_embedding.json").read_text(),
            *((other.artifacts / "stats" / name).read_text()
              for name in ("train.json", "eval.json", "anomalies.json", "schema.toml")),
        ))
    assert outputs[0] == outputs[1]


def test_a_loss_that_is_not_finite_fails_in_one_line_and_keeps_the_model(project):
    """Last in this file: it trains a model, which the tests above do not expect."""
    project.doit("train_non_embedding_model")
    model = tree_hashes(project.artifacts / "models")
    logs = tree_hashes(project.artifacts / "tensorboard")
    config = project.root / "diverge.toml"
    config.write_text("learning_rate = 1e12\n")
    done = project.doit("train_non_embedding_model", check=False, env={"TFT_BUILD_CONFIG": str(config)})
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in out
    assert "non_embedding: the training loss became" in out and "lower learning_rate" in out
    assert tree_hashes(project.artifacts / "models") == model
    assert tree_hashes(project.artifacts / "tensorboard") == logs and logs, "the last good training's logs stay"
    assert leftovers(project.artifacts) == []
