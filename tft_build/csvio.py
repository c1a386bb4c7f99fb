"""Reading the raw CSV files into typed rows, with errors that say where.

The Beam steps, the prediction step and the checks all read CSVs through
:func:`read_rows`, so a bad value is reported the same way everywhere:
``file:line: column 'x': what is wrong``. Quoted fields, CRLF line endings and
a UTF-8 byte-order mark are valid CSV and are read as such.
"""

import csv
import math

from tft_build.errors import DataError

PARSERS = {"string": str, "float": float, "int": int}


def read_header(path, columns):
    """Check that ``path`` starts with the configured header; return nothing."""
    with _open(path) as f:
        header = next(csv.reader(f), None)
    _check_header(path, header, columns)


def read_rows(path, columns):
    """Yield ``(line_number, row_dict)`` for each data row of ``path``."""
    names = [c.name for c in columns]
    with _open(path) as f:
        reader = csv.reader(f)
        try:
            _check_header(path, next(reader, None), columns)
            for fields in reader:
                if fields:
                    yield reader.line_num, _typed_row(path, reader.line_num, fields, columns, names)
        except UnicodeDecodeError as err:
            raise DataError(
                f"{path}:{reader.line_num + 1}: not UTF-8 text ({err.reason}); "
                "save the file as UTF-8"
            ) from None


def _open(path):
    try:
        return open(path, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such data file; check train_data/eval_data in the config") from None


def _check_header(path, header, columns):
    expected = [c.name for c in columns]
    if header is None:
        raise DataError(f"{path}:1: the file is empty; expected the header {','.join(expected)}")
    if [h.strip() for h in header] != expected:
        raise DataError(
            f"{path}:1: header {','.join(header)!r} does not match the configured columns "
            f"{','.join(expected)!r}; fix the file or the 'columns' setting"
        )


def _typed_row(path, line, fields, columns, names):
    if len(fields) != len(columns):
        raise DataError(
            f"{path}:{line}: {len(fields)} fields, expected {len(columns)} ({','.join(names)})"
        )
    row = {}
    for column, text in zip(columns, fields):
        row[column.name] = _typed_value(path, line, column, text)
    return row


def _typed_value(path, line, column, text):
    where = f"{path}:{line}: column '{column.name}'"
    if column.type == "string":
        return text
    text = text.strip()
    if not text:
        raise DataError(f"{where}: empty value; every {column.type} column needs a value")
    try:
        value = PARSERS[column.type](text)
    except ValueError:
        raise DataError(f"{where}: {text!r} is not a valid {column.type}") from None
    if column.type == "float" and not math.isfinite(value):
        raise DataError(f"{where}: {text!r} is not a finite number")
    return value
