"""Beam + tf.Transform: raw CSVs -> TFRecords, transform_fn and metadata.

One flow, in the order data travels: read the CSVs into Arrow record batches,
drop dirty rows (the configured filter, before analysis, since a
preprocessing_fn cannot drop rows), analyze the training rows, transform the
training and eval rows with the resulting transform_fn, encode and write
them (summing the records' digests on the way), check that rows really went
through, write the digests and the manifest, rename. The bulk output goes
to the build's data dir: the staging dir itself, or a fresh dir on shared
storage for a distributed runner (:mod:`tft_build.io.location`).

Data moves in record batches of fixed size (TFT's record-batch mode, one TF
call per batch), never row by row in Python. The training CSVs are read
twice, once for the analysis and once for the transform, so that no pass
holds the whole data set in memory.

``preprocess_raw_data`` runs the same flow with the identity transform.
"""

import collections.abc
import contextlib
import csv
import hashlib
import io
import itertools
import json
import os

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.options.pipeline_options import PipelineOptions
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_transform.tf_metadata import dataset_metadata
from tfx_bsl.public import tfxio
from tfx_bsl.tfxio import tensor_representation_util

from tft_build import layout
from tft_build.config.schema import feature_spec
from tft_build.config.settings import data_files
from tft_build.engine import dotted
from tft_build.engine.trace import traced
from tft_build.errors import ConfigError, DataError
from tft_build.io import arrowcsv, csvio, location, manifest, tfrecords
from tft_build.io.atomic import atomic_dir

SPLITS = ("train", "eval")
SAMPLE = layout.SAMPLE_FILE
BAD = "bad"  # the Beam output of malformed rows (on_bad_rows = "skip")
QUARANTINE = "quarantine.csv"
QUARANTINE_HEADER = "file,line,error,row"
SAMPLE_ROWS = 5
BATCH_ROWS = 65_536  # rows per record batch, hence per TF call in analysis and transform
TFT_TYPES = {"string": pa.binary(), "timestamp": pa.binary(), "float": pa.float32(), "int": pa.int64()}
SAVED_MODEL = "saved_model.pb"
METRICS_NAMESPACE = "tft_build"


@traced
def preprocess_raw_data(cfg):
    """Raw CSVs -> raw TFRecords and metadata (identity transform)."""
    return run_transform(cfg, layout.RAW, identity_fn)


@traced
def transform_raw_data(cfg):
    """Raw CSVs -> transformed TFRecords and transform_fn (``cfg.preprocessing_fn``)."""
    user_fn = dotted.resolve(cfg, "preprocessing_fn")
    return run_transform(cfg, layout.TRANSFORMED, checked_preprocessing_fn(cfg, user_fn))


def checked_preprocessing_fn(cfg, user_fn):
    """The user's ``preprocessing_fn(inputs, cfg)`` as TFT calls it: errors in one line, the label a target.

    It must return the label; the label is then made what the models learn
    (:func:`label_target`).
    """

    def preprocessing_fn(inputs):
        with dotted.blamed_on(cfg, "preprocessing_fn"):
            outputs = user_fn(inputs, cfg)
        if not isinstance(outputs, dict) or cfg.label not in outputs:
            got = ", ".join(sorted(outputs)) if isinstance(outputs, dict) else type(outputs).__name__
            raise ConfigError(
                f"{cfg.where('preprocessing_fn')}: {cfg.preprocessing_fn} returned no label '{cfg.label}' "
                f"(it returned {got}); add it, e.g. outputs[{cfg.label!r}] = inputs[{cfg.label!r}]"
            )
        return {**outputs, cfg.label: label_target(cfg, outputs[cfg.label])}

    return preprocessing_fn


