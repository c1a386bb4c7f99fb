"""What ``tft-tasks init-config`` infers from a sample of the user's CSV, without writing anything.

From the first rows of the training CSV: whether the first row is a header,
each column's type (int, float, date, timestamp or text, the narrowest that
all its present values parse as; a date or timestamp in the built-in forms of
:mod:`tft_build.io.timestamps`, each value in either) and whether it may be
missing (then its default), then the objective from the label column and a key column from the names and
the sample's unique values. Each decision that the user may want to check
comes with the reason for it, which the command prints.

Only the standard library is used: the command must start fast, without
TensorFlow.
"""

import csv
import dataclasses
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tft_build.config.schema import NO_LABEL
from tft_build.errors import ConfigError, DataError
from tft_build.io import timestamps
from tft_build.io.csvio import NA_VALUES

# Int columns with at most this many distinct sample values are codes: category
# features, and as a label, classes.
FEW_VALUES = 10
MIN_KEY_ROWS = 20  # fewer sample rows than this say too little to call unnamed text unique ids
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEY_NAME = re.compile(r"(?i)(?:id|key|.*_id|.*_key)")


@dataclass(frozen=True)
class ColumnInfo:
    """One inferred column: its type, its default (None: required) and sample counts."""

    name: str
    type: str
    default: str | int | float | None
    distinct: int  # distinct present values in the sample
    present: int  # sample rows with a value
    missing: int  # sample rows where the value is missing

    @property
    def optional(self) -> bool:
        """Whether the column may be missing: it has a default, as an optional config column does."""
        return self.default is not None

    @property
    def unique(self) -> bool:
        """Whether every sample row has a value and no two are equal, as a key's must."""
        return not self.missing and self.distinct == self.present


def sample_rows(path: str | Path, n: int) -> list[list[str]]:
    """The first ``n`` non-blank rows of ``path`` as lists of fields, checked to have one field count.

    Ragged rows are an error naming the line (where the record starts), since
    every later step would stumble on them.
    """
    rows = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            while len(rows) < n:
                line = reader.line_num + 1
                fields = next(reader, None)
                if fields is None:
                    break
                if not fields:
                    continue
                if rows and len(fields) != len(rows[0]):
                    raise DataError(
                        f"{path}:{line}: {len(fields)} fields, but the first row has {len(rows[0])}; "
                        "check the commas and quotes on this line"
                    )
                rows.append(fields)
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason}); save the file as UTF-8") from None
    except csv.Error as err:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({err})") from None
    if not rows:
        raise DataError(f"{path}: the file is empty")
    return rows


def is_missing(text: str) -> bool:
    """Whether a field holds no value: empty or one of :data:`NA_VALUES` once stripped."""
    return text.strip() in NA_VALUES


def parses_as(text: str, type_: str) -> bool:
    """Whether the (stripped) ``text`` is a valid value of the column type ``type_``."""
    if type_ == "int":
        return _converts(int, text)
    if type_ == "float":
        return _converts(float, text) and abs(float(text)) != float("inf")
    if type_ in timestamps.DATE_TYPES:
        return timestamps.parse(text, timestamps.forms(type_)) is not None
    return True


def _converts(parse, text):
    """Whether ``parse(text)`` succeeds."""
    try:
        parse(text)
        return True
    except ValueError:
        return False


def value_type(values: Iterable[str]) -> str | None:
    """The narrowest type all present ``values`` parse as (int, float, date, timestamp, string); None if none is.

    A timestamp's time of day is optional, so dates with a few date-times among them are timestamps.
    """
    present = [v.strip() for v in values if not is_missing(v)]
    if not present:
        return None
    return next(t for t in ("int", "float", "date", "timestamp", "string") if all(parses_as(v, t) for v in present))


def looks_like_name(text: str) -> bool:
    """Whether a first-row field reads as a column name rather than a value."""
    text = text.strip()
    return not is_missing(text) and not any(parses_as(text, t) for t in ("float", "timestamp"))


def detect_header(rows: Sequence[Sequence[str]]) -> tuple[bool, str]:
    """``(has_header, why)`` for a sample whose first row may be a header.

    The first row is a header when its fields are distinct names and one of
    them does not parse as the type the rest of its column has ("price" atop
    floats), or when it is all identifiers atop at least one number column.
    When every column is text, types cannot tell: a first row of distinct
    names is assumed to be a header, and ``why`` says so.
    """
    first = [f.strip() for f in rows[0]]
    types = [value_type(values) for values in zip(*rows[1:])] or [None] * len(first)
    names = all(looks_like_name(f) for f in first) and len(set(first)) == len(first)
    if names:
        for name, type_ in zip(first, types):
            if type_ not in (None, "string") and not parses_as(name, type_):
                return True, f"the first row's {name!r} is not a valid {type_}, unlike the rest of its column"
    if all(t in (None, "string") for t in types):
        if names:
            return True, "assumed: every column is text, so types cannot tell; use --no-header if the first row is data"
        return False, "every column is text and the first row has empty, repeated or numeric fields"
    if all(IDENTIFIER.fullmatch(f) for f in first) and {"int", "float"} & set(types):
        return True, "the first row is all names, above number columns"
    return False, "the first row has the same types as the rest"


