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

This module is the pipeline; the reading of clean batches and the counts of
rows are :mod:`tft_build.steps.batching`, the digests of records and graph
:mod:`tft_build.steps.digests`.

``preprocess_raw_data`` runs the same flow with the identity transform.
"""

import contextlib
import io
import itertools
import os
import shutil
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import apache_beam as beam
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners import create_runner
from tensorflow_transform.tf_metadata import dataset_metadata

from tft_build import layout
from tft_build.config.schema import feature_spec
from tft_build.config.settings import data_files
from tft_build.engine import dotted, progress
from tft_build.engine.trace import traced
from tft_build.errors import ConfigError, DataError, TftBuildError, causes, first_line
from tft_build.io import csvio, location, manifest
from tft_build.io.atomic import atomic_dir
from tft_build.steps import batching, beamreuse, datastats, digests, inprocess, transformfn
from tft_build.steps.transformjob import TransformJob

if TYPE_CHECKING:
    from tft_build.config.settings import Config

SPLITS = ("train", "eval")
SAMPLE_ROWS = 5
FEW_ROWS = 100  # fewer clean training rows than this: a warning, not an error


@traced
def preprocess_raw_data(cfg: "Config") -> dict[str, Any]:
    """Raw CSVs -> raw TFRecords and metadata (identity transform)."""
    return run_transform(cfg, layout.RAW, identity_fn, check_data=False)


@traced
def transform_raw_data(cfg: "Config") -> dict[str, Any]:
    """Raw CSVs -> transformed TFRecords and transform_fn (``cfg.preprocessing_fn``)."""
    user_fn = dotted.resolve(cfg, "preprocessing_fn")
    if not cfg.statistics:  # statistics of an earlier build would pass for this one's
        shutil.rmtree(cfg.artifact(layout.STATS), ignore_errors=True)
    with failures_on_data_blamed(cfg):
        return run_transform(cfg, layout.TRANSFORMED, checked_preprocessing_fn(cfg, user_fn), cfg.statistics)


@contextlib.contextmanager
def failures_on_data_blamed(cfg: "Config") -> Iterator[None]:
    """Within the block, an op of the preprocessing_fn's graph that fails on the data (an assertion, a
    string that is no number), wrapped by TFT and Beam in pages of context, is one line: TF's own."""
    try:
        yield
    except TftBuildError:
        raise
    except Exception as err:
        failed = next((e for e in causes(err) if isinstance(e, tf.errors.InvalidArgumentError)), None)
        if failed is None:
            raise
        lines = [line.strip() for line in failed.message.splitlines() if line.strip()]
        what = next((line for line in reversed(lines) if not line.startswith("[[")), failed.message)
        where = cfg.where("preprocessing_fn")
        raise ConfigError(f"{where}: {cfg.preprocessing_fn} failed on the data: {what}") from err


def checked_preprocessing_fn(
    cfg: "Config", user_fn: Callable[[Mapping[str, tf.Tensor], "Config"], Any]
) -> Callable[[Mapping[str, tf.Tensor]], dict[str, tf.Tensor]]:
    """The user's ``preprocessing_fn(inputs, cfg)`` as TFT calls it: errors in one line, the label a target.

    It must return the label; the label is then made what the models learn
    (:func:`label_target`).
    """

    def preprocessing_fn(inputs):
        with graph_mode_hinted(cfg), dotted.blamed_on(cfg, "preprocessing_fn"):
            outputs = user_fn(inputs, cfg)
        if not isinstance(outputs, dict) or cfg.label not in outputs:
            got = ", ".join(sorted(outputs)) if isinstance(outputs, dict) else type(outputs).__name__
            raise ConfigError(
                f"{cfg.where('preprocessing_fn')}: {cfg.preprocessing_fn} returned no label '{cfg.label}' "
                f"(it returned {got}); add it, e.g. outputs[{cfg.label!r}] = inputs[{cfg.label!r}]"
            )
        if len(outputs) == 1:
            raise ConfigError(
                f"{cfg.where('preprocessing_fn')}: {cfg.preprocessing_fn} returned the label '{cfg.label}' and no "
                "feature; return at least one feature for the models to learn from"
            )
        return {**outputs, cfg.label: label_target(cfg, outputs[cfg.label])}

    return preprocessing_fn


