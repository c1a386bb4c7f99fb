"""Beam + tf.Transform: raw CSVs -> TFRecords, transform_fn and metadata.

One flow, in the order data travels: read the CSVs into typed rows, drop dirty
rows (the configured filter, before analysis, since a preprocessing_fn cannot
drop rows), analyze and transform the training rows, transform the eval rows
with the same transform_fn, write everything into a staging dir, check that
rows really went through, write the digests and the manifest, rename.

``preprocess_raw_data`` runs the same flow with the identity transform.
"""

import csv
import io
import itertools
import os
from pathlib import Path

import apache_beam as beam
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.options.pipeline_options import PipelineOptions
from tensorflow_transform.tf_metadata import dataset_metadata

from tft_build import csvio, dotted, manifest
from tft_build.atomic import atomic_dir
from tft_build.config import data_files
from tft_build.errors import DataError
from tft_build.schema import feature_spec
from tft_build.trace import traced

SPLITS = ("train", "eval")
SAMPLE = "sample.json"
BAD = "bad"  # the Beam output of malformed rows (on_bad_rows = "skip")
QUARANTINE = "quarantine.csv"
QUARANTINE_HEADER = "file,line,error,row"
SAMPLE_ROWS = 5
BATCH_SIZE = 1000  # rows per TF call in analysis and transform
DATA_DIGEST = "data.digest.json"
TRANSFORM_DIGEST = "transform_fn.digest.json"
METRICS_NAMESPACE = "tft_build"


@traced
def preprocess_raw_data(cfg):
    """Raw CSVs -> raw TFRecords and metadata (identity transform)."""
    return run_transform(cfg, cfg.artifact("raw"), identity_fn)


@traced
def transform_raw_data(cfg):
    """Raw CSVs -> transformed TFRecords and transform_fn (``cfg.preprocessing_fn``)."""
    user_fn = dotted.resolve(cfg.preprocessing_fn, "preprocessing_fn", cfg.project_dir)
    return run_transform(cfg, cfg.artifact("transformed"), lambda inputs: user_fn(inputs, cfg))


def identity_fn(inputs):
    """Every raw column, unchanged: the raw data as TFT output."""
    return {name: tf.identity(value) for name, value in inputs.items()}


@traced
def run_transform(cfg, out_dir, preprocessing_fn):
    """Run the Beam pipeline into ``out_dir`` atomically; return the row counts."""
    files = {split: checked_files(cfg, split) for split in SPLITS}
    raw_metadata = dataset_metadata.DatasetMetadata.from_feature_spec(feature_spec(cfg.columns))
    row_filter = dotted.resolve(cfg.row_filter, "row_filter", cfg.project_dir)
    with atomic_dir(out_dir) as staging:
        pipeline = beam.Pipeline(options=beam_options(cfg))
        build_pipeline(pipeline, cfg, files, raw_metadata, row_filter, preprocessing_fn, staging)
        result = pipeline.run()
        result.wait_until_finish()
        counts = row_counts(result)
        check_counts(counts, files)
        tf.io.gfile.rmtree(str(staging / "tmp"))
        write_digests(staging, counts)
        write_sample(staging, cfg, row_filter)
        manifest.write_manifest(staging, {"rows": counts})
    print(f"{out_dir}: " + ", ".join(f"{s} {counts[s]['kept']} rows ({counts[s]['dropped']} dropped)" for s in SPLITS))
    bad = sum(counts[s]["bad"] for s in SPLITS)
    if bad:
        print(f"{bad} malformed rows skipped; they are listed in {Path(out_dir) / QUARANTINE}")
    return {"rows": counts}


@traced
def checked_files(cfg, split):
    """The split's files, each existing with the right header; clear errors otherwise."""
    files = data_files(cfg, split)
    setting = f"{split}_data"
    if not files:
        patterns = ", ".join(getattr(cfg, setting))
        raise DataError(f"{patterns}: no file matches setting '{setting}'")
    for path in files:
        if not os.path.isfile(path):
            raise DataError(f"{path}: no such data file; check setting '{setting}'")
        csvio.read_header(path, cfg.columns)
    return files


@traced
def beam_options(cfg):
    """Pipeline options from the config; the default local runner never downloads."""
    return PipelineOptions(list(cfg.beam_pipeline_args), save_main_session=False)


@traced
def build_pipeline(pipeline, cfg, files, raw_metadata, row_filter, preprocessing_fn, staging):
    """Add the read, filter, analyze, transform and write steps to ``pipeline``."""
    # A fixed batch size: TF kernels may round the last bit differently for
    # different batch shapes, and Beam would otherwise pick sizes by timing.
    with tft_beam.Context(temp_dir=str(staging / "tmp"), desired_batch_size=BATCH_SIZE):
        read = {
            split: pipeline
            | f"List{split}" >> beam.Create(files[split])
            | f"Read{split}" >> beam.FlatMap(read_clean_rows, cfg, row_filter, split).with_outputs(BAD, main="rows")
            for split in SPLITS
        }
        rows = {split: read[split].rows for split in SPLITS}
        if cfg.on_bad_rows == "skip":
            _ = (
                [read[split][BAD] for split in SPLITS]
                | "AllBadRows" >> beam.Flatten()
                | "WriteQuarantine" >> beam.io.WriteToText(
                    str(staging / QUARANTINE), shard_name_template="", header=QUARANTINE_HEADER
                )
            )
        (train, transformed_metadata), transform_fn = (
            rows["train"],
            raw_metadata,
        ) | "AnalyzeAndTransform" >> tft_beam.AnalyzeAndTransformDataset(preprocessing_fn)
        evaluation, _ = (
            (rows["eval"], raw_metadata),
            transform_fn,
        ) | "TransformEval" >> tft_beam.TransformDataset()
        encode = example_encoder(transformed_metadata)
        for split, data in (("train", train), ("eval", evaluation)):
            _ = (
                data
                | f"Encode{split}" >> beam.Map(encode)
                | f"Write{split}" >> beam.io.WriteToTFRecord(
                    str(staging / split), file_name_suffix=".tfrecord", num_shards=1
                )
            )
        _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(str(staging))
        _ = raw_metadata | "WriteRawMetadata" >> tft_beam.WriteMetadata(
            str(staging / tft.TFTransformOutput.RAW_METADATA_DIR), pipeline
        )


