"""Throughput of the transform task against the TF ceiling, at several data sizes.

For each size, in one run: generate the rides (``tft_build.examples.taxi.datagen``) into a
temp dir, run ``doit transform_raw_data`` there (train data = the big CSV, eval
data = a small one) and time it while polling the peak RSS of its process
tree, then measure the TF ceiling: ``tf.data`` reading the same train CSV,
decoding it and applying the transform_fn the task just wrote, writing
nothing. Prints the task's progress lines as they come, then a table, and
writes JSON. ``rows_per_s`` is training rows over the whole task's wall
time (process start, imports and all).

The cost of the data statistics (``tft_build.datacheck``, gathered in the
same read of the CSVs) is measured side by side: the task runs again with
``statistics = false`` and with it, alternately (``--repeats`` times each,
the fastest of each kept); ``stats_overhead`` is how much slower the task is
with them.

    python benchmarks/transform_throughput.py [--rows 100000,1000000] [--repeats 2] [--out transform_throughput.json]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tft_build.config.settings import load_config  # noqa: E402
from tft_build.examples.taxi import datagen  # noqa: E402

EVAL_ROWS = 10_000
CEILING_BATCH = 4096
POLL_SECONDS = 0.1
PROGRESS = "rows read: "  # the transform's progress lines (tft_build.engine.progress)


def make_project(root, rows, seed):
    """A project dir with ``rows`` training rides, a small eval set and a config; its env."""
    data = root / "data"
    data.mkdir(parents=True)
    train, _ = datagen.generate_rides(rows, (seed, 0))
    evaluation, _ = datagen.generate_rides(EVAL_ROWS, (seed, 1), key_offset=rows)
    datagen.write_csv(data / "train.csv", train)
    datagen.write_csv(data / "eval.csv", evaluation)
    shutil.copy(ROOT / "dodo.py", root / "dodo.py")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")  # the taxi example's columns, label and code
    config = root / "bench.toml"
    write_config(config, data, statistics=True)
    # No build cache: it would restore a transform measured before instead of running it.
    return {**os.environ, "TFT_BUILD_CONFIG": str(config), "PYTHONPATH": str(ROOT), "TFT_BUILD_CACHE_DIR": ""}


def write_config(config, data, statistics):
    """The benchmark's config: the generated data, with or without the data statistics."""
    config.write_text(f'train_data = "{data / "train.csv"}"\neval_data = "{data / "eval.csv"}"\n'
                      f"statistics = {str(statistics).lower()}\n")


def tree_rss_bytes(pid):
    """Sum of VmRSS of ``pid`` and all its descendants, read from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        total += vm_rss_bytes(current)
    return total


def vm_rss_bytes(pid):
    """VmRSS of one process in bytes; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            line = next((text for text in f if text.startswith("VmRSS:")), None)
    except OSError:
        return 0
    return int(line.split()[1]) * 1024 if line else 0


def run_task(root, env):
    """Run ``doit transform_raw_data`` in ``root``: (wall seconds, peak tree RSS bytes)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "doit", "transform_raw_data"], cwd=root, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    peak = [0]

    def poll():
        while process.poll() is None:
            peak[0] = max(peak[0], tree_rss_bytes(process.pid))
            time.sleep(POLL_SECONDS)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    lines = []
    for line in process.stdout:  # the task's progress lines, shown as they come
        lines.append(line)
        if line.startswith(PROGRESS):
            print(f"  {time.perf_counter() - start:6.1f} s  {line.rstrip()}", flush=True)
    process.wait()
    out = "".join(lines)
    seconds = time.perf_counter() - start
    poller.join()
    if process.returncode != 0:
        raise SystemExit(f"doit transform_raw_data failed in {root}:\n{out}")
    return seconds, peak[0]


def tf_ceiling(train_csv, transform_dir):
    """Rows/s of tf.data reading ``train_csv`` and applying the saved transform_fn."""
    import tensorflow as tf
    import tensorflow_transform as tft

    columns = load_config(ROOT).columns
    dtypes = {"string": tf.string, "timestamp": tf.string, "float": tf.float32, "int": tf.int64}
    names = [c.name for c in columns]
    layer = tft.TFTransformOutput(str(transform_dir)).transform_features_layer()
    dataset = (
        tf.data.experimental.CsvDataset(str(train_csv), [dtypes[c.type] for c in columns], header=True)
        .batch(CEILING_BATCH)
        .map(lambda *values: layer(dict(zip(names, values))), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    start = time.perf_counter()
    rows = sum(int(tf.shape(batch["fare_amount"])[0]) for batch in dataset)
    return rows / (time.perf_counter() - start)


def measure(rows, seed, repeats):
    """One size: the task's time, rate and peak memory, the TF ceiling, and the statistics' cost."""
    with tempfile.TemporaryDirectory(prefix="tft-bench-") as tmp:
        root = Path(tmp)
        env = make_project(root, rows, seed)
        seconds, peak = run_task(root, env)
        ceiling = tf_ceiling(root / "data" / "train.csv", root / "artifacts" / "transformed")
        timed = {True: [seconds], False: []}
        for _ in range(repeats):
            for statistics in (False, True):  # each change of the setting reruns the task
                write_config(root / "bench.toml", root / "data", statistics)
                timed[statistics].append(run_task(root, env)[0])
    rate = rows / seconds
    with_stats, without = min(timed[True]), min(timed[False])
    return {
        "train_rows": rows, "eval_rows": EVAL_ROWS, "task_seconds": round(seconds, 2),
        "rows_per_s": round(rate), "peak_rss_mb": round(peak / 2**20),
        "tf_ceiling_rows_per_s": round(ceiling), "ratio_to_ceiling": round(rate / ceiling, 3),
        "best_with_stats_s": round(with_stats, 2), "best_without_stats_s": round(without, 2),
        "stats_overhead": f"{with_stats / without - 1:+.1%}",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated training set sizes")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeats", type=int, default=2, help="runs with and without statistics, each")
    parser.add_argument("--out", default="transform_throughput.json")
    args = parser.parse_args()
    results = [measure(int(n), args.seed, args.repeats) for n in args.rows.split(",")]
    print(tabulate(results, headers="keys"))
    summary = scaling(results) if len(results) > 1 else {}
    for name, value in summary.items():
        print(f"{name}: {value}")
    Path(args.out).write_text(json.dumps({"results": results, "scaling": summary}, indent=2) + "\n")


def scaling(results):
    """Time ratio of the largest to the smallest size, and the rate of the rows in between.

    The marginal rate leaves out the fixed cost (imports, pipeline set-up,
    saving the graph), which the whole-task rate includes.
    """
    first, last = results[0], results[-1]
    rate = (last["train_rows"] - first["train_rows"]) / (last["task_seconds"] - first["task_seconds"])
    return {
        "time_ratio": round(last["task_seconds"] / first["task_seconds"], 2),
        "marginal_rows_per_s": round(rate),
        "marginal_ratio_to_ceiling": round(rate / last["tf_ceiling_rows_per_s"], 3),
    }


if __name__ == "__main__":
    main()
