"""``tft-tasks init-config``: a project skeleton inferred from a sample of the user's CSV.

It reads the first rows of the training CSV, decides whether the file has a
header, infers each column's type and whether it may be missing, picks the
objective from the label and a key column from the names, then writes into
the project dir a ``tft_build.toml`` with those settings, a ``my_pipeline.py``
with a ``preprocessing_fn`` and row filter spelled out column by column, and
a ``dodo.py``, so that ``doit`` runs as is. Everything it decides is printed,
so the user knows what to check and edit.

Only the standard library (and ``tabulate`` for the summary) is imported: the
command must start fast, without TensorFlow.
"""

import argparse
import csv
import glob
import json
import os
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from tft_build.config.schema import NA_VALUES
from tft_build.errors import ConfigError, DataError, TftBuildError
from tft_build.io import timestamps
from tft_build.io.atomic import write_file_atomic

PROG = "tft-tasks init-config"
CONFIG_FILE = "tft_build.toml"
PIPELINE_FILE = "my_pipeline.py"
DODO_FILE = "dodo.py"
# Int columns with at most this many distinct sample values are codes: category
# features, and as a label, classes.
FEW_VALUES = 10
MIN_KEY_ROWS = 20  # fewer sample rows than this say too little to call unnamed text unique ids
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
KEY_NAME = re.compile(r"(?i)(?:id|key|.*_id|.*_key)")

DODO = '''"""doit file of a tft_build project: the tasks come from tft_build.toml (see `doit list --all`)."""

from tft_build.tasks import dodo_globals

globals().update(dodo_globals())
'''


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
    def optional(self):
        return self.default is not None

    @property
    def unique(self):
        """Whether every sample row has a value and no two are equal, as a key's must."""
        return not self.missing and self.distinct == self.present


@dataclass(frozen=True)
class Skeleton:
    """What init-config decided: the settings that ``tft_build.toml`` and ``my_pipeline.py`` spell out."""

    source: str  # the sampled file, as the config dir sees it
    row_count: int  # data rows in the sample
    train_data: tuple[str, ...]
    eval_data: tuple[str, ...] | None  # None: evaluate on the training data (no held-out data given)
    header: bool
    columns: tuple[ColumnInfo, ...]
    label: str
    objective: str
    key_column: str


# --- reading and inferring ---------------------------------------------------


def matching_files(pattern):
    """The sorted files a path or glob names; a one-line error when there are none."""
    if glob.has_magic(pattern):
        files = sorted(f for f in glob.glob(pattern) if os.path.isfile(f))
        if not files:
            raise DataError(f"no file matches {pattern!r}")
        return files
    if not os.path.isfile(pattern):
        raise DataError(f"{pattern}: no such file")
    return [pattern]


def sample_rows(path, n):
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


def is_missing(text):
    """Whether a field holds no value: empty or one of :data:`NA_VALUES` once stripped."""
    return text.strip() in NA_VALUES


def parses_as(text, type_):
    """Whether the (stripped) ``text`` is a valid value of the column type ``type_``."""
    if type_ == "int":
        return _converts(int, text)
    if type_ == "float":
        return _converts(float, text) and abs(float(text)) != float("inf")
    if type_ == "timestamp":
        return timestamps.is_exact_timestamp(text)
    return True


def _converts(parse, text):
    """Whether ``parse(text)`` succeeds."""
    try:
        parse(text)
        return True
    except ValueError:
        return False


def value_type(values):
    """The narrowest type all present ``values`` parse as (int, float, timestamp, string); None if none is present."""
    present = [v.strip() for v in values if not is_missing(v)]
    if not present:
        return None
    return next(t for t in ("int", "float", "timestamp", "string") if all(parses_as(v, t) for v in present))


def looks_like_name(text):
    """Whether a first-row field reads as a column name rather than a value."""
    text = text.strip()
    return not is_missing(text) and not any(parses_as(text, t) for t in ("float", "timestamp"))


def detect_header(rows):
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


