"""Statistics of a split's columns: gathered in the transform's read of its CSVs, merged after the run.

A :class:`Gatherer` sees each clean record batch of one CSV as it is read
(missing values still null) and keeps, per column, the count of values and
of missing ones; for numbers the min, max, sum and sum of squares; for dates
and times the first and last; for text and integer codes each value's count,
up to MAX_DISTINCT distinct values. For the numbers it also keeps a sample of
SAMPLE_ROWS rows, those whose place in the file hashes lowest (a bottom-k
sample: the same rows whatever the batch boundaries, and mergeable), for the
quantiles and histograms. Its :meth:`Gatherer.partial` is plain JSON, which
the Beam pipeline writes out; :func:`merge` joins a split's partials in the
order of their files' paths, so every figure is the same in every run, and
:func:`describe` gives the JSON of ``artifacts/stats/<split>.json``.
"""

import datetime
import os
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tft_build.io import arrowcsv, csvio, timestamps

SAMPLE_ROWS = 10_000  # rows per split kept for the quantiles and histograms
MAX_DISTINCT = 10_000  # values counted per column; past it, a column is "many-valued" (a key, free text)
TOP_VALUES = 10
HISTOGRAM_BINS = 20
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
EDGE_QUANTILES = (0.005, 0.995)  # the histogram spans these of the training sample; the tails go in its end bins
NUMERIC = ("float", "int")
COUNTED = ("string", "int")  # text and integer codes: their values are counted
# Forms of the built-in ones that Arrow's strptime reads fast, tried in order for a date or timestamp column's range.
FAST_TIME_FORMS = {
    "timestamp": ("%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"),
    "date": ("%Y-%m-%d",),
}


class Gatherer:
    """The statistics of one CSV's clean rows, batch by batch (:meth:`add`), as a JSON partial."""

    def __init__(self, path: str, columns: Sequence["csvio.CsvColumn"]) -> None:
        self.path = path
        self.columns = tuple(columns)
        self.rows = 0
        self.figures = {c.name: new_figures(c) for c in self.columns}
        self.numeric = [c.name for c in self.columns if c.type in NUMERIC]
        # the file's name, not its dir: a copied project samples the same rows
        self.seed = np.uint64(zlib.crc32(os.path.basename(path).encode()))
        self.hashes = np.zeros(0, np.uint64)
        self.sample = None

    def add(self, batch: pa.RecordBatch) -> None:
        """Count ``batch`` (clean rows, missing values null) into the figures and the sample."""
        for column, values in zip(self.columns, batch.columns):
            add_values(self.figures[column.name], column, values)
        self._sample(batch)
        self.rows += batch.num_rows

    def _sample(self, batch):
        """Keep the SAMPLE_ROWS rows seen so far whose place hashes lowest."""
        places = np.arange(self.rows, self.rows + batch.num_rows, dtype=np.uint64)
        hashes = mix(places ^ (self.seed << np.uint64(32)))
        table = pa.Table.from_batches([batch.select(self.numeric)])
        if self.sample is not None:
            hashes, table = np.concatenate([self.hashes, hashes]), pa.concat_tables([self.sample, table])
        keep = np.sort(np.argsort(hashes, kind="stable")[:SAMPLE_ROWS])
        self.hashes, self.sample = hashes[keep], table.take(pa.array(keep))

    def partial(self) -> dict[str, Any]:
        """The figures and sample as JSON (:func:`merge` joins them)."""
        sample = self.sample.to_pydict() if self.sample is not None else {name: [] for name in self.numeric}
        return {
            "path": self.path, "rows": self.rows, "columns": self.figures,
            "sample": {"hash": self.hashes.tolist(), "values": sample},
        }


def new_figures(column: "csvio.CsvColumn") -> dict[str, Any]:
    """The empty figures of one column."""
    figures = {"type": column.type, "count": 0, "missing": 0}
    if column.type in NUMERIC or column.type in timestamps.DATE_TYPES:
        figures.update(min=None, max=None)
    if column.type in NUMERIC:
        figures.update(sum=0.0, sumsq=0.0)
    if column.type in COUNTED:
        figures["counts"] = {}
    return figures


