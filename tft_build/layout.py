"""Where everything lives under the artifacts dir: one place for every dir and file name.

Like TFX's ``components/transform/labels.py``: tasks, steps, the clean
guard, the lock, the reporter and the report name artifacts through these,
so a name is changed here or nowhere. ``cfg.artifact(*parts)`` joins them
under the project's artifacts dir.
"""

# doit's state database and the project's lock, hidden files at the top.
STATE_FILE = ".doit-state.sqlite3"
LOCK_FILE = ".tft_build.lock"
CODE_CACHE = ".tft_build-code.json"  # fingerprints of unchanged source files
WARM_DIR = ".tft_build-warm"  # the warm workers' slot locks and logs (tft_build.engine.warm)
HIDDEN_PREFIXES = (".doit-state", ".tft_build")  # what else may sit at the top of the artifacts dir

# The step dirs of the Beam steps, and what each leaves for its consumers.
RAW = "raw"
TRANSFORMED = "transformed"
MANIFEST = "MANIFEST.json"  # every file's sha256 and size, written last
DATA_DIGEST = "data.digest.json"  # the digest of the records a step wrote
TRANSFORM_DIGEST = "transform_fn.digest.json"  # the digest of the transform graph
RECORDS_DIGEST_SUFFIX = "records.digest.json"  # <split>.records.digest.json: the sum of its records' digests
LOCATION = "location.json"  # names the shared build dir holding a step's bulk output (shared_dir)
LABEL_CLASSES = "label_classes"  # the transform's vocabulary of a classification label, most frequent first
RECORDS_SUFFIX = ".tfrecord"  # <split>-SSSSS-of-NNNNN.tfrecord: a split's records, in shards (records_pattern)
SAMPLE_FILE = "sample.json"  # in a Beam step's dir: the first clean eval rows, raw and transformed
QUARANTINE_FILE = "quarantine.csv"  # in a Beam step's data dir: the malformed rows (on_bad_rows = "skip")
TFT_TEMP_DIR = "tmp"  # in a Beam step's data dir while it runs: tf.Transform's temp files

# What the transform learns of the data (tft_build.datacheck): each split's statistics, the schema it checked
# them against, the anomalies found.
STATS = "stats"
ANOMALIES_FILE = "anomalies.json"
SCHEMA_COPY = "schema.toml"  # in stats/: the schema the transform checked against, as the schema file held it
STATS_PARTIALS = "stats.partials.jsonl"  # in a Beam step's temp dir: each CSV's statistics, merged after the run

# Per model: the trained model, the served model, its predictions and metrics.
MODELS = "models"
SERVING = "serving"
PREDICTIONS = "predictions"
METRICS = "metrics"
MODEL_FILE = "model.keras"  # in models/<name>/: the trained tf_keras model
HISTORY_FILE = "history.json"  # in models/<name>/: the training curves and label stats
TENSORBOARD = "tensorboard"  # tensorboard/<name>/: TensorBoard's logs of the model's training (not in its digest)

# The reference model (boosted trees on the same features and training rows as the networks): its figures.
REFERENCE = "reference"
REFERENCE_METRICS = "metrics.json"  # in reference/: reference_* on the clean eval rows, their count, its facts

# What a run leaves for people: the history, each task's last status and trace, the report.
REPORTS = "reports"
RUNS_FILE = "runs.jsonl"
STATUS_FILE = "status.json"
REPORT_FILE = "index.html"
TRACES = "traces"

OUTPUT_DIRS = frozenset(
    {RAW, TRANSFORMED, STATS, MODELS, TENSORBOARD, REFERENCE, SERVING, PREDICTIONS, METRICS, REPORTS, TRACES}
)


def trace_file(task: str) -> tuple[str, str]:
    """The call trace of ``task``'s last run, under the artifacts dir."""
    return (TRACES, f"{task}.json")


def records_pattern(split: str) -> str:
    """The glob of a split's TFRecord shards in a Beam step's data dir."""
    return f"{split}-*{RECORDS_SUFFIX}"


def stats_file(split: str) -> tuple[str, str]:
    """The statistics of ``split`` (train or eval)."""
    return (STATS, f"{split}.json")


def predictions_file(model: str) -> tuple[str, str]:
    return (PREDICTIONS, f"{model}.csv")


def metrics_file(model: str) -> tuple[str, str]:
    return (METRICS, f"{model}.json")


def reference_metrics_file() -> tuple[str, str]:
    return (REFERENCE, REFERENCE_METRICS)