def label_target(cfg, label):
    """The label as the models learn it: float32 for regression, class ids for classification.

    Class ids come from a vocabulary of the training labels (``LABEL_CLASSES``,
    most frequent class first); an eval label never seen in training gets -1.
    """
    where = cfg.where("preprocessing_fn")
    if not isinstance(label, tf.Tensor) or label.shape.rank != 1:
        raise ConfigError(f"{where}: the label '{cfg.label}' must be one value per row")
    if not cfg.classification:
        if label.dtype == tf.string:
            raise ConfigError(f"{where}: the regression label '{cfg.label}' must be a number")
        return tf.cast(label, tf.float32)
    if label.dtype.is_floating:
        raise ConfigError(f"{where}: the class label '{cfg.label}' must be text or integers, not floats")
    if label.dtype.is_integer:
        label = tf.strings.as_string(label)
    return tft.compute_and_apply_vocabulary(label, vocab_filename=layout.LABEL_CLASSES)


def identity_fn(inputs):
    """Every raw column, unchanged: the raw data as TFT output."""
    return {name: tf.identity(value) for name, value in inputs.items()}


@traced
def run_transform(cfg, directory, preprocessing_fn):
    """Run the Beam pipeline into ``artifacts/<directory>`` atomically; return the row counts."""
    out_dir = cfg.artifact(directory)
    files = {split: checked_files(cfg, split) for split in SPLITS}
    raw_metadata = dataset_metadata.DatasetMetadata.from_feature_spec(feature_spec(cfg.columns))
    row_filter = dotted.resolve(cfg, "row_filter")
    previous = location.data_dir(cfg, directory)
    with atomic_dir(out_dir) as staging:
        data = location.new_build_dir(cfg, directory, staging)
        with removed_on_failure(data, staging):
            pipeline = beam.Pipeline(options=beam_options(cfg))
            build_pipeline(pipeline, cfg, files, raw_metadata, row_filter, preprocessing_fn, data)
            result = pipeline.run()
            result.wait_until_finish()
            counts = row_counts(result)
            check_counts(counts, files)
            tf.io.gfile.rmtree(location.join(data, "tmp"))
            write_digests(staging, data)
            write_sample(staging, data, cfg, row_filter)
            if data != str(staging):
                location.write_pointer(staging, data)
            manifest.write_manifest(staging, {"rows": counts})
    if previous not in (out_dir, data):  # the shared build this one replaced
        location.remove_build(previous)
    print(f"{out_dir}: " + ", ".join(f"{s} {counts[s]['kept']} rows ({counts[s]['dropped']} dropped)" for s in SPLITS))
    bad = sum(counts[s]["bad"] for s in SPLITS)
    if bad:
        print(f"{bad} malformed rows skipped; they are listed in {location.join(data, QUARANTINE)}")
    return {"rows": counts}


@contextlib.contextmanager
def removed_on_failure(data, staging):
    """Delete a shared build dir if its build fails (the staging dir is atomic_dir's to remove)."""
    try:
        yield
    except BaseException:
        if data != str(staging):
            location.remove_build(data)
        raise


@traced
def checked_files(cfg, split):
    """The split's files, each existing with the right header; clear errors otherwise."""
    files = data_files(cfg, split)
    setting = f"{split}_data"
    if not files:
        patterns = ", ".join(getattr(cfg, setting))
        raise DataError(f"{patterns}: no file matches setting '{setting}'")
    for path in files:
        if not (location.is_remote(path) or os.path.isfile(path)):  # remote ones were matched
            raise DataError(f"{path}: no such data file; check setting '{setting}'")
        csvio.read_header(path, cfg.columns, cfg.header)
    return files


@traced
def beam_options(cfg):
    """Pipeline options from the config; the default local runner never downloads."""
    return PipelineOptions(list(cfg.beam_pipeline_args), save_main_session=False)


