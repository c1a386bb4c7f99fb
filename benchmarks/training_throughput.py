"""Training throughput: the task's tf.data input against the same model fed from memory.

Builds the transform of the default data (artifacts in a temp dir), then
trains each model with the task's own input pipeline (TFRecords -> cache ->
shuffle -> batch -> parse) and with the same examples as in-memory tensors,
alternating the two, and reports examples/s (median epoch, the first epoch of
each fit left out as warm-up) and their ratio. Prints a table, writes JSON.

    python benchmarks/training_throughput.py [--epochs 6] [--rounds 2] [--out training_throughput.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent


def epoch_timer():
    """A Keras callback that collects each epoch's wall time in ``.times``."""
    import tf_keras as keras

    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    return EpochTimer()


def in_memory(train, batch_size, seed):
    """The same (features, label) examples as one in-memory dataset, shuffled and batched."""
    import numpy as np
    import tensorflow as tf

    batches = list(train)
    features = {k: np.concatenate([b[0][k].numpy() for b in batches]) for k in batches[0][0]}
    labels = np.concatenate([b[1].numpy() for b in batches])
    ds = tf.data.Dataset.from_tensor_slices((features, labels)).cache()
    return ds.shuffle(len(labels), seed=seed).batch(batch_size).prefetch(tf.data.AUTOTUNE), len(labels)


def epoch_seconds(cfg, name, features, stats, data, epochs):
    """Median seconds of an epoch (after the first) for a fresh model on ``data``."""
    import tf_keras as keras

    from tft_build.engine import dotted

    keras.utils.set_random_seed(cfg.seed)
    model = dotted.resolve(cfg, f"models.{name}")(features, stats, cfg)
    timer = epoch_timer()
    model.fit(data, epochs=epochs, callbacks=[timer], verbose=0)
    return statistics.median(timer.times[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default="training_throughput.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        override = Path(tmp) / "override.toml"
        override.write_text(f'artifacts_dir = "{Path(tmp) / "artifacts"}"\n')
        os.environ["TFT_BUILD_CONFIG"] = str(override)
        os.environ["TFT_BUILD_CACHE_DIR"] = ""  # a real transform, and none stored in the user's cache
        print("transforming the default data (artifacts in a temp dir)...", flush=True)
        subprocess.run([sys.executable, "-m", "doit", "transform_raw_data"], cwd=ROOT, check=True, capture_output=True)

        import tensorflow_transform as tft

        from tft_build import layout
        from tft_build.config.settings import load_config
        from tft_build.io import location
        from tft_build.steps import train

        cfg = load_config(ROOT)
        tft_output = tft.TFTransformOutput(location.data_dir(cfg, layout.TRANSFORMED))
        features = train.model_features(tft_output, cfg.label)
        spec = tft_output.transformed_feature_spec()
        pipeline = train.dataset(cfg, "train", spec, shuffle=True)
        memory, examples = in_memory(pipeline, cfg.batch_size, cfg.seed)
        stats = train.label_stats(pipeline, cfg, tft_output)
        rows = []
        for name, _ in cfg.models:
            times = {"tf.data (the task's)": [], "in-memory tensors": []}
            for _ in range(args.rounds):
                times["tf.data (the task's)"].append(epoch_seconds(cfg, name, features, stats, pipeline, args.epochs))
                times["in-memory tensors"].append(epoch_seconds(cfg, name, features, stats, memory, args.epochs))
            task, ceiling = (examples / statistics.median(t) for t in times.values())
            rows.append({"model": name, "task_examples_per_s": task, "in_memory_examples_per_s": ceiling,
                         "ratio": task / ceiling})
    print(f"{examples} training examples, batch {cfg.batch_size}, {args.epochs} epochs x {args.rounds} rounds")
    print(tabulate(rows, headers="keys", floatfmt=".2f"))
    Path(args.out).write_text(json.dumps({"examples": examples, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
