"""The Beam transform's input: each CSV's clean rows as record batches in TFT's form, counted.

One read of one CSV (:func:`read_clean_batches`, a Beam ``FlatMap``) parses
it into Arrow record batches (:mod:`tft_build.io.arrowcsv`), drops the rows
the configured row filter rejects (:func:`clean_rows`), cuts the rest into
batches of BATCH_ROWS rows (:func:`rechunked`) and types them as TFT reads
them (:func:`tft_batch`). Malformed rows, when skipped, leave as quarantine
lines on the ``bad`` output. Beam counters count the rows of each split
(:func:`split_counters`); after the run :func:`row_counts` reads them back
and :func:`check_counts` refuses a split left empty.

Only the Beam counters and outputs come from Beam here; the rest is pure
Arrow and numpy, tested without running a pipeline.
"""

import collections.abc
import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
from tensorflow_transform.tf_metadata import dataset_metadata
from tfx_bsl.public import tfxio
from tfx_bsl.tfxio import tensor_representation_util

from tft_build.datacheck import stats
from tft_build.engine import dotted, progress
from tft_build.engine.trace import traced
from tft_build.errors import ConfigError, DataError
from tft_build.generic.rowfilter import has_value
from tft_build.io import arrowcsv, csvio

if TYPE_CHECKING:
    from tft_build.config.schema import Column
    from tft_build.config.settings import Config

BAD = "bad"  # the Beam output of malformed rows (on_bad_rows = "skip")
STATS = "stats"  # the Beam output of each counted CSV's statistics (a JSON partial, tft_build.datacheck.stats)
QUARANTINE_HEADER = "file,line,error,row"
BATCH_ROWS = 65_536  # rows per record batch, hence per TF call in analysis and transform
TFT_TYPES = {
    "string": pa.binary(), "date": pa.binary(), "timestamp": pa.binary(), "float": pa.float32(), "int": pa.int64(),
}
METRICS_NAMESPACE = "tft_build"
# Per split: rows read, dropped by the row filter, malformed, and read without a label (an optional label's nan or "").
COUNTERS = ("read", "dropped", "bad", "unlabeled")


# The return hint is quoted, which Beam reads as Any: typed by it, the main output would hold TaggedOutput too,
# and TFT's analysis refuses a PCollection that is not all record batches.
def read_clean_batches(
    path: str, cfg: "Config", row_filter: Callable[[Mapping[str, Any]], Any], split: str, counted: bool,
    gather: bool = False,
) -> "Iterator[pa.RecordBatch | beam.pvalue.TaggedOutput]":
    """:func:`clean_batches` as a Beam ``FlatMap``: the batches as its main output, quarantine lines
    and statistics as its ``bad`` and ``stats`` outputs; when ``counted``, counted by Beam counters."""
    counters = split_counters(split) if counted else None
    for tag, value in clean_batches(path, cfg, row_filter, split, counters, gather):
        yield value if tag is None else beam.pvalue.TaggedOutput(tag, value)


def clean_batches(
    path: str, cfg: "Config", row_filter: Callable[[Mapping[str, Any]], Any], split: str,
    counters: Mapping[str, Any] | None, gather: bool = False,
) -> Iterator[tuple[str | None, Any]]:
    """``(None, batch)`` for each record batch of one CSV's rows that pass the filter, BATCH_ROWS rows each
    but the last; ``(BAD, line)`` for each malformed row skipped; ``(STATS, json)`` last, with ``gather``.

    The batch boundaries depend on the data only: TF kernels may round the
    last bit differently for different batch shapes, and the output must be
    the same in every run. A counted read (``counters``: :data:`COUNTERS` by
    name, each with ``inc``) counts the split's rows and, with ``on_bad_rows
    = "skip"``, yields malformed rows as quarantine lines instead of failing
    the run; an uncounted one (the Beam transform's second read of the
    training files) skips them silently. With ``gather`` (a counted read
    only), the statistics of the rows kept are yielded at the end, one JSON
    line with the split's name.
    """
    counted = counters is not None
    analyzed = counted and split == "train"  # the read that feeds the analysis
    bad = []

    def quarantine(line, fields, message):
        counters["bad"].inc()
        bad.append(quarantine_line(path, line, fields, message))

    on_bad = (quarantine if counted else csvio.ignore_bad_rows("skip")) if cfg.on_bad_rows == "skip" else None
    gatherer = stats.Gatherer(path, cfg.columns) if gather and counted else None
    batches = (
        clean_rows(batch, cfg, row_filter, counters, path, gatherer)
        for batch in progress.rows_read(
            arrowcsv.read_batches(path, cfg.columns, on_bad, cfg.header, fill=False), split, analyzed
        )
    )
    for batch in rechunked(batches, BATCH_ROWS):
        yield from drain(bad)
        yield None, tft_batch(batch, cfg.columns)
    yield from drain(bad)
    if gatherer:
        yield STATS, json.dumps({"split": split, **gatherer.partial()})