@traced
def build_pipeline(pipeline, cfg, files, raw_metadata, row_filter, preprocessing_fn, data):
    """Add the read, filter, analyze, transform and write steps to ``pipeline``, writing under ``data``."""
    raw_config = tensor_adapter_config(cfg, raw_metadata)
    with tft_beam.Context(temp_dir=location.join(data, "tmp")):
        read = {
            (split, counted): pipeline
            | f"List{split}{counted}" >> beam.Create(files[split])
            | f"Read{split}{counted}" >> beam.FlatMap(
                read_clean_batches, cfg, row_filter, split, counted
            ).with_outputs(BAD, main="batches")
            for split, counted in (("train", True), ("train", False), ("eval", True))
        }
        if cfg.on_bad_rows == "skip":
            _ = (
                [read[split, True][BAD] for split in SPLITS]
                | "AllBadRows" >> beam.Flatten()
                | "WriteQuarantine" >> beam.io.WriteToText(
                    location.join(data, QUARANTINE), shard_name_template="", header=QUARANTINE_HEADER
                )
            )
        transform_fn = (read["train", True].batches, raw_config) | "Analyze" >> tft_beam.AnalyzeDataset(
            preprocessing_fn
        )
        for split, batches in (("train", read["train", False].batches), ("eval", read["eval", True].batches)):
            transformed, _ = ((batches, raw_config), transform_fn) | f"Transform{split}" >> tft_beam.TransformDataset(
                output_record_batches=True
            )
            encoded = transformed | f"Encode{split}" >> beam.Map(encode)
            _ = (
                encoded
                | f"Records{split}" >> beam.Map(lambda pair: pair[0])
                | f"Write{split}" >> beam.io.Write(FramedRecordsSink(location.join(data, split)))
            )
            _ = (
                encoded
                | f"Digest{split}" >> beam.Map(lambda pair: pair[1])
                | f"AddDigests{split}" >> beam.CombineGlobally(manifest.add_digests)
                | f"DigestJson{split}" >> beam.Map(lambda part: manifest.to_json(manifest.digest_json(part)))
                | f"WriteDigest{split}" >> beam.io.WriteToText(
                    location.join(data, f"{split}.{layout.RECORDS_DIGEST_SUFFIX}"), shard_name_template=""
                )
            )
        _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(data)
        _ = raw_metadata | "WriteRawMetadata" >> tft_beam.WriteMetadata(
            location.join(data, tft.TFTransformOutput.RAW_METADATA_DIR), pipeline
        )


def tensor_adapter_config(cfg, raw_metadata):
    """How TFT turns the raw record batches (:func:`tft_batch`) into one tensor per column."""
    arrow_schema = pa.schema([(c.name, pa.list_(TFT_TYPES[c.type])) for c in cfg.columns])
    representations = tensor_representation_util.InferTensorRepresentationsFromSchema(raw_metadata.schema)
    return tfxio.TensorAdapterConfig(arrow_schema, representations)


def encode(transformed):
    """TFRecord bytes of one transformed ``(record batch, passthrough columns)`` pair, and their digest.

    The digest (:func:`manifest.records_digest`) is taken here, from the
    records in memory, so nothing is read back after writing.
    """
    batch, _ = transformed
    chunk = tfrecords.tfrecord_chunk(batch)
    return chunk.data, manifest.records_digest(chunk.records())


class FramedRecordsSink(beam.io.filebasedsink.FileBasedSink):
    """``<prefix>-SSSSS-of-NNNNN.tfrecord`` files of elements that are whole TFRecord chunks.

    Beam's WriteToTFRecord frames one record per element; here an element is
    a chunk of records already framed (:func:`tfrecords.tfrecord_chunk`), so
    Beam handles a few large elements instead of a million small ones.
    """

    def __init__(self, prefix):
        super().__init__(
            prefix, coder=beam.coders.BytesCoder(), file_name_suffix=".tfrecord",
            mime_type="application/octet-stream",
        )

    def write_encoded_record(self, file_handle, encoded_value):
        """Append one chunk of framed records as it is."""
        file_handle.write(encoded_value)


def read_clean_batches(path, cfg, row_filter, split, counted):
    """Record batches of one CSV's rows that pass the filter, BATCH_ROWS rows each but the last.

    The batch boundaries depend on the data only: TF kernels may round the
    last bit differently for different batch shapes, and the output must be
    the same in every run. When ``counted``, rows and the label are counted
    and, with ``on_bad_rows = "skip"``, malformed rows go to the ``bad``
    output as quarantine lines instead of failing the run; the uncounted
    second read of the training files skips them silently.
    """
    counters = split_counters(split) if counted else None
    bad = []

    def quarantine(line, fields, message):
        counters["bad"].inc()
        bad.append(quarantine_line(path, line, fields, message))

    on_bad = (quarantine if counted else csvio.ignore_bad_rows("skip")) if cfg.on_bad_rows == "skip" else None
    batches = (
        clean_rows(batch, cfg, row_filter, counters)
        for batch in arrowcsv.read_batches(path, cfg.columns, on_bad, cfg.header)
    )
    for batch in rechunked(batches, BATCH_ROWS):
        yield from drain(bad)
        yield tft_batch(batch, cfg.columns)
    yield from drain(bad)