@contextlib.contextmanager
def graph_mode_hinted(cfg: "Config") -> Iterator[None]:
    """Within the block, the one-line error of a preprocessing_fn traced in TF1 graph mode says so, and
    how to trace it in TF2 mode: code that works only there fails here first."""
    try:
        yield
    except ConfigError as err:
        if not cfg.tf_compat_v1 or err.__cause__ is None:
            raise
        raise ConfigError(
            f"{err} (traced in TF1 graph mode; if it needs TF2, set tf_compat_v1 = false)"
        ) from err.__cause__


def label_target(cfg: "Config", label: Any) -> tf.Tensor:
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


def identity_fn(inputs: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Every raw column, unchanged: the raw data as TFT output."""
    return {name: tf.identity(value) for name, value in inputs.items()}


@traced
def run_transform(
    cfg: "Config", directory: str, preprocessing_fn: Callable[[Mapping[str, tf.Tensor]], dict[str, tf.Tensor]],
    check_data: bool,
) -> dict[str, Any]:
    """Run the Beam pipeline into ``artifacts/<directory>`` atomically; return the row counts.

    With ``check_data``, the same read of the CSVs gathers their statistics, checked against the
    schema into ``artifacts/stats`` (:mod:`tft_build.steps.datastats`).
    """
    out_dir = cfg.artifact(directory)
    files = {split: checked_files(cfg, split) for split in SPLITS}
    raw_metadata = dataset_metadata.DatasetMetadata.from_feature_spec(feature_spec(cfg.columns))
    row_filter = dotted.resolve(cfg, "row_filter")
    previous = location.data_dir(cfg, directory)
    with atomic_dir(out_dir) as staging:
        data = location.new_build_dir(cfg, directory, staging)
        with removed_on_failure(data, staging):
            progress.restart()
            job = TransformJob(cfg, files, raw_metadata, row_filter, preprocessing_fn, data, check_data)
            counts, partials, in_row_order = run_pipeline(job)
            checked = datastats.check_data(cfg, partials, SPLITS) if check_data else None
            tf.io.gfile.rmtree(location.join(data, layout.TFT_TEMP_DIR))
            digests.write_digests(staging, data, SPLITS)
            write_sample(staging, data, cfg, row_filter, in_row_order)
            if data != str(staging):
                location.write_pointer(staging, data)
            if checked:
                datastats.write_stats(cfg, checked)
            manifest.write_manifest(staging, {"rows": counts})
    if previous not in (out_dir, data):  # the shared build this one replaced
        location.remove_build(previous)
    print(f"{out_dir}: " + ", ".join(f"{s} {counts[s]['kept']} rows ({dropped(counts[s])})" for s in SPLITS))
    bad = sum(counts[s]["bad"] for s in SPLITS)
    if bad:
        built = out_dir if data == str(staging) else data  # the staging dir is renamed by now
        print(f"{bad} malformed rows skipped; they are listed in {location.join(built, layout.QUARANTINE_FILE)}")
    for warning in data_warnings(files, counts) if directory == layout.TRANSFORMED else []:  # once a build
        print(f"warning: {warning}")
    return {"rows": counts}


def run_pipeline(job: TransformJob) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]], bool]:
    """The pipeline's outputs under ``job.data`` (:func:`build_pipeline`), the row counts of each split,
    the statistics' partials (with ``job.gather``) and whether each split's records are in the order of its
    rows: in this process where Beam would run the pipeline locally (:mod:`tft_build.steps.inprocess`, in
    order), else through Beam (in Beam's order)."""
    options = beam_options(job.cfg)
    if inprocess.applies(job.cfg, options, job.files):
        done = inprocess.run_pipeline(job)
        if done is not None:
            return *done, True
    beamreuse.install()
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, job)
    result = pipeline.run()
    result.wait_until_finish()
    counts = batching.row_counts(result, SPLITS)
    batching.check_counts(counts, job.files)
    partials = location.join(job.data, layout.TFT_TEMP_DIR, layout.STATS_PARTIALS)
    return counts, datastats.read_partials(partials) if job.gather else [], False


def data_warnings(files: Mapping[str, Sequence[str]], counts: Mapping[str, Mapping[str, int]]) -> list[str]:
    """What is odd about the data but no error: eval rows that are training rows, very few training rows."""
    warnings = []
    same = [path for path in files["eval"] if any(same_file(path, other) for other in files["train"])]
    if same:
        warnings.append(
            f"{', '.join(same)} is in both train_data and eval_data: the eval figures are on rows the models "
            "trained on; give eval_data rows of their own"
        )
    if counts["train"]["kept"] < FEW_ROWS:
        warnings.append(
            f"only {counts['train']['kept']} training rows pass the row filter ({', '.join(files['train'])}): "
            f"a model of fewer than {FEW_ROWS} rows learns next to nothing; give train_data more rows"
        )
    return warnings


def same_file(a: str, b: str) -> bool:
    """Whether two data paths name one file (a local file by inode, a remote one by its URL)."""
    if location.is_remote(a) or location.is_remote(b):
        return a == b
    return os.path.samefile(a, b)


def dropped(counts: Mapping[str, int]) -> str:
    """``N dropped``, and how many of them had no label, for the summary line."""
    unlabeled = f", {counts['unlabeled']} of them without a label" if counts["unlabeled"] else ""
    return f"{counts['dropped']} dropped{unlabeled}"


@contextlib.contextmanager
def removed_on_failure(data: str, staging: Path) -> Iterator[None]:
    """Delete a shared build dir if its build fails (the staging dir is atomic_dir's to remove)."""
    try:
        yield
    except BaseException:
        if data != str(staging):
            location.remove_build(data)
        raise


@traced
def checked_files(cfg: "Config", split: str) -> list[str]:
    """The split's files, each existing with the right header; clear errors otherwise."""
    files = data_files(cfg, split)
    setting = f"{split}_data"
    if not files:
        patterns = ", ".join(getattr(cfg, setting))
        raise DataError(f"{patterns}: no file matches setting '{setting}'")
    for path in files:
        if not (location.is_remote(path) or os.path.isfile(path)):  # remote ones were matched
            raise DataError(f"{path}: {not_a_file(path)}; check setting '{setting}'")
        csvio.read_header(path, cfg.columns, cfg.header)
    return files


def not_a_file(path: str) -> str:
    """What a local data path that is no regular file is instead, for its error."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such data file"
    if stat.S_ISDIR(mode):
        return "a directory, not a CSV file (to read the CSVs in it, give a glob such as dir/*.csv)"
    kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device or socket"
    return f"{kind}, not a regular file; tft_build reads each data file more than once: copy the data to a file"


@traced
def beam_options(cfg: "Config") -> PipelineOptions:
    """Pipeline options from the config, checked; the default local runner never downloads.

    Beam reads its options lazily, and a bad one exits the process with a page
    of argparse usage: they are parsed here, Beam's complaint made one line
    naming the setting, and so is an unknown runner.
    """
    options = PipelineOptions(list(cfg.beam_pipeline_args), save_main_session=False)
    where = f"{cfg.where('beam_pipeline_args')} (or doit --beam-args)"
    complaint = io.StringIO()
    try:
        with contextlib.redirect_stderr(complaint):
            options.get_all_options()
    except SystemExit:
        said = (complaint.getvalue().strip().splitlines() or ["not valid"])[-1].split("error: ")[-1]
        raise ConfigError(f"{where}: {said}; fix the option") from None
    runner = options.view_as(StandardOptions).runner
    try:
        create_runner(runner or "DirectRunner")
    except ValueError as err:
        raise ConfigError(f"{where}: {first_line(err)}") from None
    return options


@traced
def build_pipeline(pipeline: beam.Pipeline, job: TransformJob) -> None:
    """Add the read, filter, analyze, transform and write steps to ``pipeline``, writing under ``job.data``;
    with ``job.gather``, the counted reads' statistics go to ``STATS_PARTIALS`` in its temp dir."""
    cfg, files, data = job.cfg, job.files, job.data
    raw_config = batching.tensor_adapter_config(cfg, job.raw_metadata)
    with tft_beam.Context(temp_dir=location.join(data, layout.TFT_TEMP_DIR), force_tf_compat_v1=cfg.tf_compat_v1):
        read = {
            (split, counted): pipeline
            | f"List{split}{counted}" >> beam.Create(files[split])
            | f"Read{split}{counted}" >> beam.FlatMap(
                batching.read_clean_batches, cfg, job.row_filter, split, counted, job.gather
            ).with_outputs(batching.BAD, batching.STATS, main="batches")
            for split, counted in (("train", True), ("train", False), ("eval", True))
        }
        if job.gather:
            _ = (
                [read[split, True][batching.STATS] for split in SPLITS]
                | "AllStats" >> beam.Flatten()
                | "WriteStats" >> beam.io.WriteToText(
                    location.join(data, layout.TFT_TEMP_DIR, layout.STATS_PARTIALS), shard_name_template=""
                )
            )
        if cfg.on_bad_rows == "skip":
            _ = (
                [read[split, True][batching.BAD] for split in SPLITS]
                | "AllBadRows" >> beam.Flatten()
                | "WriteQuarantine" >> beam.io.WriteToText(
                    location.join(data, layout.QUARANTINE_FILE), shard_name_template="",
                    header=batching.QUARANTINE_HEADER,
                )
            )
        transform_fn = (read["train", True].batches, raw_config) | "Analyze" >> tft_beam.AnalyzeDataset(
            job.preprocessing_fn
        )
        for split, batches in (("train", read["train", False].batches), ("eval", read["eval", True].batches)):
            transformed, _ = ((batches, raw_config), transform_fn) | f"Transform{split}" >> tft_beam.TransformDataset(
                output_record_batches=True
            )
            encoded = transformed | f"Encode{split}" >> beam.Map(digests.encode)
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
                    digests.records_digest_file(data, split), shard_name_template=""
                )
            )
        _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(data)
        _ = job.raw_metadata | "WriteRawMetadata" >> tft_beam.WriteMetadata(
            location.join(data, tft.TFTransformOutput.RAW_METADATA_DIR), pipeline
        )


