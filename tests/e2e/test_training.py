"""Training's speed-ups change no result: Keras runs many batches per call of its train step, and the
model is the one that one batch per call trains, byte for byte, and the one doit trained; the optimizer's
variables made before fit spare a second trace of the train step, and loops that carry nothing spare
autograph's scratch trace of the train and test steps, and neither changes a byte; the parts of the
training rows, parsed once and split by one rule for all rows, are the rows the held-out rule picks one
by one, and the label's statistics are those of the rows fit on."""

import json
import shutil
import subprocess
import sys
import textwrap

import pytest
from support import NO_CACHE

# Trains the model as the task does, then with one batch per call, then with the optimizer's variables made
# by Keras inside its first trace, then with Keras's own train and test functions, counting Keras's calls in
# each epoch and the traces of its train function (a callback beside the task's), and how often Python ran
# the train and test steps (each trace runs them once); prints {way: {calls, batches, traces, steps}} and
# keeps each model's bytes.
TRAIN_FOUR_WAYS = textwrap.dedent("""
    import collections, json, shutil
    import tf_keras as keras
    from tft_build.config.settings import load_config
    from tft_build.steps import train

    steps = collections.Counter()
    def counted(step):
        def run(self, data):
            steps[step.__name__] += 1
            return step(self, data)
        return run
    keras.Model.train_step, keras.Model.test_step = counted(keras.Model.train_step), counted(keras.Model.test_step)

    class Calls(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.calls = 0
        def on_train_batch_end(self, batch, logs=None):
            self.calls += 1
        def on_train_end(self, logs=None):
            self.traces = self.model.train_tf_function.experimental_get_tracing_count()

    counter, task_callbacks = Calls(), train.callbacks
    task_optimizer, task_loops, keras_own = train.built_optimizer, train.traced_once, lambda model: None
    train.callbacks = lambda cfg: [*task_callbacks(cfg), counter]
    cfg, ways = load_config("."), {}
    for way, per_call, optimizer, loops in (("task", train.BATCHES_PER_CALL, task_optimizer, task_loops),
                                            ("one_per_call", 1, task_optimizer, task_loops),
                                            ("optimizer_in_trace", train.BATCHES_PER_CALL, keras_own, task_loops),
                                            ("keras_loops", train.BATCHES_PER_CALL, task_optimizer, keras_own)):
        train.BATCHES_PER_CALL, train.built_optimizer, train.traced_once = per_call, optimizer, loops
        steps.clear()
        summary = train.train_model(cfg, "non_embedding")
        ways[way] = {"per_call": per_call, "calls": counter.calls, "traces": counter.traces, "steps": dict(steps),
                     "batches": train.batches(summary["train_rows"], cfg)}
        shutil.copy("artifacts/models/non_embedding/model.keras", f"{way}.keras")
    print(json.dumps(ways))
""")


def test_many_batches_per_call_an_early_optimizer_and_loops_traced_once_train_the_model_of_one_and_of_doit(
    built, tmp_path
):
    copy = tmp_path / "copy"
    shutil.copytree(built.root, copy)
    done = subprocess.run([sys.executable, "-c", TRAIN_FOUR_WAYS], cwd=copy, env=built.environment(NO_CACHE),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    ways = json.loads(done.stdout.strip().splitlines()[-1])
    task, one = ways["task"], ways["one_per_call"]
    many = task["per_call"]
    assert many > 1 and one["calls"] == one["batches"] > 1  # one call per batch
    assert task["calls"] == -(-task["batches"] // many) < one["calls"]  # many per call
    # Optimizer variables made inside the first trace make TF trace the train step again.
    assert task["traces"] == 1 and ways["optimizer_in_trace"]["traces"] == 2
    # Keras's loops leave what they carry undefined before the loop: autograph runs each step once more.
    assert task["steps"] == {"train_step": 1, "test_step": 1}
    assert ways["keras_loops"]["steps"] == {"train_step": 2, "test_step": 2}
    assert ways["keras_loops"]["calls"] == task["calls"]
    doit_model = (built.artifacts / "models" / "non_embedding" / "model.keras").read_bytes()
    assert all((copy / f"{way}.keras").read_bytes() == doit_model for way in ways)


# Prints each part's row count as training takes it, the rows each part holds, whether they are the
# records the held-out rule picks, one record at a time, in order, and the label's statistics of the rows
# fit on, against the ones the shared build's training recorded.
PARTS = textwrap.dedent("""
    import json
    import numpy as np
    import tensorflow as tf
    import tensorflow_transform as tft
    from tft_build import layout
    from tft_build.config.settings import load_config
    from tft_build.io import location
    from tft_build.steps import modelio, train

    cfg = load_config(".")
    spec = tft.TFTransformOutput(location.data_dir(cfg, layout.TRANSFORMED)).transformed_feature_spec()
    train.PARSE_BATCH = 37  # the few hundred rows in several calls
    every = list(train.records(cfg, "train").as_numpy_iterator())
    rule = [bool(train.held_out_row(tf.constant(i, tf.int64), cfg.validation_fraction)) for i in range(len(every))]
    picked = {train.FIT: [r for r, out in zip(every, rule) if not out],
              train.VALIDATION: [r for r, out in zip(every, rule) if out]}
    split = train.parts(cfg, spec)
    same = {part: all(np.array_equal(split[part][name].numpy(), tf.io.parse_example(rows, spec)[name].numpy())
                      for name in spec) for part, rows in picked.items()}
    labels = tf.io.parse_example(picked[train.FIT], spec)[cfg.label].numpy().astype("float64")
    print(json.dumps({"picked": {part: len(rows) for part, rows in picked.items()},
                      "read": {part: len(table[cfg.label]) for part, table in split.items()},
                      "as_picked": same, "fit_label": {"mean": labels.mean(), "std": labels.std()},
                      "trained_label": modelio.trained_label_stats(cfg, "non_embedding")}))
""")


def test_the_parts_are_the_rows_the_rule_holds_out(built):
    done = subprocess.run([sys.executable, "-c", PARTS], cwd=built.root, env=built.environment(NO_CACHE),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    parts = json.loads(done.stdout.strip().splitlines()[-1])
    assert parts["picked"] == parts["read"] and min(parts["read"].values()) > 0
    assert parts["as_picked"] == {"train": True, "validation": True}
    assert parts["trained_label"] == pytest.approx(parts["fit_label"], rel=1e-5)  # float32 sums, in another order