def add_values(figures: dict[str, Any], column: "csvio.CsvColumn", values: pa.Array) -> None:
    """Count one batch's values of ``column`` (missing ones null) into its ``figures``."""
    figures["missing"] += values.null_count
    figures["count"] += len(values) - values.null_count
    if column.type in NUMERIC:
        floats = values.cast(pa.float64())
        extremes = pc.min_max(floats)
        widen(figures, extremes["min"].as_py(), extremes["max"].as_py())
        figures["sum"] += pc.sum(floats).as_py() or 0.0
        figures["sumsq"] += pc.sum(pc.multiply(floats, floats)).as_py() or 0.0
    elif column.type in timestamps.DATE_TYPES:
        widen(figures, *time_range(values, column))
    if column.type in COUNTED and figures["counts"] is not None:
        counted = pc.value_counts(values.drop_null())
        if len(counted) > MAX_DISTINCT:
            figures["counts"] = None
            return
        counts = figures["counts"]
        for value, count in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()):
            counts[str(value)] = counts.get(str(value), 0) + count
        if len(counts) > MAX_DISTINCT:
            figures["counts"] = None


def time_range(values: pa.Array, column: "csvio.CsvColumn") -> tuple[float | None, float | None]:
    """The first and last time of checked date or timestamp ``values``, in seconds since 1970 (None, None: none).

    Arrow's strptime reads the common forms ten times faster than the
    general reading of every form (:func:`arrowcsv.time_seconds`), which
    is used when one of them does not read every value.
    """
    for form in () if column.format else FAST_TIME_FORMS[column.type]:
        parsed = pc.strptime(values, format=form, unit="s", error_is_null=True)
        if parsed.null_count == values.null_count:
            extremes = pc.min_max(parsed)
            low, high = extremes["min"].value, extremes["max"].value
            return (None, None) if low is None else (float(low), float(high))
    seconds = arrowcsv.time_seconds(values, column.type, column.format)
    if np.isnan(seconds).all():
        return None, None
    return float(np.nanmin(seconds)), float(np.nanmax(seconds))


def widen(figures: dict[str, Any], low: float | None, high: float | None) -> None:
    """Make the figures' min and max cover ``low`` and ``high`` (None: no value)."""
    if low is not None:
        figures["min"] = low if figures["min"] is None else min(figures["min"], low)
        figures["max"] = high if figures["max"] is None else max(figures["max"], high)


def mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 of each uint64: a fast, well spread hash, the same on every machine."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def merge(partials: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One split's statistics from its files' partials, joined in the order of their paths."""
    ordered = sorted(partials, key=lambda p: p["path"])
    merged = {"rows": sum(p["rows"] for p in ordered), "columns": {}}
    for name in ordered[0]["columns"]:
        merged["columns"][name] = merge_figures([p["columns"][name] for p in ordered])
    hashes = [h for p in ordered for h in p["sample"]["hash"]]
    keep = sorted(range(len(hashes)), key=lambda i: hashes[i])[:SAMPLE_ROWS]
    merged["sample"] = {
        name: [values[i] for i in keep]
        for name, values in ((n, [v for p in ordered for v in p["sample"]["values"][n]])
                             for n in ordered[0]["sample"]["values"])
    }
    return merged