def clean_rows(
    batch: pa.RecordBatch, cfg: "Config", row_filter: Callable[[Mapping[str, Any]], Any],
    counters: Mapping[str, Any] | None, path: str = "", gatherer: stats.Gatherer | None = None,
) -> pa.RecordBatch:
    """The rows of ``batch`` that pass the row filter, missing values filled with their defaults; counts
    them when ``counters`` is given, and gathers their statistics (missing values still missing) into ``gatherer``.

    The filter may return one bool for the whole batch (``keep_all``) or one per row.
    Rows without a label (an optional label's default) are counted; the filter must drop them.
    """
    unfilled, batch = batch, arrowcsv.with_defaults(batch, cfg.columns)
    columns = Columns(batch)
    with dotted.blamed_on(cfg, "row_filter"):
        keep = keep_mask(cfg, row_filter(columns), batch.num_rows)
    unlabeled = unlabeled_rows(cfg, columns)
    if (keep & unlabeled).any():
        raise DataError(
            f"{path}: {int((keep & unlabeled).sum())} row(s) without a label ({cfg.label} is missing) pass "
            f"{cfg.where('row_filter')}; drop them: keep only rows where generic.has_value(row[{cfg.label!r}])"
        )
    clean = batch.filter(pa.array(keep))
    if gatherer:
        gatherer.add(unfilled.filter(pa.array(keep)))
    if counters:
        counters["read"].inc(batch.num_rows)
        counters["dropped"].inc(batch.num_rows - clean.num_rows)
        counters["unlabeled"].inc(int(unlabeled.sum()))
    return clean


def keep_mask(cfg: "Config", kept: Any, rows: int) -> np.ndarray:
    """The row filter's answer ``kept`` as one bool per row; anything but booleans is an error.

    numpy would read numbers as true where non-zero, so a filter that returns
    ``row["fare"] * 2`` instead of ``row["fare"] > 2`` would keep rows silently.
    """
    mask = np.asarray(kept)
    where = f"{cfg.where('row_filter')}: {dotted.path_of(cfg, 'row_filter')}"
    if mask.dtype != bool:
        raise ConfigError(
            f"{where} returned {mask.dtype} values, not booleans; return a mask, "
            "e.g. (row['fare'] > 0) & (row['count'] >= 1)"
        )
    if mask.ndim > 1 or mask.size not in (1, rows):
        raise ConfigError(f"{where} returned {mask.size} values for {rows} rows; return one bool per row, or one")
    return np.broadcast_to(mask.reshape(-1), (rows,))


