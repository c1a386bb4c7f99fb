"""Progress lines: throttled, counted per phase and split, off when quiet; training's one line per epoch."""

import os

import numpy as np
import pyarrow as pa
import pytest
import tf_keras as keras

from tft_build.config.schema import columns_from_pairs
from tft_build.config.settings import Config
from tft_build.engine import progress
from tft_build.steps import batching, trainlog


class Clock:
    """A clock the test moves."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_throttle_is_due_once_per_interval():
    clock = Clock()
    throttle = progress.Throttle(5, clock)
    seen = []
    for now in (1, 4.9, 5, 6, 9.9, 10.1, 10.2):
        clock.now = now
        seen.append(throttle.due())
    assert seen == [False, False, True, False, False, True, False]


def test_rows_are_counted_per_phase_and_split_and_said_when_due(capsys):
    clock = Clock()
    count = progress.RowCount(progress.Throttle(5, clock))
    count.add("analyze", "train", 1000)
    clock.now = 5
    count.add("analyze", "train", 2000)
    count.add("transform", "train", 500)
    clock.now = 11
    count.add("transform", "eval", 70_000)
    assert capsys.readouterr().out.splitlines() == [
        "rows read: analyze train 3,000",
        "rows read: analyze train 3,000; transform eval 70,000, train 500",
    ]


def test_quiet_keeps_progress_lines_off_and_puts_the_variable_back(capsys, monkeypatch):
    monkeypatch.delenv(progress.QUIET, raising=False)
    with progress.quieted(True):
        assert progress.quiet()
        progress.say("hidden")
    assert progress.QUIET not in os.environ
    with progress.quieted(False):
        progress.say("shown")
    monkeypatch.setenv(progress.QUIET, "0")
    progress.say("shown too")
    assert capsys.readouterr().out == "shown\nshown too\n"


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(progress.EVERY, "0.5")
    assert progress.Throttle().seconds == 0.5
    monkeypatch.setenv(progress.EVERY, "soon")
    assert progress.Throttle().seconds == progress.EVERY_SECONDS


def test_the_transform_read_reports_rows_by_phase(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(progress.EVERY, "0")
    monkeypatch.delenv(progress.QUIET, raising=False)
    path = tmp_path / "t.csv"
    path.write_text("name,price\n" + "".join(f"r{i},{i}.5\n" for i in range(10)))
    cfg = Config(project_dir=tmp_path, columns=columns_from_pairs([("name", "string"), ("price", "float")]),
                 label="price")
    progress.restart()
    for split, counted in (("train", True), ("train", False), ("eval", True)):
        batches = [b for b in batching.read_clean_batches(str(path), cfg, lambda row: True, split, counted)
                   if isinstance(b, pa.RecordBatch)]
        assert sum(b.num_rows for b in batches) == 10
    assert capsys.readouterr().out.splitlines()[-1] == "rows read: analyze train 10; transform eval 10, train 10"


def test_training_prints_one_short_line_per_epoch(capsys, monkeypatch):
    monkeypatch.delenv(progress.QUIET, raising=False)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    model.compile("adam", "mse", metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
    x, y = np.ones((16, 2), np.float32), np.ones(16, np.float32)
    model.fit(x, y, validation_data=(x, y), epochs=2, batch_size=4, verbose=0,
              callbacks=[trainlog.EpochLines("tiny", 2, terminal=True)])
    out = capsys.readouterr().out
    lines = [line.rsplit("\r", 1)[-1] for line in out.split("\n") if line]  # what a terminal shows
    assert len(lines) == 2
    for epoch, line in enumerate(lines, 1):
        assert line.startswith(f"\033[Ktiny epoch {epoch}/2: loss ")
        assert ", rmse " in line and " | validation loss " in line


@pytest.mark.parametrize("done, total, shown", [
    (1, None, "batch 1"), (0, 4, "[>                   ] 0/4"), (2, 4, "[==========>         ] 2/4"),
    (4, 4, "[====================] 4/4"),
])
def test_the_terminal_bar(done, total, shown):
    assert trainlog.bar(done, total) == shown


def test_epoch_figures_put_training_then_validation_then_the_learning_rate():
    logs = {"loss": 2.0, "rmse": 1.41421, "val_loss": 3.0, "val_rmse": 1.7320508, "lr": 0.001}
    assert trainlog.epoch_figures(logs) == "loss 2, rmse 1.414 | validation loss 3, rmse 1.732 | lr 0.001"