def merge_figures(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One column's figures from its figures in each file, in order."""
    merged = dict(parts[0])
    if merged.get("counts") is not None:
        merged["counts"] = dict(merged["counts"])  # added to below, and the partial stays as it was
    for part in parts[1:]:
        merged["count"] += part["count"]
        merged["missing"] += part["missing"]
        if "min" in part:
            widen(merged, part["min"], part["max"])
        if "sum" in part:
            merged["sum"] += part["sum"]
            merged["sumsq"] += part["sumsq"]
        if "counts" in part:
            merged["counts"] = add_counts(merged["counts"], part["counts"])
    return merged


def add_counts(counts: dict[str, int] | None, more: Mapping[str, int] | None) -> dict[str, int] | None:
    """``counts`` plus ``more``; None (too many to count) when either is or the sum has over MAX_DISTINCT values."""
    if counts is None or more is None:
        return None
    for value, count in more.items():
        counts[value] = counts.get(value, 0) + count
    return counts if len(counts) <= MAX_DISTINCT else None


def histogram_edges(train: Mapping[str, Any]) -> dict[str, list[float]]:
    """Per numeric column, the bin edges of its histograms in both splits: equal widths over the
    training sample's EDGE_QUANTILES (the tails go in the end bins), so that the splits compare."""
    edges = {}
    for name, values in train["sample"].items():
        present = np.array([v for v in values if v is not None], np.float64)
        if not len(present):
            continue
        low, high = (float(q) for q in np.quantile(present, EDGE_QUANTILES))
        if low == high:
            low, high = float(present.min()), float(present.max())
        edges[name] = np.linspace(low, high, HISTOGRAM_BINS + 1).tolist() if low < high else [low, low]
    return edges


def histogram(values: Sequence[float | None], edges: Sequence[float]) -> list[float]:
    """The share of the present ``values`` in each bin of ``edges`` (the ends take what lies beyond)."""
    present = np.array([v for v in values if v is not None], np.float64)
    if not len(present):
        return [0.0] * (len(edges) - 1)
    inner = np.asarray(edges[1:-1], np.float64)
    counts = np.bincount(np.searchsorted(inner, present, side="right"), minlength=len(edges) - 1)
    return (counts / len(present)).tolist()


def describe(split: Mapping[str, Any], edges: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    """The statistics of a merged split as ``artifacts/stats/<split>.json`` holds them."""
    columns = {}
    for name, figures in split["columns"].items():
        rows = figures["count"] + figures["missing"]
        out = {"type": figures["type"], "count": figures["count"], "missing": figures["missing"],
               "missing_fraction": figures["missing"] / rows if rows else 0.0}
        if "sum" in figures:
            out.update(numbers(figures, split["sample"][name], edges.get(name)))
        elif "min" in figures:
            out.update(first=iso_time(figures["min"]), last=iso_time(figures["max"]))
        if "counts" in figures:
            out.update(values(figures["counts"]))
        columns[name] = out
    return {"rows": split["rows"], "sample_rows": len(next(iter(split["sample"].values()), [])), "columns": columns}


def numbers(
    figures: Mapping[str, Any], sample: Sequence[float | None], edges: Sequence[float] | None
) -> dict[str, Any]:
    """A numeric column's min, max, mean and std (exact), quantiles and histogram (of the sample)."""
    n = figures["count"]
    if not n:
        return {"min": None, "max": None}
    mean = figures["sum"] / n
    present = np.array([v for v in sample if v is not None], np.float64)
    quantiles = np.quantile(present, QUANTILES) if len(present) else []
    whole = int if figures["type"] == "int" else float
    out = {
        "min": whole(figures["min"]), "max": whole(figures["max"]), "mean": mean,
        "std": float(np.sqrt(max(figures["sumsq"] / n - mean * mean, 0.0))),
        "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, quantiles)},
    }
    if edges:
        out["histogram"] = {"edges": list(edges), "fractions": histogram(sample, edges)}
    return out


def values(counts: Mapping[str, int] | None) -> dict[str, Any]:
    """A counted column's distinct count and top values (most frequent first, ties by value)."""
    if counts is None:
        return {"distinct": f"over {MAX_DISTINCT}", "top": []}
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_VALUES]
    return {"distinct": len(counts), "top": [list(item) for item in top]}


def iso_time(seconds: float | None) -> str | None:
    """Seconds since 1970 as an ISO 8601 UTC time."""
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat().replace("+00:00", "Z")