class FramedRecordsSink(beam.io.filebasedsink.FileBasedSink):
    """``<prefix>-SSSSS-of-NNNNN.tfrecord`` files (:func:`layout.records_pattern`) of whole TFRecord chunks.

    Beam's WriteToTFRecord frames one record per element; here an element is
    a chunk of records already framed (:func:`tft_build.io.tfrecords.tfrecord_chunk`), so
    Beam handles a few large elements instead of a million small ones.
    """

    def __init__(self, prefix: str) -> None:
        super().__init__(
            prefix, coder=beam.coders.BytesCoder(), file_name_suffix=layout.RECORDS_SUFFIX,
            mime_type="application/octet-stream",
        )

    def write_encoded_record(self, file_handle: BinaryIO, encoded_value: bytes) -> None:
        """Append one chunk of framed records as it is."""
        file_handle.write(encoded_value)


@traced
def write_sample(
    staging: Path, data: str, cfg: "Config", row_filter: Callable[[Mapping[str, Any]], Any], in_row_order: bool,
    rows: int = SAMPLE_ROWS,
) -> None:
    """``sample.json``: the first clean eval rows, raw and as the saved transform_fn transforms them.

    The report shows it. With the eval records in the order of the rows (``in_row_order``), the
    transformed values are the first records', which the saved transform_fn wrote; else (Beam's order)
    the transform_fn is applied to the rows again (:func:`transformfn.transformed_values`, 0.2-0.3 s).
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
    if in_row_order:
        values = transformfn.recorded_values(data, "eval", len(raw))
    else:
        columns = {name: [row[name] for row in raw] for name in feature_spec(cfg.columns)}
        values = transformfn.transformed_values(data, columns)
    values = dict(sorted(values.items()))
    sample = [
        {"raw": row, "transformed": {name: plain(column[i]) for name, column in values.items()}}
        for i, row in enumerate(raw)
    ]
    (staging / layout.SAMPLE_FILE).write_text(manifest.to_json({"rows": sample}), encoding="utf-8")


def plain(value: Any) -> Any:
    """A tensor element as JSON: text for bytes, numbers rounded for reading, a list's elements so."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value