def unlabeled_rows(cfg: "Config", columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Which rows have no label: the label's value is the default that marks none (``schema.NO_LABEL``)."""
    label = cfg.column(cfg.label)
    if not label.marks_no_label:
        return np.zeros(len(columns[label.name]), bool)
    return ~has_value(columns[label.name])


class Columns(collections.abc.Mapping[str, np.ndarray]):
    """A record batch as the row filter sees it: column name -> numpy array, made when asked."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self._batch = batch
        self._arrays = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            self._arrays[name] = self._batch.column(name).to_numpy(zero_copy_only=False)
        return self._arrays[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._batch.schema.names)

    def __len__(self) -> int:
        return self._batch.num_columns


def rechunked(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
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


def tft_batch(batch: pa.RecordBatch, columns: Sequence["Column"]) -> pa.RecordBatch:
    """A typed record batch in the form TFT reads: one single-value list per row and column."""
    offsets = pa.array(np.arange(batch.num_rows + 1, dtype=np.int32))
    arrays = [
        pa.ListArray.from_arrays(offsets, values.cast(TFT_TYPES[column.type]))
        for column, values in zip(columns, batch.columns)
    ]
    return pa.RecordBatch.from_arrays(arrays, names=[c.name for c in columns])


def tensor_adapter_config(cfg: "Config", raw_metadata: dataset_metadata.DatasetMetadata) -> tfxio.TensorAdapterConfig:
    """How TFT turns the raw record batches (:func:`tft_batch`) into one tensor per column."""
    arrow_schema = pa.schema([(c.name, pa.list_(TFT_TYPES[c.type])) for c in cfg.columns])
    representations = tensor_representation_util.InferTensorRepresentationsFromSchema(raw_metadata.schema)
    return tfxio.TensorAdapterConfig(arrow_schema, representations)


def drain(bad: list[str]) -> Iterator[tuple[str, str]]:
    """The quarantine lines collected so far, tagged :data:`BAD`; empties the list."""
    while bad:
        yield BAD, bad.pop(0)


def quarantine_line(path: str, line: int, fields: Sequence[str], message: str) -> str:
    """One CSV line of the quarantine file (QUARANTINE_HEADER): where the row was, why, and the row."""
    text = io.StringIO()
    csv.writer(text, lineterminator="").writerow([path, line, message, ",".join(fields)])
    return text.getvalue()


def split_counters(split: str) -> dict[str, beam.metrics.metricbase.Counter]:
    """The Beam counters of one split: rows read, dropped (by the row filter) and malformed."""
    return {name: beam.metrics.Metrics.counter(METRICS_NAMESPACE, counter_name(split, name)) for name in COUNTERS}


def counter_name(split: str, counter: str) -> str:
    """The Beam counter of ``counter`` (one of COUNTERS) for ``split``, e.g. ``train_read``."""
    return f"{split}_{counter}"


@traced
def row_counts(result: beam.runners.runner.PipelineResult, splits: Iterable[str]) -> dict[str, dict[str, int]]:
    """Rows read, malformed, dropped and kept per split, from the counters of a finished run."""
    query = result.metrics().query(beam.metrics.MetricsFilter().with_namespace(METRICS_NAMESPACE))
    values = {m.key.metric.name: m.committed for m in query["counters"]}
    return {split: split_counts(values, split) for split in splits}


def split_counts(values: Mapping[str, int], split: str) -> dict[str, int]:
    """``{read, bad, dropped, kept, unlabeled}`` of ``split`` from counter values by name (never incremented: 0)."""
    return counted({name: values.get(counter_name(split, name), 0) for name in COUNTERS})


class Tally:
    """A counter of a read outside Beam (:mod:`tft_build.steps.inprocess`), incremented as Beam's are."""

    def __init__(self) -> None:
        self.value = 0

    def inc(self, n: int = 1) -> None:
        self.value += n


def tallied_counts(tallies: Mapping[str, Tally]) -> dict[str, int]:
    """``{read, bad, dropped, kept, unlabeled}`` from one split's tallies (:data:`COUNTERS` by name)."""
    return counted({name: tally.value for name, tally in tallies.items()})


def counted(values: Mapping[str, int]) -> dict[str, int]:
    """``{read, bad, dropped, kept, unlabeled}`` from the values of :data:`COUNTERS` by name."""
    read, dropped, bad, unlabeled = (values[name] for name in COUNTERS)
    return {"read": read, "bad": bad, "dropped": dropped, "kept": read - dropped, "unlabeled": unlabeled}


@traced
def check_counts(counts: Mapping[str, Mapping[str, int]], files: Mapping[str, Sequence[str]]) -> None:
    """An empty split is an error, never a silently degenerate transform_fn.

    ``files`` maps each split to its CSVs, named in the error.
    """
    for split, paths in files.items():
        if counts[split]["read"] == 0 and counts[split]["bad"]:
            raise DataError(
                f"{', '.join(paths)}: all {counts[split]['bad']} rows are malformed "
                f"(on_bad_rows = \"skip\" quarantined them); fix the data"
            )
        if counts[split]["read"] == 0:
            raise DataError(f"{', '.join(paths)}: no data rows")
        if counts[split]["kept"] == 0:
            raise DataError(
                f"{', '.join(paths)}: all {counts[split]['read']} rows were dropped "
                "by the row filter; check the data or setting 'row_filter'"
            )