def split_counters(split):
    """The Beam counters of one split: rows read, dropped (by the row filter) and malformed."""
    return {
        name: beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"{split}_{name}")
        for name in ("read", "dropped", "bad")
    }


def clean_rows(batch, cfg, row_filter, counters):
    """The rows of ``batch`` that pass the row filter; counts them when ``counters`` is given."""
    with dotted.blamed_on(cfg, "row_filter"):
        keep = np.broadcast_to(np.asarray(row_filter(Columns(batch)), bool), (batch.num_rows,))
    clean = batch.filter(pa.array(keep))
    if counters:
        counters["read"].inc(batch.num_rows)
        counters["dropped"].inc(batch.num_rows - clean.num_rows)
    return clean


class Columns(collections.abc.Mapping):
    """A record batch as the row filter sees it: column name -> numpy array, made when asked."""

    def __init__(self, batch):
        self._batch = batch
        self._arrays = {}

    def __getitem__(self, name):
        if name not in self._arrays:
            self._arrays[name] = self._batch.column(name).to_numpy(zero_copy_only=False)
        return self._arrays[name]

    def __iter__(self):
        return iter(self._batch.schema.names)

    def __len__(self):
        return self._batch.num_columns


def rechunked(batches, rows):
    """The same rows in batches of ``rows`` rows each (the last may be shorter), in order."""
    pending, count = [], 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows).combine_chunks().to_batches()[0]
            pending, count = table.slice(rows).to_batches(), count - rows
    if count:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def tft_batch(batch, columns):
    """A typed record batch in the form TFT reads: one single-value list per row and column."""
    offsets = pa.array(np.arange(batch.num_rows + 1, dtype=np.int32))
    arrays = [
        pa.ListArray.from_arrays(offsets, values.cast(TFT_TYPES[column.type]))
        for column, values in zip(columns, batch.columns)
    ]
    return pa.RecordBatch.from_arrays(arrays, names=[c.name for c in columns])


def drain(bad):
    """The quarantine lines collected so far, as the ``bad`` output; empties the list."""
    while bad:
        yield beam.pvalue.TaggedOutput(BAD, bad.pop(0))


def quarantine_line(path, line, fields, message):
    """One CSV line of the quarantine file: where the row was, why, and the row."""
    text = io.StringIO()
    csv.writer(text, lineterminator="").writerow([path, line, message, ",".join(fields)])
    return text.getvalue()


@traced
def row_counts(result):
    """Rows read, malformed, dropped and kept per split."""
    query = result.metrics().query(beam.metrics.MetricsFilter().with_namespace(METRICS_NAMESPACE))
    values = {m.key.metric.name: m.committed for m in query["counters"]}
    counts = {}
    for split in SPLITS:
        read, dropped = values.get(f"{split}_read", 0), values.get(f"{split}_dropped", 0)
        kept = read - dropped
        counts[split] = {
            "read": read,
            "bad": values.get(f"{split}_bad", 0),
            "dropped": dropped,
            "kept": kept,
        }
    return counts


@traced
def check_counts(counts, files):
    """An empty split is an error, never a silently degenerate transform_fn."""
    for split in SPLITS:
        if counts[split]["read"] == 0 and counts[split]["bad"]:
            raise DataError(
                f"{', '.join(files[split])}: all {counts[split]['bad']} rows are malformed "
                f"(on_bad_rows = \"skip\" quarantined them); fix the data"
            )
        if counts[split]["read"] == 0:
            raise DataError(f"{', '.join(files[split])}: no data rows")
        if counts[split]["kept"] == 0:
            raise DataError(
                f"{', '.join(files[split])}: all {counts[split]['read']} rows were dropped "
                "by the row filter; check the data or setting 'row_filter'"
            )