def example_encoder(metadata):
    """A function: transformed instance -> ``tf.Example`` bytes, the same in every run.

    TFT's coder serializes the feature map in hash order, which changes from
    process to process; the same rows must give the same bytes, so the map is
    serialized deterministically (sorted by feature name).
    """
    coder = tft.coders.ExampleProtoCoder(metadata.schema)

    def encode(instance):
        return tf.train.Example.FromString(coder.encode(instance)).SerializeToString(deterministic=True)

    return encode


def read_clean_rows(path, cfg, row_filter, split):
    """Typed rows of one CSV that pass the filter; counts rows and the label.

    With ``on_bad_rows = "skip"``, a malformed row is counted and sent to the
    ``bad`` output as a quarantine line instead of failing the run.
    """
    read = beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"{split}_read")
    dropped = beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"{split}_dropped")
    bad_rows = beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"{split}_bad")
    label = beam.metrics.Metrics.distribution(METRICS_NAMESPACE, f"{split}_label_cents")
    bad = []

    def quarantine(line, fields, message):
        bad_rows.inc()
        bad.append(quarantine_line(path, line, fields, message))

    for _, row in csvio.read_rows(path, cfg.columns, quarantine if cfg.on_bad_rows == "skip" else None):
        yield from drain(bad)
        read.inc()
        if row_filter(row):
            # Distributions hold integers: cents keep the mean exact enough.
            label.update(round(row[cfg.label] * 100))
            yield row
        else:
            dropped.inc()
    yield from drain(bad)


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
    """Rows read, dropped and kept per split, and the training label's mean."""
    query = result.metrics().query(beam.metrics.MetricsFilter().with_namespace(METRICS_NAMESPACE))
    values = {m.key.metric.name: m.committed for m in query["counters"]}
    dists = {m.key.metric.name: m.committed for m in query["distributions"]}
    counts = {}
    for split in SPLITS:
        read, dropped = values.get(f"{split}_read", 0), values.get(f"{split}_dropped", 0)
        dist = dists.get(f"{split}_label_cents")
        counts[split] = {
            "read": read,
            "bad": values.get(f"{split}_bad", 0),
            "dropped": dropped,
            "kept": read - dropped,
            "label_mean": dist.sum / dist.count / 100 if dist and dist.count else None,
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
            raise DataError(f"{', '.join(files[split])}: no data rows after the header")
        if counts[split]["kept"] == 0:
            raise DataError(
                f"{', '.join(files[split])}: all {counts[split]['read']} rows were dropped "
                "by the row filter; check the data or setting 'row_filter'"
            )


@traced
def write_digests(staging, counts):
    """The digests consumers depend on: the data, and the transform graph."""
    spec = tft.TFTransformOutput(str(staging)).transformed_feature_spec()
    data = {
        "feature_spec": {name: repr(feature) for name, feature in sorted(spec.items())},
        "label_mean": counts["train"]["label_mean"],
    }
    for split in SPLITS:
        paths = sorted(str(p) for p in staging.glob(f"{split}-*.tfrecord"))
        data[split] = manifest.records_digest(paths)
    (staging / DATA_DIGEST).write_text(manifest.to_json(data), encoding="utf-8")
    # fingerprint.pb holds a random id of each save; the graph itself is stable.
    graph = {
        part: manifest.tree_digest(staging / part, ignore=("fingerprint.pb",))
        for part in (tft.TFTransformOutput.TRANSFORM_FN_DIR, tft.TFTransformOutput.TRANSFORMED_METADATA_DIR)
    }
    (staging / TRANSFORM_DIGEST).write_text(manifest.to_json(graph), encoding="utf-8")


@traced
def write_sample(staging, cfg, row_filter, rows=SAMPLE_ROWS):
    """``sample.json``: the first clean eval rows, raw and through the saved transform_fn.

    The report shows it; the transform is applied exactly as serving does.
    """
    raw = list(itertools.islice(
        (
            row
            for path in data_files(cfg, "eval")
            for _, row in csvio.read_rows(path, cfg.columns, csvio.ignore_bad_rows(cfg.on_bad_rows))
            if row_filter(row)
        ),
        rows,
    ))
    spec = feature_spec(cfg.columns)
    tensors = {name: tf.constant([row[name] for row in raw], dtype=f.dtype) for name, f in spec.items()}
    transformed = tft.TFTransformOutput(str(staging)).transform_raw_features(tensors)
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