def infer_columns(rows: Sequence[Sequence[str]], header: bool) -> list[ColumnInfo]:
    """The columns of a sample (``rows[0]`` names them when ``header``), typed by their present values.

    A column with a missing value is optional, with a default: "" for text,
    the sample median for numbers (4 significant digits for floats), dates
    and timestamps (the value at the median time). A column with no value at
    all in the sample is an error: nothing can be inferred from it.
    """
    names = [f.strip() for f in rows[0]] if header else [f"col_{i}" for i in range(1, len(rows[0]) + 1)]
    data = rows[1:] if header else rows
    if header:
        _check_names(names)
    if not data:
        raise DataError("the file has a header but no data rows")
    columns = []
    for name, values in zip(names, zip(*data)):
        type_ = value_type(values)
        if type_ is None:
            raise DataError(f"column {name!r} has no value in any of the {len(data)} sample rows")
        present = [v.strip() for v in values if not is_missing(v)]
        missing = len(values) - len(present)
        parsed = [{"int": int, "float": float}.get(type_, str)(v) for v in present]
        default = _default(type_, parsed) if missing else None
        columns.append(ColumnInfo(name, type_, default, len(set(parsed)), len(present), missing))
    return columns


def _check_names(names):
    """Header names must be non-empty and unique: they become config keys and feature names."""
    for i, name in enumerate(names, 1):
        if not name:
            raise DataError(f"header field {i} is empty; name every column (or use --no-header)")
    repeated = next((n for n in names if names.count(n) > 1), None)
    if repeated:
        raise DataError(f"the header names column {repeated!r} twice; column names must be unique")


def _default(type_, parsed):
    """The stand-in for a missing value: "" for text, the sample median for numbers, dates and timestamps."""
    if type_ == "string":
        return ""
    if type_ in timestamps.DATE_TYPES:
        patterns = timestamps.forms(type_)
        return sorted(parsed, key=lambda text: timestamps.parse(text, patterns))[(len(parsed) - 1) // 2]
    median = statistics.median(parsed)
    return round(median) if type_ == "int" else float(f"{median:.4g}")


def find_label(columns: Sequence[ColumnInfo], label: str, header: bool) -> ColumnInfo:
    """The label's column; without a header also by 1-based number (``7`` is ``col_7``)."""
    by_name = {c.name: c for c in columns}
    if not header and label.isdigit() and 1 <= int(label) <= len(columns):
        label = f"col_{int(label)}"
    if label not in by_name:
        numbers = f", or a column number 1..{len(columns)}" if not header else ""
        raise ConfigError(f"label {label!r} is not a column ({', '.join(by_name)}{numbers})")
    return by_name[label]


def as_label(column: ColumnInfo, objective: str) -> ColumnInfo:
    """The label's column as the config declares it: with missing values, optional with the default that
    marks a row without a label (nan, or "" for classes: an int code becomes text), for the row filter to drop."""
    if not column.missing:
        return column
    type_ = "string" if objective == "classification" else "float"
    return dataclasses.replace(column, type=type_, default=NO_LABEL[type_])


def choose_objective(label: ColumnInfo) -> tuple[str, str]:
    """``(objective, why)``: text labels and int labels with few values are classes, other numbers regressed."""
    if label.type == "string":
        return "classification", f"the label {label.name!r} is text"
    if label.type in timestamps.DATE_TYPES:
        raise DataError(f"label column {label.name} holds {label.type}s; choose a number or text column")
    values = f"the label {label.name!r} is an int with {label.distinct} distinct values in the sample"
    if label.type == "int" and label.distinct <= FEW_VALUES:
        return "classification", values
    if label.type == "int":
        return "regression", f"{values} (more than {FEW_VALUES})"
    return "regression", f"the label {label.name!r} is a float"


def choose_key(columns: Iterable[ColumnInfo], label: str, rows: int) -> str:
    """The key column: the first text or int column with present, unique sample values that is
    named like an id (``id``, ``key``, ``*_id``, ``*_key``) or, failing that, the first such text
    column (a file without a header has no names, and unique text is no feature anyway); "" if none."""
    candidates = [c for c in columns if c.name != label and c.type in ("string", "int") and c.unique]
    named = [c.name for c in candidates if KEY_NAME.fullmatch(c.name)]
    unnamed = [c.name for c in candidates if c.type == "string" and rows >= MIN_KEY_ROWS]
    return (named + unnamed + [""])[0]


def feature_kind(column: ColumnInfo) -> str:
    """How ``my_pipeline.py`` turns a non-label column into a feature: category, numeric or time_parts."""
    if column.type == "string" or (column.type == "int" and column.distinct <= FEW_VALUES):
        return "category"
    return "time_parts" if column.type in timestamps.DATE_TYPES else "numeric"
