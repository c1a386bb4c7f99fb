"""Reading the raw CSVs into typed Arrow record batches: fast, with csvio's errors.

pyarrow parses and converts a CSV in C++ threads, a block of rows at a time.
A block passes only if csvio would read it to the same values: pyarrow's
parse and conversion succeed, every float is finite and fits a float32, every timestamp has the
exact ``YYYY-MM-DD HH:MM:SS[ UTC]`` form of a real date, only optional
columns have missing values (filled with their defaults). At the first block
that does not pass, the rest of the file goes through :func:`csvio.read_rows`,
row by row: it raises (or, with ``on_bad``, quarantines) with file, line and
column, or reads what is valid CSV that pyarrow reads differently (a quoted
newline across blocks, a padded timestamp). The header is checked elsewhere
(:func:`csvio.read_header`); whether a file has one, csvio decides.

Columns come out as Arrow ``string`` (string, timestamp), ``float64`` (float,
as Python's ``float`` reads it) and ``int64`` (int).
"""

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tft_build.io import csvio, location, timestamps

ARROW_TYPES = {"string": pa.string(), "timestamp": pa.string(), "float": pa.float64(), "int": pa.int64()}
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
    header = csvio.has_header(path, columns, header)
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
            missing = pc.is_in(pc.utf8_trim_whitespace(values), pa.array(csvio.NA_VALUES))
            values = pc.if_else(missing, pa.scalar(column.default, pa.string()), values)
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
        if column.type == "timestamp" and not all_timestamps(values):
            raise NotCsvioEqual(column.name)


def all_timestamps(values: pa.Array) -> bool:
    """True when every value is an exact, real ``YYYY-MM-DD HH:MM:SS[ UTC]`` (:data:`timestamps.PATTERN`).

    Stricter than csvio (no spaces around it, every field zero-padded), never
    looser: what fails here goes to csvio, which decides.
    """
    if not pc.all(pc.match_substring_regex(values, f"^{timestamps.PATTERN}$")).as_py():
        return False
    year, month, day, hour, minute, second = (
        pc.cast(pc.utf8_slice_codeunits(values, start, stop), pa.int64()).to_numpy()
        for start, stop in timestamps.FIELDS
    )
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    days = DAYS_IN_MONTH[np.where(month_ok, month, 0)] + (leap & (month == 2))
    return bool(
        ((year >= 1) & month_ok & (day >= 1) & (day <= days) & (hour < 24) & (minute < 60) & (second < 60)).all()
    )


def python_batches(
    path: str | Path, columns: Sequence["csvio.CsvColumn"], on_bad: csvio.OnBad | None, skip: int, header: bool = True
) -> Iterator[pa.RecordBatch]:
    """Record batches of the rows csvio reads from ``path``, after the first ``skip`` good rows."""
    rows = itertools.islice(csvio.read_rows(path, columns, on_bad, header), skip, None)
    schema = pa.schema([(c.name, ARROW_TYPES[c.type]) for c in columns])
    while chunk := [row for _, row in itertools.islice(rows, PYTHON_BATCH_ROWS)]:
        yield pa.RecordBatch.from_pylist(chunk, schema=schema)
