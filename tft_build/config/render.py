"""The text of the files that ``tft-tasks init-config`` writes, from what it inferred.

A :class:`Skeleton` holds the settings decided from the sample
(:mod:`tft_build.config.infer`); from it come the project's ``tft_build.toml``
(the settings, commented, read back by :mod:`tft_build.config.settings`), a
``my_pipeline.py`` whose ``preprocessing_fn`` and row filter are spelled out
column by column, and a ``dodo.py`` that loads the tasks. Text only: writing
the files is the command's (:mod:`tft_build.commands.init_config`).
"""

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tft_build.config.infer import ColumnInfo, feature_kind
from tft_build.io.csvio import AUTO

PIPELINE_MODULE = "my_pipeline"  # the module that tft_build.toml names the preprocessing_fn and row filter in
PIPELINE_FILE = f"{PIPELINE_MODULE}.py"
DODO_FILE = "dodo.py"
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

DODO = '''"""doit file of a tft_build project: the tasks come from tft_build.toml (see `doit list --all`)."""

from tft_build.tasks import dodo_globals

globals().update(dodo_globals())
'''


@dataclass(frozen=True)
class Skeleton:
    """What init-config decided: the settings that ``tft_build.toml`` and ``my_pipeline.py`` spell out."""

    source: str  # the sampled file, as the config dir sees it
    row_count: int  # data rows in the sample
    train_data: tuple[str, ...]
    eval_data: tuple[str, ...] | None  # None: evaluate on the training data (no held-out data given)
    header: bool  # whether the sampled file has one (it names the columns)
    header_forced: bool  # --header or --no-header: every file is so; else header = "auto" decides per file
    columns: tuple[ColumnInfo, ...]
    label: str
    objective: str
    key_column: str


def quoted(text: str) -> str:
    """``text`` as a double-quoted literal valid both as a TOML basic string and as Python.

    JSON's escapes (``\\"``, ``\\\\``, ``\\n``, ``\\uXXXX`` ...) mean the same in
    both; DEL, which JSON leaves as is, must be escaped in TOML.
    """
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_key(name: str) -> str:
    """A TOML key: bare when it may be, else quoted."""
    return name if BARE_KEY.fullmatch(name) else quoted(name)


def toml_value(value: bool | int | float | str | Sequence[str]) -> str:
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


def config_toml(skeleton: Skeleton) -> str:
    """The text of ``tft_build.toml``: top-level settings, ``[columns]`` and ``[models]``, commented."""
    s = skeleton
    eval_data, eval_note = (s.eval_data, "the evaluation CSVs") if s.eval_data else (
        s.train_data, "the training data again: point eval_data at held-out rows")
    other = {"classification": "regression", "regression": "classification"}[s.objective]
    settings = [
        ("train_data", list(s.train_data), "the training CSVs (globs allowed), relative to this file"),
        ("eval_data", list(eval_data), eval_note),
        ("header", s.header if s.header_forced else AUTO,
         '"auto": each file may have a header row or not; false: none has (columns in the order below)'),
        ("label", s.label, "the column to predict"),
        ("objective", s.objective, f'or "{other}"'),
        ("key_column", s.key_column, '"" when the data has no id column'),
        ("preprocessing_fn", f"{PIPELINE_MODULE}:preprocessing_fn",
         f"module:function; {PIPELINE_FILE} is beside this file"),
        ("row_filter", f"{PIPELINE_MODULE}:keep_row", "which rows to learn from"),
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
    columns_note = "name = type (string, int, float, date, timestamp); optional columns have a default"
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


def pipeline_module(skeleton: Skeleton) -> str:
    """The text of ``my_pipeline.py``: a ``preprocessing_fn`` with one line per column, and a row filter."""
    s = skeleton
    lines = [
        f'"""preprocessing_fn and row filter for {quoted(s.source)[1:-1]}, '
        "written by `tft-tasks init-config`: edit them.",
        "",
        "Each raw column becomes model features: numbers are standardized (z-score),",
        "strings are mapped to ids through a vocabulary of the training data (with one",
        "id for values not seen in training), dates and timestamps become weekday (and",
        "hour) ids, month and day of year as (sin, cos) pairs and a trend in years",
        "(z-score). The label passes through unchanged:",
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
            lines.append(f"        **generic.time_parts({name}, inputs[{name}], cfg),")
        else:
            lines.append(f"        {name}: generic.{kind}(inputs[{name}]),")
    label = next(c for c in s.columns if c.name == s.label)
    lines += ["    }", "", "", "def keep_row(row):"]
    if label.missing:
        lines += [
            '    """The row filter: which rows to learn from (``row``: column -> value or numpy array).',
            "",
            f"    Drops the rows without a label: {label.missing} of the {s.row_count} sample rows had none.",
            '    """',
            f"    return generic.has_value(row[{quoted(s.label)}])",
        ]
    else:
        lines += [
            '    """The row filter: which rows to learn from (``row``: column -> value or numpy array). '
            'Keeps every row."""',
            "    return True",
        ]
    return "\n".join(lines) + "\n"


def features(skeleton: Skeleton) -> list[ColumnInfo]:
    """The columns that the generated ``preprocessing_fn`` makes features of: all but the label and the key."""
    return [c for c in skeleton.columns if c.name not in (skeleton.label, skeleton.key_column)]


def config_path(path: str | Path, directory: str | Path) -> str:
    """``path`` (a file or glob, relative to the cwd) as the config in ``directory`` names it.

    Relative to ``directory`` when possible, since the loader resolves
    relative paths against the config file's dir.
    """
    try:
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(directory))).as_posix()
    except ValueError:  # another drive, on Windows
        return Path(os.path.abspath(path)).as_posix()
