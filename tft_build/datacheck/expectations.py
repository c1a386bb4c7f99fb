"""The schema file: what each column is expected to hold, inferred once, then the user's to edit and commit.

``tft_build.schema.toml`` (setting ``schema_file``) has one table per column:
its ``type``; for a text column with few values the allowed ``values``; for a
number the range ``min`` .. ``max``; ``max_missing``, the largest share of
missing values; ``max_drift``, the largest distance between the training
and the eval data's distributions (:mod:`tft_build.datacheck.anomalies`).
:func:`infer` makes it from the training data's statistics, :func:`render`
writes it as TOML, :func:`read` reads it back (a mistake in it is one line
naming the file, the column and the key).
"""

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tft_build.config.render import toml_key, toml_value
from tft_build.errors import ConfigError

MAX_CATEGORIES = 50  # a text column with at most this many distinct training values gets its list of values
# The inferred max_drift: above what sampling alone gives from 150 eval rows and 600 training rows (at most 0.12,
# measured), far below a real shift (a number moved by 3 standard deviations: about 0.7).
DRIFT = 0.15
MISSING_MARGIN = 0.05  # the inferred max_missing: twice the training share, plus this (a required column has none)
KEYS = ("type", "values", "min", "max", "max_missing", "max_drift")
HEADER = """\
# What the data is expected to hold: every transform checks its training and eval data against it and
# reports what does not fit (artifacts/stats/anomalies.json; fail_on_anomalies = true makes that an error).
# Inferred from the training data on the first build; edit it and commit it. Per column:
#   values       the allowed values of a text column
#   min, max     the range of a number
#   max_missing  the largest share of missing values
#   max_drift    the largest distance between the training and eval distributions: for text the largest
#                difference of a value's share (L-infinity), for numbers the Jensen-Shannon divergence
#                (base 2, 0 to 1) of their histograms
"""


@dataclass(frozen=True)
class Expectation:
    """What one column is expected to hold; None: not checked."""

    name: str
    type: str
    values: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    max_missing: float = 0.0
    max_drift: float | None = None


def infer(train: Mapping[str, Any]) -> dict[str, Expectation]:
    """The expectations of each column from the training data's merged statistics (:func:`stats.merge`).

    A number's range is the training range widened by half its span on each
    side (not below 0 for a column that never was): eval data from the same
    source stays inside it, a unit or sign mistake does not.
    """
    out = {}
    for name, figures in train["columns"].items():
        rows = figures["count"] + figures["missing"]
        missing = figures["missing"] / rows if rows else 0.0
        values = allowed_values(figures)
        out[name] = Expectation(
            name, figures["type"], values=values, **inferred_range(figures),
            max_missing=round(min(1.0, 2 * missing + MISSING_MARGIN), 3),
            max_drift=DRIFT if values or ("sum" in figures and figures["count"]) else None,
        )
    return out


def allowed_values(figures: Mapping[str, Any]) -> tuple[str, ...] | None:
    """A text column's values when it has few (a category), else None (a key, free text)."""
    counts = figures.get("counts")
    if figures["type"] != "string" or not counts or len(counts) > MAX_CATEGORIES:
        return None
    return tuple(sorted(counts))


def inferred_range(figures: Mapping[str, Any]) -> dict[str, float]:
    """``{min, max}`` of a numeric column (see :func:`infer`), rounded outwards to a readable figure."""
    if "sum" not in figures or figures["min"] is None:
        return {}
    low, high = figures["min"], figures["max"]
    half = (high - low) / 2 or abs(low) / 2 or 1.0
    wide_low, wide_high = low - half, high + half
    if low >= 0:
        wide_low = max(wide_low, 0.0)
    if figures["type"] == "int":
        return {"min": math.floor(wide_low), "max": math.ceil(wide_high)}
    digits = max(0, 1 - math.floor(math.log10(half)))
    scale = 10**digits
    return {"min": math.floor(wide_low * scale) / scale, "max": math.ceil(wide_high * scale) / scale}


def render(expectations: Mapping[str, Expectation]) -> str:
    """The schema file's TOML text."""
    lines = [HEADER]
    for exp in expectations.values():
        lines.append(f"[columns.{toml_key(exp.name)}]")
        for key in KEYS:
            value = getattr(exp, key)
            if value is not None:
                lines.append(f"{key} = {toml_value(list(value) if isinstance(value, tuple) else value)}")
        lines.append("")
    return "\n".join(lines)


def read(path: str | Path) -> dict[str, Expectation]:
    """The expectations in the schema file ``path``; a mistake is a :class:`ConfigError` naming file, column, key."""
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    columns = table.get("columns")
    if not isinstance(columns, dict) or set(table) - {"columns"}:
        raise ConfigError(f"{path}: expected only [columns.<name>] tables; delete the file to infer it again")
    return {name: parsed(path, name, entry) for name, entry in columns.items()}


def parsed(path: str | Path, name: str, entry: Any) -> Expectation:
    """One column's table of the schema file, checked."""
    where = f"{path}: column '{name}'"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table of {', '.join(KEYS)}")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(KEYS)})")
    if not isinstance(entry.get("type"), str):
        raise ConfigError(f"{where}: 'type' must be the column's type, e.g. type = \"float\"")
    values = entry.get("values")
    if values is not None and not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
        raise ConfigError(f"{where}: 'values' must be a list of strings")
    for key in ("min", "max", "max_missing", "max_drift"):
        value = entry.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(f"{where}: '{key}' must be a number")
    for key in ("max_missing", "max_drift"):
        if key in entry and not 0 <= entry[key] <= 1:
            raise ConfigError(f"{where}: '{key}' must be between 0 and 1")
    return Expectation(
        name, entry["type"], values=tuple(values) if values is not None else None, min=entry.get("min"),
        max=entry.get("max"), max_missing=float(entry.get("max_missing", 0.0)), max_drift=entry.get("max_drift"),
    )
