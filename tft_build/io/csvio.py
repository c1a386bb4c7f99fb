"""Reading the raw CSV files into typed rows, with errors that say where.

The Beam steps, the prediction step and the checks all read CSVs through
:func:`read_rows`, so a bad value is reported the same way everywhere:
``file:line: column 'x': what is wrong``. Quoted fields, CRLF line endings and
a UTF-8 byte-order mark are valid CSV and are read as such. Files have a
header row naming the configured columns, or (``header=False``) none, or
(``header="auto"``, the default) either, decided per file by
:func:`has_header`. An
optional column's missing value (an empty field or one of
:data:`NA_VALUES`) is read as its default. A
date or timestamp is checked by :func:`tft_build.io.timestamps.check`.
"""

import csv
import io
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, TextIO

from tft_build.errors import DataError
from tft_build.io import location, timestamps

PARSERS = {"string": str, "float": float, "int": int}
# The models read floats as float32 and ints as int64: a value beyond them would become infinity or fail.
FLOAT32_MAX = 3.4028234663852886e38
INT64 = (-(2**63), 2**63 - 1)
# What an optional column's field may say for "no value" (after stripping spaces).
NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "null", "NULL")
# csv's default field limit (128 KiB) would stop a long field, or an open quote, with no line; 2**31 - 1 is
# the most a C long holds on every platform, longer than any field of a file tft_build reads.
FIELD_LIMIT = 2**31 - 1
SHOWN_CHARS = 160  # of a bad record's error, quoted in the error of a record across lines
OnBad = Callable[[int, list[str], str], None]  # on_bad(line_number, fields, message): a skipped row
Header = bool | str  # the `header` setting: True, False or AUTO
AUTO = "auto"


