"""Reading the raw CSVs into typed Arrow record batches: fast, with csvio's errors.

pyarrow parses and converts a CSV in C++ threads, a block of rows at a time.
A block passes only if csvio would read it to the same values: pyarrow's
parse and conversion succeed, every float is finite and fits a float32, every date and
timestamp has one of its column's forms and names a real time, only optional
columns have missing values (filled with their defaults). At the first block
that does not pass, the rest of the file goes through :func:`csvio.read_rows`,
row by row: it raises (or, with ``on_bad``, quarantines) with file, line and
column, or reads what is valid CSV that pyarrow reads differently (a quoted
newline across blocks, a timestamp padded with spaces). The header is checked, and
whether a file has one decided, by csvio (:func:`csvio.read_header`).

Columns come out as Arrow ``string`` (string, date, timestamp), ``float64`` (float,
as Python's ``float`` reads it) and ``int64`` (int).
"""

import itertools
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tft_build.io import csvio, location, timestamps

ARROW_TYPES = {
    "string": pa.string(), "date": pa.string(), "timestamp": pa.string(), "float": pa.float64(), "int": pa.int64(),
}
BLOCK_BYTES = 8 << 20  # about 80k taxi rows per parsed block
PYTHON_BATCH_ROWS = 65_536  # rows per batch on the row-by-row path
DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


class NotCsvioEqual(Exception):
    """A block that csvio would read differently (or reject): read it row by row."""


# csvio.CsvColumn quoted in hints, as another module's class: the code fingerprint follows unquoted names
def read_batches(
    path: str | Path, columns: Sequence["csvio.CsvColumn"], on_bad: csvio.OnBad | None = None,
    header: csvio.Header = csvio.AUTO,
) -> Iterator[pa.RecordBatch]:
    """Yield typed record batches of the data rows of ``path``, in file order."""
    header = csvio.read_header(path, columns, header)
    done = 0
    try:
        for batch in arrow_batches(path, columns, header):
            yield batch
            done += batch.num_rows
    except (pa.ArrowException, NotCsvioEqual):
        yield from python_batches(path, columns, on_bad, skip=done, header=header)


def arrow_batches(
    path: str | Path, columns: Sequence["csvio.CsvColumn"], header: bool = True
) -> Iterator[pa.RecordBatch]:
    """The checked record batches that pyarrow reads; raises at the first bad block."""
    reader = pacsv.open_csv(
        location.open_binary(path) if location.is_remote(path) else path,
        read_options=pacsv.ReadOptions(
            skip_rows=int(header), column_names=[c.name for c in columns], block_size=BLOCK_BYTES,
            use_threads=True,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c.name: ARROW_TYPES[c.type] for c in columns},
            null_values=list(csvio.NA_VALUES), strings_can_be_null=False, quoted_strings_can_be_null=False,
        ),
    )
    for batch in reader:
        check_like_csvio(batch, columns)
        yield with_defaults(batch, columns)


def with_defaults(batch: pa.RecordBatch, columns: Sequence["csvio.CsvColumn"]) -> pa.RecordBatch:
    """The batch with each optional column's missing values replaced by the column's default.

    Numbers that pyarrow read as missing are null; text columns are never
    null, so their missing values are found by their (stripped) text.
    """
    arrays = []
    for column, values in zip(columns, batch.columns):
        if column.optional and column.type in ("float", "int"):
            values = pc.fill_null(values, pa.scalar(column.default, ARROW_TYPES[column.type]))
        elif column.optional:
            values = pc.if_else(missing_text(values), pa.scalar(column.default, pa.string()), values)
        arrays.append(values)
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def check_like_csvio(batch: pa.RecordBatch, columns: Sequence["csvio.CsvColumn"]) -> None:
    """Raise :class:`NotCsvioEqual` unless csvio reads every value of ``batch`` the same.

    Checked before the defaults fill in: a default may be what the data may
    not hold (a label's ``nan``, which marks a row without a label).
    """
    for column, values in zip(columns, batch.columns):
        if values.null_count and not column.optional:  # a missing value in a required column: csvio says where
            raise NotCsvioEqual(column.name)
        if column.type == "float" and not pc.all(pc.is_finite(values), min_count=0).as_py():
            raise NotCsvioEqual(column.name)
        if column.type == "float" and (pc.max(pc.abs(values)).as_py() or 0) > csvio.FLOAT32_MAX:
            raise NotCsvioEqual(column.name)
        if column.type in timestamps.DATE_TYPES and column.optional:
            values = pc.filter(values, pc.invert(missing_text(values)))  # the missing ones become the default
        if column.type in timestamps.DATE_TYPES and not all_times(values, column.type, column.format):
            raise NotCsvioEqual(column.name)


def missing_text(values: pa.Array) -> pa.Array:
    """Where a text column's (stripped) value is one of csvio's missing values."""
    return pc.is_in(pc.utf8_trim_whitespace(values), pa.array(csvio.NA_VALUES))


def all_times(values: pa.Array, type_: str, fmt: str = "") -> bool:
    """True when every value matches in full one of the column's forms (:func:`timestamps.forms`)
    and names a real time, the first form it matches deciding, as in :func:`timestamps.parse`.

    Stricter than csvio (no spaces around it; years 2-9998, so that no UTC
    offset leaves the calendar), never looser: what fails here goes to
    csvio, which decides.
    """
    seen = np.zeros(len(values), bool)
    good = np.zeros(len(values), bool)
    for pattern in timestamps.forms(type_, fmt):
        parts = pc.extract_regex(values, f"^(?:{pattern.pattern})$")
        matched = parts.is_valid().to_numpy(zero_copy_only=False) & ~seen
        seen |= matched
        if matched.any():
            good |= matched & real_times(parts, pattern)
    return bool(good.all())


def real_times(parts: pa.StructArray, pattern: re.Pattern) -> np.ndarray:
    """Where the numbers that ``pattern``'s groups took from each value name a real date, time and offset."""
    n = {**timestamps.FIRST}
    for name in pattern.groupindex:
        if name != "sign":
            digits = parts.field(name)
            n[name] = pc.cast(pc.if_else(pc.equal(digits, ""), "0", digits), pa.int64()).to_numpy()
    year, month, day = n["year"], n["month"], n["day"]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    days = DAYS_IN_MONTH[np.where(month_ok, month, 0)] + (leap & (month == 2))
    real = (year >= 2) & (year <= 9998) & month_ok & (day >= 1) & (day <= days)
    for name, top in {"hour": 23, "minute": 59, "second": 59, "zhour": 23, "zminute": 59}.items():
        real &= n.get(name, 0) <= top
    return real


def python_batches(
    path: str | Path, columns: Sequence["csvio.CsvColumn"], on_bad: csvio.OnBad | None, skip: int, header: bool = True
) -> Iterator[pa.RecordBatch]:
    """Record batches of the rows csvio reads from ``path``, after the first ``skip`` good rows."""
    rows = itertools.islice(csvio.read_rows(path, columns, on_bad, header), skip, None)
    schema = pa.schema([(c.name, ARROW_TYPES[c.type]) for c in columns])
    while chunk := [row for _, row in itertools.islice(rows, PYTHON_BATCH_ROWS)]:
        yield pa.RecordBatch.from_pylist(chunk, schema=schema)
