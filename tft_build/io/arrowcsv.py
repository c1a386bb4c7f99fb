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
    header: csvio.Header = csvio.AUTO, fill: bool = True,
) -> Iterator[pa.RecordBatch]:
    """Yield typed record batches of the data rows of ``path``, in file order.

    An optional column's missing values are its default, or with ``fill=False``
    null (the statistics count them; :func:`with_defaults` fills them later).
    """
    header = csvio.read_header(path, columns, header)
    done = 0
    try:
        for batch in arrow_batches(path, columns, header):
            yield with_defaults(batch, columns) if fill else batch
            done += batch.num_rows
    except (pa.ArrowException, NotCsvioEqual):
        batches = python_batches(path, columns, on_bad, skip=done, header=header)
        yield from (with_defaults(batch, columns) if fill else batch for batch in batches)


def arrow_batches(
    path: str | Path, columns: Sequence["csvio.CsvColumn"], header: bool = True
) -> Iterator[pa.RecordBatch]:
    """The checked record batches that pyarrow reads, missing values null; raises at the first bad block."""
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
        yield missing_as_null(batch, columns)


def missing_as_null(batch: pa.RecordBatch, columns: Sequence["csvio.CsvColumn"]) -> pa.RecordBatch:
    """The batch with each optional text column's missing values null, as pyarrow makes a number's.

    Text columns are never null as pyarrow reads them, so their missing
    values are found by their (stripped) text.
    """
    arrays = [
        pc.if_else(missing_text(values), pa.scalar(None, pa.string()), values)
        if column.optional and ARROW_TYPES[column.type] == pa.string() else values
        for column, values in zip(columns, batch.columns)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def with_defaults(batch: pa.RecordBatch, columns: Sequence["csvio.CsvColumn"]) -> pa.RecordBatch:
    """The batch with each optional column's missing (null) values replaced by the column's default."""
    arrays = [
        pc.fill_null(values, pa.scalar(column.default, ARROW_TYPES[column.type])) if column.optional else values
        for column, values in zip(columns, batch.columns)
    ]
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
    good = np.zeros(len(values), bool)
    for matched, n in matches(values, type_, fmt):
        good |= matched & real_times(n)
    return bool(good.all())


def time_seconds(values: pa.Array, type_: str, fmt: str = "") -> np.ndarray:
    """Each value's time as seconds since 1970-01-01 UTC (float64); NaN where it is null or no time.

    The values are checked times (:func:`all_times`, or csvio's reading): the statistics' range of a column.
    """
    seconds = np.full(len(values), np.nan)
    for matched, n in matches(values, type_, fmt):
        utc = days_since_1970(n["year"], n["month"], n["day"]) * 86_400 + n["hour"] * 3600 + n["minute"] * 60
        offset = np.where(n["sign"] == "-", -1, 1) * (n["zhour"] * 3600 + n["zminute"] * 60)
        seconds[matched] = (utc + n["second"] - offset)[matched]
    return seconds


def matches(values: pa.Array, type_: str, fmt: str = "") -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """For each of the column's forms in order: where it is the first form a value matches in full, and
    the numbers its groups took from each value (:data:`timestamps.FIELDS`, a lacking one :data:`timestamps.FIRST`
    or 0; ``sign`` as text)."""
    seen = np.zeros(len(values), bool)
    for pattern in timestamps.forms(type_, fmt):
        parts = pc.extract_regex(values, f"^(?:{pattern.pattern})$")
        matched = parts.is_valid().to_numpy(zero_copy_only=False) & ~seen
        seen |= matched
        if matched.any():
            yield matched, numbers(parts, pattern)


def numbers(parts: pa.StructArray, pattern: re.Pattern) -> dict[str, np.ndarray]:
    """The numbers that ``pattern``'s groups took from each value (``sign``: the text, "+" where none)."""
    n = {name: np.full(len(parts), timestamps.FIRST.get(name, 0), np.int64) for name in timestamps.FIELDS}
    n["sign"] = np.full(len(parts), "+")
    for name in pattern.groupindex:
        digits = pc.fill_null(parts.field(name), "")
        if name == "sign":
            n[name] = pc.if_else(pc.equal(digits, ""), "+", digits).to_numpy(zero_copy_only=False)
        else:
            n[name] = pc.cast(pc.if_else(pc.equal(digits, ""), "0", digits), pa.int64()).to_numpy()
    return n


def real_times(n: dict[str, np.ndarray]) -> np.ndarray:
    """Where the numbers of each value (:func:`numbers`) name a real date, time and offset."""
    year, month, day = n["year"], n["month"], n["day"]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    days = DAYS_IN_MONTH[np.where(month_ok, month, 0)] + (leap & (month == 2))
    real = (year >= 2) & (year <= 9998) & month_ok & (day >= 1) & (day <= days)
    for name, top in {"hour": 23, "minute": 59, "second": 59, "zhour": 23, "zminute": 59}.items():
        real &= n[name] <= top
    return real


def days_since_1970(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days from 1970-01-01 to each date of the proleptic Gregorian calendar (H. Hinnant's days_from_civil)."""
    year = year - (month <= 2)
    era = np.floor_divide(year, 400)
    year_of_era = year - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def python_batches(
    path: str | Path, columns: Sequence["csvio.CsvColumn"], on_bad: csvio.OnBad | None, skip: int, header: bool = True
) -> Iterator[pa.RecordBatch]:
    """Record batches of the rows csvio reads from ``path``, after the first ``skip`` good rows; missing values null."""
    rows = itertools.islice(csvio.read_rows(path, columns, on_bad, header, defaults=False), skip, None)
    schema = pa.schema([(c.name, ARROW_TYPES[c.type]) for c in columns])
    while chunk := [row for _, row in itertools.islice(rows, PYTHON_BATCH_ROWS)]:
        yield pa.RecordBatch.from_pylist(chunk, schema=schema)