def infer_columns(rows, header):
    """The columns of a sample (``rows[0]`` names them when ``header``), typed by their present values.

    A column with a missing value is optional, with a default: "" for text
    (a timestamp column with gaps becomes text), the sample median for
    numbers (4 significant digits for floats). A column with no value at all
    in the sample is an error: nothing can be inferred from it.
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
        if missing and type_ == "timestamp":
            type_ = "string"
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
    """The stand-in for a missing value: "" for text, the sample median for numbers."""
    if type_ == "string":
        return ""
    median = statistics.median(parsed)
    return round(median) if type_ == "int" else float(f"{median:.4g}")


def find_label(columns, label, header):
    """The label's column; without a header also by 1-based number (``7`` is ``col_7``)."""
    by_name = {c.name: c for c in columns}
    if not header and label.isdigit() and 1 <= int(label) <= len(columns):
        label = f"col_{int(label)}"
    if label not in by_name:
        numbers = f", or a column number 1..{len(columns)}" if not header else ""
        raise ConfigError(f"label {label!r} is not a column ({', '.join(by_name)}{numbers})")
    column = by_name[label]
    if column.missing:
        raise DataError(
            f"label column {label} has missing values in {column.missing} sample rows; "
            "fix the data or choose another label"
        )
    return column


def choose_objective(label):
    """``(objective, why)``: text labels and int labels with few values are classes, other numbers regressed."""
    if label.type == "string":
        return "classification", f"the label {label.name!r} is text"
    if label.type == "timestamp":
        raise DataError(f"label column {label.name} holds timestamps; choose a number or text column")
    values = f"the label {label.name!r} is an int with {label.distinct} distinct values in the sample"
    if label.type == "int" and label.distinct <= FEW_VALUES:
        return "classification", values
    if label.type == "int":
        return "regression", f"{values} (more than {FEW_VALUES})"
    return "regression", f"the label {label.name!r} is a float"


def choose_key(columns, label, rows):
    """The key column: the first text or int column with present, unique sample values that is
    named like an id (``id``, ``key``, ``*_id``, ``*_key``) or, failing that, the first such text
    column (a file without a header has no names, and unique text is no feature anyway); "" if none."""
    candidates = [c for c in columns if c.name != label and c.type in ("string", "int") and c.unique]
    named = [c.name for c in candidates if KEY_NAME.fullmatch(c.name)]
    unnamed = [c.name for c in candidates if c.type == "string" and rows >= MIN_KEY_ROWS]
    return (named + unnamed + [""])[0]


def feature_kind(column):
    """How ``my_pipeline.py`` turns a non-label column into a feature: category, numeric or time_parts."""
    if column.type == "string" or (column.type == "int" and column.distinct <= FEW_VALUES):
        return "category"
    return "time_parts" if column.type == "timestamp" else "numeric"


# --- writing -----------------------------------------------------------------


def quoted(text):
    """``text`` as a double-quoted literal valid both as a TOML basic string and as Python.

    JSON's escapes (``\\"``, ``\\\\``, ``\\n``, ``\\uXXXX`` ...) mean the same in
    both; DEL, which JSON leaves as is, must be escaped in TOML.
    """
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_key(name):
    """A TOML key: bare when it may be, else quoted."""
    return name if BARE_KEY.fullmatch(name) else quoted(name)