@traced
def write_digests(staging, data):
    """The digests consumers depend on, into ``staging``: the records, and the transform graph."""
    spec = tft.TFTransformOutput(data).transformed_feature_spec()
    digests = {"feature_spec": {name: repr(feature) for name, feature in sorted(spec.items())}}
    for split in SPLITS:
        with tf.io.gfile.GFile(location.join(data, f"{split}.{layout.RECORDS_DIGEST_SUFFIX}")) as f:
            digests[split] = json.loads(f.read())
    (staging / layout.DATA_DIGEST).write_text(manifest.to_json(digests), encoding="utf-8")
    # fingerprint.pb holds a random id of each save; saved_model.pb counts by its meaning.
    graph = {
        part: tree_digest(location.join(data, part), ignore=("fingerprint.pb", SAVED_MODEL))
        for part in (tft.TFTransformOutput.TRANSFORM_FN_DIR, tft.TFTransformOutput.TRANSFORMED_METADATA_DIR)
    }
    graph["graph"] = hashlib.sha256(canonical_graph(data).encode()).hexdigest()
    (staging / layout.TRANSFORM_DIGEST).write_text(manifest.to_json(graph), encoding="utf-8")


def tree_digest(root, ignore=()):
    """One hash of every file's path and content under ``root`` (local or remote), but ``ignore``d names."""
    files = {}
    for directory, _, names in tf.io.gfile.walk(root):
        for name in names:
            if name not in ignore:
                path = location.join(directory, name)
                with tf.io.gfile.GFile(path, "rb") as f:
                    files[path[len(root):]] = hashlib.sha256(f.read()).hexdigest()
    return hashlib.sha256(manifest.to_json(files).encode()).hexdigest()


def canonical_graph(data):
    """The transform_fn's saved graph as text that depends on what it computes only.

    TF writes a graph's and each function's nodes in an order that varies
    between processes (it follows Python's per-process string hashing), and
    names vocabulary tables after the temp dir the graph was built in: the
    nodes are sorted by name and that dir is cut out.
    """
    with tf.io.gfile.GFile(location.join(data, tft.TFTransformOutput.TRANSFORM_FN_DIR, SAVED_MODEL), "rb") as f:
        model = saved_model_pb2.SavedModel.FromString(f.read())
    for meta_graph in model.meta_graphs:
        graph = meta_graph.graph_def
        sort_by(graph.node, lambda node: node.name)
        sort_by(graph.library.function, lambda function: function.signature.name)
        for function in graph.library.function:
            sort_by(function.node_def, lambda node: node.name)
    return str(model).replace(data, "")


def sort_by(repeated, key):
    """Sort a repeated protobuf field in place."""
    ordered = sorted(repeated, key=key)
    del repeated[:]
    repeated.extend(ordered)


@traced
def write_sample(staging, data, cfg, row_filter, rows=SAMPLE_ROWS):
    """``sample.json``: the first clean eval rows, raw and through the saved transform_fn.

    The report shows it; the transform is applied exactly as serving does.
    """
    raw = list(itertools.islice(
        (
            row
            for path in data_files(cfg, "eval")
            for _, row in csvio.read_rows(path, cfg.columns, csvio.ignore_bad_rows(cfg.on_bad_rows), cfg.header)
            if row_filter(row)
        ),
        rows,
    ))
    spec = feature_spec(cfg.columns)
    tensors = {name: tf.constant([row[name] for row in raw], dtype=f.dtype) for name, f in spec.items()}
    transformed = tft.TFTransformOutput(data).transform_raw_features(tensors)
    values = {name: tensor.numpy().tolist() for name, tensor in sorted(transformed.items())}
    sample = [
        {"raw": row, "transformed": {name: plain(column[i]) for name, column in values.items()}}
        for i, row in enumerate(raw)
    ]
    (staging / SAMPLE).write_text(manifest.to_json({"rows": sample}), encoding="utf-8")


def plain(value):
    """A tensor element as JSON: text for bytes, numbers rounded for reading."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value