class CsvColumn(Protocol):
    """What the readers use of a configured column (io sits below the config and its ``Column``)."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...  # "string", "float", "int", "date" or "timestamp"

    @property
    def format(self) -> str: ...  # a date or timestamp column's own form; "": the built-in ones

    @property
    def default(self) -> str | float | int | None: ...

    @property
    def optional(self) -> bool: ...


def read_header(path: str | Path, columns: Sequence[CsvColumn], header: Header = AUTO) -> bool:
    """Check that ``path`` starts with the configured header (or, without one, is not empty); whether it has one."""
    first = _first_row(path)
    has = decide_header(first, columns, header)
    _check_header(path, first, columns, has, header)
    return has


def has_header(path: str | Path, columns: Sequence[CsvColumn], header: Header = AUTO) -> bool:
    """Whether ``path`` starts with a header row: the setting, or for ``"auto"`` :func:`decide_header`."""
    return header if header != AUTO else decide_header(_first_row(path), columns, header)


def decide_header(first: Sequence[str] | None, columns: Sequence[CsvColumn], header: Header) -> bool:
    """Whether the first row ``first`` is a header, by the setting or, for ``"auto"``, by init-config's rule.

    A first row that names the configured columns is a header; one that is a
    valid row of them (each field a value of its column's type) is data;
    any other is taken as a header, so that the header check says what
    differs. ``init-config`` decides the same way from a sample's types
    (:func:`tft_build.config.infer.detect_header`); here the types are known.
    """
    if header != AUTO:
        return bool(header)
    if first is None:
        return False
    if [f.strip() for f in first] == [c.name for c in columns]:
        return True
    try:
        _typed_row("", 1, list(first), columns, [c.name for c in columns])
    except DataError:
        return True
    return False


def _first_row(path):
    """The first CSV record of ``path`` as fields, or None for an empty file."""
    with _open(path) as f:
        try:
            record = next(records(path, f), None)
        except UnicodeDecodeError as err:
            raise not_utf8(path, err) from None
        return record and record[2]


def records(path: str | Path, f: TextIO) -> Iterator[tuple[int, int, list[str]]]:
    """``(first_line, last_line, fields)`` of each CSV record of ``f`` (the text of ``path``), by
    the CSV rules of both readers: RFC 4180 quotes (``""`` a quote inside them), records that
    end at ``\n``, ``\r\n`` or ``\r``, a field as long as the data needs.

    A quoted field may hold line breaks, so a record spans lines ``first_line``
    to ``last_line``; what csv cannot read is a :class:`DataError` naming its line.
    """
    csv.field_size_limit(FIELD_LIMIT)
    reader = csv.reader(f)
    last = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise DataError(f"{path}:{last + 1}: not valid CSV ({err}); check the quotes on this line") from None
        yield last + 1, reader.line_num, fields
        last = reader.line_num


def read_rows(
    path: str | Path, columns: Sequence[CsvColumn], on_bad: OnBad | None = None, header: Header = AUTO,
    defaults: bool = True,
) -> Iterator[tuple[int, dict[str, str | float | int | None]]]:
    """Yield ``(line_number, row_dict)`` for each data row of ``path`` (after its header, if it has one).

    An optional column's missing value is its default, or None with ``defaults=False``.

    A malformed row raises :class:`DataError`, unless ``on_bad`` is given:
    then ``on_bad(line_number, fields, message)`` is called and the row is
    skipped (the ``on_bad_rows = "skip"`` policy).
    """
    names = [c.name for c in columns]
    with _open(path) as f:
        reader = records(path, f)
        try:
            head = next(reader, None)
            first = head and head[2]
            has = decide_header(first, columns, header)
            if has or (first is None and header is not False):
                _check_header(path, first, columns, True, header)
            for line, last, fields in reader if has or first is None else itertools.chain([head], reader):
                if not fields:
                    continue
                try:
                    row = _typed_row(path, line, fields, columns, names, defaults)
                except DataError as err:
                    err = across_lines(path, line, last, err)
                    if on_bad is None:
                        raise err from None
                    on_bad(line, fields, str(err))
                    continue
                yield line, row
        except UnicodeDecodeError as err:
            raise not_utf8(path, err) from None


def across_lines(path: str | Path, line: int, last: int, err: DataError) -> DataError:
    """The error of a bad record that spans lines ``line`` to ``last``: most likely a quote
    left open, which swallowed the line breaks after it. A record on one line keeps its error."""
    if last == line:
        return err
    what = str(err).removeprefix(f"{path}:{line}: ").split("; ")[0]  # what is wrong, not what to do
    what = what if len(what) <= SHOWN_CHARS else what[: SHOWN_CHARS - 3] + "..."
    return DataError(
        f"{path}:{line}: a quoted field on this line runs on to line {last}, and the row so read is not valid "
        f"({what}); check the quotes on line {line}"
    )


def not_utf8(path: str | Path, err: UnicodeDecodeError) -> DataError:
    """The error for a file that is not UTF-8, naming the first line that is not.

    The decoder reads ahead in blocks, so the line is found again in the bytes.
    """
    with location.open_binary(path) as f:
        line = next((n for n, raw in enumerate(f, 1) if not _decodes(raw)), 1)
    return DataError(f"{path}:{line}: not UTF-8 text ({err.reason}); save the file as UTF-8")


def _decodes(raw):
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def ignore_bad_rows(policy: str) -> OnBad | None:
    """The ``on_bad`` argument for readers that only skip what the transform quarantined."""
    return (lambda *_: None) if policy == "skip" else None


def _open(path):
    try:
        return io.TextIOWrapper(location.open_binary(path), encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise DataError(f"{path}: no such data file; check train_data/eval_data in the config") from None


def _check_header(path, first, columns, has_header, setting):
    """A clear error for an empty file, or a header that is not the configured columns' names."""
    expected = [c.name for c in columns]
    if first is None:
        what = {True: f"the header {','.join(expected)}", False: "rows (header = false)"}.get(
            setting, f"the header {','.join(expected)} or rows")
        raise DataError(f"{path}:1: the file is empty; expected {what}")
    if has_header and [h.strip() for h in first] != expected:
        auto = ", and it is not a valid data row either" if setting == AUTO else ""
        plain = not any(mark in field for field in first for mark in ',"\r\n')  # else its fields tell
        raise DataError(
            f"{path}:1: header {','.join(first) if plain else first!r} does not match the configured columns "
            f"{','.join(expected)!r}{auto}; fix the file, the 'columns' setting or setting 'header' "
            f"(now {_toml(setting)}; \"auto\" decides per file)"
        )


def _toml(setting):
    """The ``header`` setting as written in TOML."""
    return f'"{setting}"' if isinstance(setting, str) else str(setting).lower()


def _typed_row(path, line, fields, columns, names, defaults=True):
    if len(fields) != len(columns):
        raise DataError(
            f"{path}:{line}: {len(fields)} fields, expected {len(columns)} ({','.join(names)}); "
            "check the commas and quotes on this line"
        )
    row = {}
    for column, text in zip(columns, fields):
        row[column.name] = _typed_value(path, line, column, text, defaults)
    return row


def _typed_value(path, line, column, text, defaults=True):
    where = f"{path}:{line}: column '{column.name}'"
    if column.optional and text.strip() in NA_VALUES:
        return column.default if defaults else None
    if column.type == "string":
        return text
    text = text.strip()
    if not text:
        raise DataError(
            f"{where}: empty value; every {column.type} column needs a value "
            "(or give the column a default in 'columns' to make it optional)"
        )
    if column.type in timestamps.DATE_TYPES:
        return timestamps.check(where, text, column.type, column.format)
    try:
        value = PARSERS[column.type](text)
    except ValueError:
        raise DataError(f"{where}: {text!r} is not a valid {column.type}") from None
    if column.type == "float" and not math.isfinite(value):
        raise DataError(f"{where}: {text!r} is not a finite number")
    if column.type == "float" and abs(value) > FLOAT32_MAX:
        raise DataError(f"{where}: {text!r} is beyond a float32 (about ±3.4e38), which TensorFlow reads as infinity")
    if column.type == "int" and not INT64[0] <= value <= INT64[1]:
        raise DataError(f"{where}: {text!r} is beyond a 64-bit integer")
    return value