def toml_value(value):
    """A TOML literal of a bool, int, float, string or list of strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # a finite float's repr ("12.5", "1e+20") is a TOML float
    if isinstance(value, str):
        return quoted(value)
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def _commented(line, comment):
    """A TOML line with its comment, comments aligned as far as the lines allow."""
    return f"{line:<24} # {comment}" if comment else line


def config_toml(skeleton):
    """The text of ``tft_build.toml``: top-level settings, ``[columns]`` and ``[models]``, commented."""
    s = skeleton
    eval_data, eval_note = (s.eval_data, "the evaluation CSVs") if s.eval_data else (
        s.train_data, "the training data again: point eval_data at held-out rows")
    other = {"classification": "regression", "regression": "classification"}[s.objective]
    settings = [
        ("train_data", list(s.train_data), "the training CSVs (globs allowed), relative to this file"),
        ("eval_data", list(eval_data), eval_note),
        ("header", s.header, "false: the files have no header row; columns are in the order below"),
        ("label", s.label, "the column to predict"),
        ("objective", s.objective, f'or "{other}"'),
        ("key_column", s.key_column, '"" when the data has no id column'),
        ("preprocessing_fn", "my_pipeline:preprocessing_fn", "module:function; my_pipeline.py is beside this file"),
        ("row_filter", "my_pipeline:keep_row", "which rows to learn from"),
        ("noise_floor_file", "", "a JSON file with the best RMSE any model can reach, if known"),
        ("epochs", 30, "at most this many passes over the training data"),
        ("patience", 4, "stop after this many epochs without improvement"),
    ]
    source = quoted(s.source)[1:-1]
    lines = [
        f"# tft_build settings, written by `tft-tasks init-config` from {source} "
        f"({s.row_count} sample rows); edit freely."
    ]
    lines += [_commented(f"{key} = {toml_value(value)}", comment) for key, value, comment in settings]
    columns_note = "name = type (string, int, float, timestamp); optional columns have a default"
    lines += ["", _commented("[columns]", columns_note)]
    roles = {s.label: "the label", s.key_column: "the key column"}
    for c in s.columns:
        spec = f"{{ type = {quoted(c.type)}, default = {toml_value(c.default)} }}" if c.optional else quoted(c.type)
        lines.append(_commented(f"{toml_key(c.name)} = {spec}", roles.get(c.name)))
    lines += [
        "",
        _commented("[models]", "one train_<name>_model and train_and_predict_<name>_model task per entry"),
        'default = "tft_build.generic.models:build_default_model"',
    ]
    return "\n".join(lines) + "\n"


def pipeline_module(skeleton):
    """The text of ``my_pipeline.py``: a ``preprocessing_fn`` with one line per column, and a row filter."""
    s = skeleton
    lines = [
        f'"""preprocessing_fn and row filter for {quoted(s.source)[1:-1]}, '
        "written by `tft-tasks init-config`: edit them.",
        "",
        "Each raw column becomes one model feature: numbers are standardized (z-score),",
        "strings are mapped to ids through a vocabulary of the training data (with one",
        "id for values not seen in training). The label passes through unchanged:",
        "tft_build turns class labels into ids itself. Optional columns arrive with",
        "their configured default in place of a missing value.",
        '"""',
        "",
        "from tft_build import generic",
        "",
        "",
        "def preprocessing_fn(inputs, cfg):",
        '    """Model features from the raw columns (``inputs``: one [batch] tensor per column)."""',
        "    return {",
        f"        {quoted(s.label)}: inputs[{quoted(s.label)}],  # the label, unchanged",
    ]
    for c in s.columns:
        name, kind = quoted(c.name), feature_kind(c)
        if c.name == s.label:
            continue
        if c.name == s.key_column:
            lines.append(f"        # {name} is the key column: it identifies rows, it is not a feature")
        elif kind == "time_parts":
            lines.append(f"        **generic.time_parts({name}, inputs[{name}]),")
        else:
            lines.append(f"        {name}: generic.{kind}(inputs[{name}]),")
    lines += [
        "    }",
        "",
        "",
        "def keep_row(row):",
        '    """The row filter: which rows to learn from (``row``: column -> value or numpy array). Keeps every row."""',
        "    return True",
    ]
    return "\n".join(lines) + "\n"


def config_path(path, directory):
    """``path`` (a file or glob, relative to the cwd) as the config in ``directory`` names it.

    Relative to ``directory`` when possible, since the loader resolves
    relative paths against the config file's dir.
    """
    try:
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(directory))).as_posix()
    except ValueError:  # another drive, on Windows
        return Path(os.path.abspath(path)).as_posix()


def write_project(skeleton, directory, force):
    """Write the three files into ``directory``; ``(written, kept)`` file names.

    ``tft_build.toml`` is replaced only with ``force``; ``my_pipeline.py`` and
    ``dodo.py`` are the user's once they exist and are never replaced.
    """
    directory = Path(directory)
    if (directory / CONFIG_FILE).exists() and not force:
        raise ConfigError(f"{directory / CONFIG_FILE} exists; use --force to overwrite it")
    files = [
        (CONFIG_FILE, config_toml(skeleton), True),
        (PIPELINE_FILE, pipeline_module(skeleton), False),
        (DODO_FILE, DODO, False),
    ]
    written, kept = [], []
    for name, text, replace in files:
        if not replace and (directory / name).exists():
            kept.append(name)
        else:
            write_file_atomic(directory / name, text)
            written.append(name)
    return written, kept


