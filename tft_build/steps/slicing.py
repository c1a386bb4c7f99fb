"""Sliced metrics: each metric of a model on the eval rows of each slice of a column, like TFMA's slicing.

One overall RMSE hides where a model fails (short trips? airports? night rides?). The ``slices`` setting
names columns: raw ones, or ones that the ``slice_fn`` plug-in computes from the clean eval rows
(:func:`slice_columns`). A float column is cut at quantiles of its eval values into ``slice_buckets``
buckets labelled ``[low, high)`` (the last one closed, its nan values a slice of their own); an int,
bool or text column's values are its slices, in their order, empty text labelled missing
(:func:`slices_of`). Each slice gets its row count and the model's metrics on its rows
(:func:`sliced_metrics`), measured by the same functions as the overall ones; the predict step writes
them under the ``slices`` key of the metrics file.

Plain numpy: the edges are eval values at the quantiles (no interpolation), so every bucket holds
a row and a build makes the same slices every time.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from tabulate import tabulate

from tft_build.engine import dotted
from tft_build.engine.trace import traced
from tft_build.errors import ConfigError

if TYPE_CHECKING:
    from tft_build.config.settings import Config

MISSING = "missing"  # the label of the slice of nan values and of empty text (an optional column's default)
PRINTED_SLICES = 12  # more slices than this are not printed, the metrics file and the report have them
NUMPY_TYPES = {"float": np.float64, "int": np.int64}  # a column's numpy type; any other column is text


def eval_columns(cfg: "Config", rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """The typed rows as columns (name -> numpy array), as a row filter sees a batch; text as objects."""
    return {c.name: np.array([row[c.name] for row in rows], NUMPY_TYPES.get(c.type, object)) for c in cfg.columns}


@traced
def slice_columns(cfg: "Config", columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The columns the ``slices`` setting names, in its order: the ``slice_fn``'s or, if it returns none
    of that name, the raw one. A name that is neither, or a column of another length, is a ConfigError."""
    if not cfg.slices:
        return {}
    rows = len(next(iter(columns.values()), ()))
    with dotted.blamed_on(cfg, "slice_fn"):
        made = {str(name): np.asarray(values) for name, values in dotted.resolve(cfg, "slice_fn")(columns).items()}
    available = {**columns, **made}
    unknown = [name for name in cfg.slices if name not in available]
    if unknown:
        raise ConfigError(
            f"{cfg.where('slices')}: no column {', '.join(repr(n) for n in unknown)} to slice on; name a column "
            f"({', '.join(columns)}) or one that {cfg.slice_fn} returns ({', '.join(made) or 'none'})"
        )
    for name in made.keys() & set(cfg.slices):
        if made[name].shape != (rows,):
            raise ConfigError(f"{cfg.where('slice_fn')}: {cfg.slice_fn} returned column '{name}' of shape "
                              f"{made[name].shape} for {rows} eval rows; return one value per row")
    return {name: available[name] for name in cfg.slices}


def slices_of(values: np.ndarray, buckets: int) -> list[tuple[str, np.ndarray]]:
    """``(label, rows)`` of each slice of ``values`` (a boolean mask of the rows), in order."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return quantile_slices(values, buckets)
    keys = [key.item() if isinstance(key, np.generic) else key for key in np.unique(values)]
    return [(str(key) if key != "" else MISSING, values == key) for key in keys]


def quantile_slices(values: np.ndarray, buckets: int) -> list[tuple[str, np.ndarray]]:
    """The rows of ``values`` in ``buckets`` buckets between quantiles of its values (fewer when
    values repeat), then its nan values (:data:`MISSING`) if any."""
    missing = np.isnan(values)
    present = np.sort(values[~missing])
    slices = []
    if present.size:
        # Bucket i starts at the value with i/buckets of the values below it: the same rows in each.
        starts = present[np.arange(buckets) * present.size // buckets]
        edges = np.unique(np.append(starts, present[-1]))
        index = np.searchsorted(edges[1:-1], values, side="right")
        slices = [(label, ~missing & (index == i)) for i, label in enumerate(bucket_labels(edges.tolist()))]
    return slices + ([(MISSING, missing)] if missing.any() else [])


def bucket_labels(edges: Sequence[float]) -> list[str]:
    """``[a, b)`` for each pair of the ascending ``edges``, the last ``[a, b]``; with the fewest
    significant digits that tell the edges apart (3 at least). One edge is one bucket, ``[a, a]``."""
    digits = next((d for d in range(3, 18) if len({f"{e:.{d}g}" for e in edges}) == len(edges)), 17)
    shown = [f"{e:.{digits}g}" for e in edges]
    if len(shown) == 1:
        return [f"[{shown[0]}, {shown[0]}]"]
    return [f"[{a}, {b}{']' if i == len(shown) - 2 else ')'}" for i, (a, b) in enumerate(zip(shown, shown[1:]))]


@traced
def sliced_metrics(
    columns: Mapping[str, np.ndarray], buckets: int, measure: Callable[[np.ndarray], Mapping[str, float]]
) -> dict[str, list[dict[str, Any]]]:
    """``{column: [{"slice": label, "count": rows, **measure(rows)}, ...]}`` for each slice column;
    ``measure`` takes a boolean mask of the rows and returns the model's metrics on them."""
    return {
        name: [{"slice": label, "count": int(rows.sum()), **measure(rows)}
               for label, rows in slices_of(values, buckets)]
        for name, values in columns.items()
    }


def slices_table(slices: Mapping[str, Sequence[Mapping[str, Any]]], metrics_file: str) -> str:
    """A table of the sliced metrics, one row per slice; past PRINTED_SLICES, a line saying where they are."""
    count = sum(len(rows) for rows in slices.values())
    if count > PRINTED_SLICES:
        return f"sliced metrics: {count} slices of {', '.join(slices)} in {metrics_file} and the report"
    names = list(dict.fromkeys(k for rows in slices.values() for row in rows for k in row if k != "slice"))
    rows = [[column, row["slice"], *(row.get(k) for k in names)] for column, rows in slices.items() for row in rows]
    return tabulate(rows, headers=["sliced by", "slice", *names], floatfmt=".3f")