def summary(skeleton, path, header_why, objective_why, directory, written, kept):
    """The text printed at the end: the columns, the decisions, the files and what to run next."""
    s = skeleton
    roles = {s.label: "label", s.key_column: "key"}
    table = [
        (c.name, c.type, toml_value(c.default) if c.optional else "required",
         roles.get(c.name, f"feature ({feature_kind(c)})"))
        for c in s.columns
    ]
    lines = [
        f"{path}: {s.row_count} sample rows, {len(s.columns)} columns",
        "",
        tabulate(table, headers=["column", "type", "default (if missing)", "role"]),
        "",
        f"header: {'yes' if s.header else 'no'} ({header_why})",
        f"objective: {s.objective} ({objective_why})",
        f"key column: {s.key_column or 'none'}",
    ]
    if not s.eval_data:
        lines.append("eval data: none given, so the training data; point eval_data at held-out rows")
    lines.append(f"wrote: {', '.join(str(Path(directory) / n) for n in written)}")
    notes = {PIPELINE_FILE: "; tft_build.toml names its preprocessing_fn and keep_row", DODO_FILE: ""}
    lines += [f"kept: {Path(directory) / name} (it exists{notes[name]})" for name in kept]
    lines += ["", "next:"]
    if os.path.abspath(directory) != os.path.abspath("."):
        lines.append(f"  cd {directory}")
    lines += ["  doit list --all   # the tasks", "  doit              # build everything"]
    return "\n".join(lines)


# --- the command -------------------------------------------------------------


def parser():
    """The argument parser of ``tft-tasks init-config``."""
    result = argparse.ArgumentParser(
        prog=PROG,
        description="Infer the columns of a CSV and write a tft_build project (tft_build.toml, "
        "my_pipeline.py, dodo.py) that runs as is with doit.",
    )
    result.add_argument("train_csv", metavar="TRAIN_CSV", help="the training data: a CSV file or a quoted glob")
    result.add_argument("--eval", metavar="EVAL_CSV", help="held-out data (file or glob); default: the training data")
    result.add_argument("--label", required=True, metavar="COL",
                        help="the column to predict (without a header: col_N or its 1-based number N)")
    result.add_argument("--dir", default=".", help="the project dir to write into (default: .)")
    result.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                        help="whether the files have a header row (default: detect it)")
    result.add_argument("--sample-rows", type=int, default=10_000, metavar="N",
                        help="how many rows to infer the columns from (default: 10000)")
    result.add_argument("--force", action="store_true", help="overwrite an existing tft_build.toml")
    return result


def main(argv=None):
    """Run ``tft-tasks init-config``; the exit status (2 with a one-line error on bad input)."""
    args = parser().parse_args(argv)
    try:
        return _init(args)
    except TftBuildError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
    except OSError as err:
        message = f"{err.filename}: {err.strerror}" if err.filename else str(err)
        print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _init(args):
    """The command on parsed arguments; bad input raises :class:`TftBuildError`."""
    if args.sample_rows < 1:
        raise ConfigError(f"--sample-rows must be at least 1, got {args.sample_rows}")
    path = matching_files(args.train_csv)[0]
    if args.eval:
        matching_files(args.eval)
    rows = sample_rows(path, args.sample_rows + 1)  # one more, in case the first is a header
    if args.header is None:
        header, header_why = detect_header(rows)
    else:
        header, header_why = args.header, "--header" if args.header else "--no-header"
    sample = rows if header else rows[: args.sample_rows]
    try:
        columns = infer_columns(sample, header)
    except DataError as err:
        raise DataError(f"{path}: {err}") from None
    label = find_label(columns, args.label.strip(), header)
    objective, objective_why = choose_objective(label)
    skeleton = Skeleton(
        source=config_path(path, args.dir),
        row_count=len(sample) - header,
        train_data=(config_path(args.train_csv, args.dir),),
        eval_data=(config_path(args.eval, args.dir),) if args.eval else None,
        header=header,
        columns=tuple(columns),
        label=label.name,
        objective=objective,
        key_column=choose_key(columns, label.name, len(sample) - header),
    )
    written, kept = write_project(skeleton, args.dir, args.force)
    print(summary(skeleton, path, header_why, objective_why, args.dir, written, kept))
    return 0
